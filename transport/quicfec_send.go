package transport

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/fec"
)

// errTerminated: the connection ended while a writer waited.
var errTerminated = errors.New("transport: quic-fec connection ended")

// outFrame is a frame sent but not yet acknowledged by the receiver.
type outFrame struct {
	data      []byte
	id        fec.ID // its data packet, when sent as a datagram
	sent      time.Time
	onStream  bool // the stream delivers it: no timeout retransmission
	datagrams bool // id is valid (sent with FEC)
	nacked    bool // counted in sender.nacked
}

// retx is a frame to send again on the stream.
type retx struct {
	seq  uint64
	data []byte
}

// sender is the sending half of a quic-fec connection: the FEC encoder,
// sequence numbers, and the frames kept for retransmission until the peer
// acknowledges them.
type sender struct {
	mu           sync.Mutex
	enc          *fec.Encoder
	lim          fec.Limits
	nextSeq      uint64
	unacked      map[uint64]*outFrame
	byID         map[fec.ID]uint64
	peerRecv     uint64        // every seq below it arrived
	peerConsumed uint64        // every seq below it was read
	peerSeen     uint64        // one past the highest seq that arrived
	changed      chan struct{} // closed (and replaced) when acks arrive
	est          lossEstimator // the path's loss (quicfec_loss.go)

	retransmitted atomic.Uint64
	lostOut       atomic.Uint64 // packets the path lost, as measured (Stats.LostOut)
	timeouts      atomic.Uint64 // of retransmitted: sent after rto, not NACKed
	// dataPackets counts frames sent as FEC data packets; nacked counts
	// those of them the peer NACKed (FEC could not rebuild them), each
	// once. shared gets the same counts (FECCounters.DataPackets and
	// NackedData).
	dataPackets, nacked atomic.Uint64
	shared              *FECCounters
}

func (s *sender) init(enc *fec.Encoder, lim fec.Limits, initialLoss float64, shared *FECCounters) {
	s.enc, s.lim, s.shared = enc, lim, shared
	// A connection starts as if the path lost initialLoss: clients come
	// to quic-fec because their link is lossy, and the first seconds must
	// not go unprotected while the loss reports fill. The start weighs
	// little (see lossEstimator): on a clean path the estimate reaches
	// bare datagrams after about 90 packets without loss.
	s.est = newLossEstimator(initialLoss)
	enc.SetLossRate(s.est.rate())
	s.unacked = make(map[uint64]*outFrame)
	s.byID = make(map[fec.ID]uint64)
	s.changed = make(chan struct{})
}

// wake tells every waiter to look again.
func (s *sender) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wakeLocked()
}

func (s *sender) wakeLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// awaitWindow blocks while window frames are unread by the peer.
func (s *sender) awaitWindow(ctx context.Context, deadline time.Time, window uint64, term, closed <-chan struct{}) error {
	var t *time.Timer
	for {
		s.mu.Lock()
		open := s.nextSeq-s.peerConsumed < window
		changed := s.changed
		s.mu.Unlock()
		if open {
			return nil
		}
		if t == nil {
			t = time.NewTimer(time.Until(deadline))
			defer t.Stop()
		}
		select {
		case <-changed:
		case <-closed:
			return errClosed
		case <-term:
			return errTerminated
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			return os.ErrDeadlineExceeded
		}
	}
}

// add assigns frame the next seq and, when it fits, encodes it: datagrams
// holds its data packet and any parity that became due, marshalled. With
// viaStream the caller sends the frame on the stream instead.
func (s *sender) add(frame []byte, now time.Time, maxPayload int) (seq uint64, data []byte, datagrams [][]byte, viaStream bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq = s.nextSeq
	s.nextSeq++
	of := &outFrame{data: append([]byte(nil), frame...), sent: now}
	s.unacked[seq] = of
	payload := appendDatagramPayload(make([]byte, 0, uvarintLen(seq)+len(frame)), seq, frame)
	if len(payload) > maxPayload {
		of.onStream = true
		return seq, of.data, nil, true
	}
	if s.est.rate() < fecBareBelow {
		// A clean path: no parity; a rare loss is NACKed by seq.
		b := make([]byte, 0, 1+len(payload))
		b = append(append(b, bareTag), payload...)
		return seq, of.data, [][]byte{b}, false
	}
	pkts, err := s.enc.Add(payload, now)
	if err != nil {
		of.onStream = true
		return seq, of.data, nil, true
	}
	of.id, of.datagrams = fec.ID{Group: pkts[0].Group, Index: pkts[0].Index}, true
	s.byID[of.id] = seq
	s.dataPackets.Add(1)
	s.shared.DataPackets.Add(1)
	return seq, of.data, s.marshal(pkts), false
}

// marshal encodes packets (the encoder owns their payloads). Caller holds mu.
func (s *sender) marshal(pkts []Packet) [][]byte {
	out := make([][]byte, 0, len(pkts))
	for _, p := range pkts {
		b, err := fec.MarshalPacket(p, s.lim)
		if err != nil {
			continue // cannot happen for the encoder's own packets
		}
		out = append(out, b)
	}
	return out
}

// Packet is fec.Packet, named here for brevity.
type Packet = fec.Packet

// flush returns the parity of groups whose flush deadline passed.
func (s *sender) flush(now time.Time) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.enc.Deadline(); d.IsZero() || now.Before(d) {
		return nil
	}
	return s.marshal(s.enc.Flush(now))
}

// onAck applies the peer's positions. It rejects positions beyond what
// was sent.
func (s *sender) onAck(recv, consumed, seen uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seen > s.nextSeq {
		return fmt.Errorf("%w: acknowledgement of frame %d, only %d sent", errBadControl, recv, s.nextSeq)
	}
	for seq := s.peerRecv; seq < recv; seq++ {
		if of, ok := s.unacked[seq]; ok {
			if of.datagrams {
				delete(s.byID, of.id)
			}
			delete(s.unacked, seq)
		}
	}
	s.peerRecv = max(s.peerRecv, recv)
	s.peerConsumed = max(s.peerConsumed, consumed)
	s.peerSeen = max(s.peerSeen, seen)
	s.wakeLocked()
	return nil
}

// onNack returns the frames of the data packets the peer could not
// recover; ids of frames already acknowledged (or never sent: the decoder
// may name indexes of a group flushed early) are ignored.
func (s *sender) onNack(ids []fec.ID, now time.Time) []retx {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []retx
	for _, id := range ids {
		seq, ok := s.byID[id]
		if !ok {
			continue
		}
		delete(s.byID, id)
		of := s.unacked[seq]
		s.countNacked(of)
		if of != nil && !of.onStream {
			of.onStream, of.sent = true, now
			out = append(out, retx{seq, of.data})
		}
	}
	s.retransmitted.Add(uint64(len(out)))
	return out
}

// onNackSeq returns the frames the peer reports missing by seq; frames
// already acknowledged or already on the stream are ignored.
func (s *sender) onNackSeq(seqs []uint64, now time.Time) []retx {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []retx
	for _, seq := range seqs {
		of := s.unacked[seq]
		s.countNacked(of)
		if of != nil && !of.onStream {
			of.onStream, of.sent = true, now
			out = append(out, retx{seq, of.data})
		}
	}
	s.retransmitted.Add(uint64(len(out)))
	return out
}

// countNacked counts of, a frame the peer NACKed (nil: already
// acknowledged), once if it went as an FEC data packet: FEC could not
// rebuild it. NACKs naming packets never sent (see fec.Decoder.Expire)
// find no frame and count nothing. Caller holds mu.
func (s *sender) countNacked(of *outFrame) {
	if of == nil || !of.datagrams || of.nacked {
		return
	}
	of.nacked = true
	s.nacked.Add(1)
	s.shared.NackedData.Add(1)
}

// due returns datagram frames unacknowledged for rto: they go on the
// stream, which delivers them. This is for the tail (frames after the
// highest one the peer saw: a lost last group is reported by nothing
// else); frames before it are NACKed by the peer's decoder, so they get
// 4*rto (at least fecMinBackstop) as a backstop only, which keeps frames
// that wait behind a gap from being sent twice.
func (s *sender) due(now time.Time, rto time.Duration) []retx {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []retx
	backstop := max(4*rto, fecMinBackstop)
	for seq, of := range s.unacked {
		wait := rto
		if seq < s.peerSeen {
			wait = backstop
		}
		if !of.onStream && now.Sub(of.sent) >= wait {
			of.onStream = true
			out = append(out, retx{seq, of.data})
		}
	}
	s.retransmitted.Add(uint64(len(out)))
	s.timeouts.Add(uint64(len(out)))
	return out
}

// dueScan bounds the frames dueAt looks at: past it (many frames already
// on the stream) it answers "soon" and the timer loop polls.
const dueScan = 256

// dueAt returns when due would next return a frame, given rto: the first
// frame not yet on the stream at or above the peer's receive position
// waits the backstop, the first one at or above its highest seen waits
// rto (frames are added in seq order, so the first one is the oldest).
// The zero time: nothing outstanding.
func (s *sender) dueAt(now time.Time, rto time.Duration) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.unacked) == 0 {
		return time.Time{}
	}
	seen := max(s.peerSeen, s.peerRecv)
	// first returns the deadline of the first frame in [from, to) not on
	// the stream.
	first := func(from, to uint64, wait time.Duration) time.Time {
		for seq, n := from, 0; seq < to; seq, n = seq+1, n+1 {
			if n == dueScan {
				return now.Add(4 * fecTick)
			}
			if of, ok := s.unacked[seq]; ok && !of.onStream {
				return of.sent.Add(wait)
			}
		}
		return time.Time{}
	}
	at := first(s.peerRecv, seen, max(4*rto, fecMinBackstop))
	if t := first(seen, s.nextSeq, rto); !t.IsZero() && (at.IsZero() || t.Before(at)) {
		at = t
	}
	return at
}

// observeLoss adapts parity to the loss measured on this path: lost of
// sent packets since the previous call (see lossEstimator: a loss raises
// parity at once, a clean run lowers it by the packets it counts).
func (s *sender) observeLoss(lost, sent uint64) {
	if sent == 0 {
		return
	}
	s.lostOut.Add(min(lost, sent))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.est.observe(lost, sent)
	s.enc.SetLossRate(s.est.rate())
}

// flushAt returns when the next group must be flushed (zero: none open).
func (s *sender) flushAt() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.Deadline()
}

// outstanding reports whether frames wait for the peer's acknowledgement.
func (s *sender) outstanding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.unacked) > 0
}

// awaitAllAcked waits until every frame sent was acknowledged, the
// deadline passes or the connection ends.
func (s *sender) awaitAllAcked(deadline time.Time, term <-chan struct{}) {
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	for {
		s.mu.Lock()
		n := len(s.unacked)
		changed := s.changed
		s.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-changed:
		case <-term:
			return
		case <-t.C:
			return
		}
	}
}

// parity reports the parity count new groups get (for stats).
func (s *sender) parity() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.enc.M()
}

// setFlush sets the flush interval and parity spread of new groups.
func (s *sender) setFlush(d, spread time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.enc.SetFlushInterval(d)
	s.enc.SetParitySpread(spread)
}
