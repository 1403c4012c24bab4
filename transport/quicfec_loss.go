package transport

import "math"

// lossEstimator is a quic-fec sender's estimate of its path's loss rate,
// from the packets the peer reports received of those sent (or QUIC's own
// counters inside QUIC). It feeds the FEC encoder's adaptive parity and
// the choice of bare datagrams on a clean path.
//
// Why counts and not a smoothed rate per sample: chat is sparse (a
// connection sends ten-odd packets a second), and the earlier estimator
// (an average of per-sample rates, each sample at least 40 packets, a
// fifth of the way down per sample) needed about 14 samples, a minute of
// chat, to bring its 5% start down to bare datagrams: on a clean link
// quic-fec sent every frame two or three times for the whole of a 30 s
// benchmark (overhead 2.4x against quic-stream's 1.45x). Evidence is
// packets, not samples: the estimator keeps packet counts that fade with
// the packets that follow (each count halves every halfLife packets
// sent), and the rate is lost/sent over them. Two such windows run side
// by side, a short one (fecLossFastHalfLife) and a long one
// (fecLossSlowHalfLife), and the estimate is the larger: a loss burst on
// a clean path raises parity within one report, while going back down to
// bare datagrams needs a long loss-free run (about 90 packets from the
// start, where P(no loss in 90 packets) is 1% at 5% loss and 40% at 1%).
//
// The start (the prior) is initial loss over fecLossPriorPackets pseudo
// packets in both windows: weak evidence, so that a clean path is known
// for clean after seconds, not minutes.
type lossEstimator struct {
	fast, slow lossWindow
}

// lossWindow holds fading counts of packets lost and sent.
type lossWindow struct {
	lost, sent, halfLife float64
}

const (
	// fecLossFastHalfLife and fecLossSlowHalfLife are the estimator's two
	// windows, in packets (see lossEstimator).
	fecLossFastHalfLife = 32
	fecLossSlowHalfLife = 256
	// fecLossPriorPackets is the weight of the initial loss rate, in
	// packets.
	fecLossPriorPackets = 4
)

// newLossEstimator starts an estimate at initial (0..1; negative is 0).
func newLossEstimator(initial float64) lossEstimator {
	p := min(max(initial, 0), 1)
	return lossEstimator{
		fast: lossWindow{lost: p * fecLossPriorPackets, sent: fecLossPriorPackets, halfLife: fecLossFastHalfLife},
		slow: lossWindow{lost: p * fecLossPriorPackets, sent: fecLossPriorPackets, halfLife: fecLossSlowHalfLife},
	}
}

// observe adds a sample: lost of sent packets.
func (e *lossEstimator) observe(lost, sent uint64) {
	if sent == 0 {
		return
	}
	l, s := float64(min(lost, sent)), float64(sent)
	e.fast.add(l, s)
	e.slow.add(l, s)
}

// add fades the counts by the packets of the sample, then adds it.
func (w *lossWindow) add(lost, sent float64) {
	fade := math.Exp2(-sent / w.halfLife)
	w.lost = w.lost*fade + lost
	w.sent = w.sent*fade + sent
}

// rate returns the estimated loss rate (0..1).
func (e *lossEstimator) rate() float64 { return max(e.fast.rate(), e.slow.rate()) }

func (w *lossWindow) rate() float64 {
	if w.sent <= 0 {
		return 0
	}
	return min(w.lost/w.sent, 1)
}
