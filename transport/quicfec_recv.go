package transport

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/fec"
)

// receiver is the receiving half of a quic-fec connection: the FEC
// decoder, the reorder buffer that turns datagrams and stream frames back
// into one ordered sequence without repeats, and what the receiver owes
// the sender (acknowledgements, NACKs, loss feedback).
type receiver struct {
	mu         sync.Mutex
	dec        *fec.Decoder
	maxPayload int
	nextSeq    uint64            // the next seq to enter the queue
	held       map[uint64][]byte // arrived ahead of nextSeq
	queue      [][]byte          // in order, not yet read
	qhead      int
	consumed   uint64 // frames read by the application
	seen       uint64 // one past the highest seq that arrived

	// acked: the positions last acknowledged, on the stream or in a
	// datagram (see takeAck); lastAck: when. stream: the last ones on the
	// stream, which cannot be lost; lastStreamAck: when.
	acked, stream          ackPos
	lastAck, lastStreamAck time.Time
	lostSeen               uint64 // dec.Stats().Lost already counted

	gapSince  map[uint64]time.Time // missing seqs below seen: when first noticed
	notify    chan struct{}        // a frame entered the queue
	recovered atomic.Uint64
	dups      *atomic.Uint64 // FECCounters.Duplicates
}

func (r *receiver) init(dec *fec.Decoder, maxPayload int, dups *atomic.Uint64) {
	r.dec, r.maxPayload, r.dups = dec, maxPayload, dups
	r.held = make(map[uint64][]byte)
	r.gapSince = make(map[uint64]time.Time)
	r.notify = make(chan struct{}, 1)
}

func (r *receiver) wake() {
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// accept takes frame seq (owned by the receiver from now on). A frame
// more than window ahead of the next expected one breaks the sender's
// flow control: an error.
func (r *receiver) accept(seq uint64, frame []byte, window uint64) (dup bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acceptLocked(seq, frame, window)
}

func (r *receiver) acceptLocked(seq uint64, frame []byte, window uint64) (dup bool, err error) {
	if seq < r.nextSeq {
		r.dups.Add(1)
		return true, nil
	}
	if _, ok := r.held[seq]; ok {
		r.dups.Add(1)
		return true, nil
	}
	if seq-r.consumed >= window {
		return false, fmt.Errorf("%w: frame %d beyond the flow control window (%d read)", errBadControl, seq, r.consumed)
	}
	r.held[seq] = frame
	r.seen = max(r.seen, seq+1)
	moved := false
	for {
		f, ok := r.held[r.nextSeq]
		if !ok {
			break
		}
		delete(r.held, r.nextSeq)
		r.queue = append(r.queue, f)
		r.nextSeq++
		moved = true
	}
	if moved {
		r.wake()
	}
	return false, nil
}

// datagram decodes one datagram: data goes through the decoder into the
// reorder buffer (FEC feedback packets are ignored: the sender measures
// loss from QUIC's own acknowledgements). Malformed
// datagrams are dropped (QUIC authenticates datagrams, so they can only
// come from a broken peer) and reported.
func (r *receiver) datagram(b []byte, now time.Time, lim fec.Limits, window uint64) (recovered uint64, err error) {
	if len(b) > 0 && b[0] == bareTag {
		seq, frame, err := parseDatagramPayload(b[1:])
		if err != nil {
			return 0, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		_, err = r.acceptLocked(seq, append([]byte(nil), frame...), window)
		return 0, err
	}
	p, err := fec.ParsePacket(b, lim)
	if err != nil {
		return 0, err
	}
	if p.Kind == fec.KindFeedback {
		return 0, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, d := range r.dec.Receive(p, now) {
		seq, frame, perr := parseDatagramPayload(d.Payload)
		if perr != nil {
			err = perr
			continue
		}
		if d.Recovered {
			r.recovered.Add(1)
			recovered++
		}
		if _, aerr := r.acceptLocked(seq, frame, window); aerr != nil {
			err = aerr
		}
	}
	return recovered, err
}

// next returns the next frame in order. kick asks the timer loop to look
// again: the application read a quarter of the window since the last
// acknowledgement (ack early, to open the peer's window), or this read is
// the first change since that acknowledgement (an ack is now owed, and a
// sleeping timer loop does not know).
func (r *receiver) next(window uint64) (frame []byte, kick, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.qhead == len(r.queue) {
		return nil, false, false
	}
	frame = r.queue[r.qhead]
	r.queue[r.qhead] = nil
	r.qhead++
	if r.qhead == len(r.queue) {
		r.queue, r.qhead = r.queue[:0], 0
	}
	owed := r.owesAck()
	r.consumed++
	return frame, !owed || r.consumed-r.acked.consumed >= window/4, true
}

// pending reports whether frames wait in the queue.
func (r *receiver) pending() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.qhead < len(r.queue)
}

// duties is what the receiver owes the sender at a timer tick.
type duties struct {
	nack    []fec.ID
	nackSeq []uint64
	ack     bool // send ackPos on the stream
	ackPos
	lost uint64 // packets newly counted lost by the decoder
}

// ackPos is what an acknowledgement says: every seq below recv arrived,
// every seq below consumed was read by the application (the flow control
// window), and seen is one past the highest seq that arrived.
type ackPos struct{ recv, consumed, seen uint64 }

// positions returns the receiver's current positions. Caller holds mu.
func (r *receiver) positions() ackPos {
	return ackPos{r.nextSeq, r.consumed, max(r.seen, r.nextSeq)}
}

// timers runs the decoder's expiry and decides what to send now.
func (r *receiver) timers(now time.Time, window uint64) duties {
	r.mu.Lock()
	defer r.mu.Unlock()
	var d duties
	d.nack = r.dec.Expire(now)
	d.nackSeq = r.gaps(now)
	if lost := r.dec.Stats().Lost; lost > r.lostSeen {
		d.lost, r.lostSeen = lost-r.lostSeen, lost
	}
	quiet := now.Sub(r.lastAck) >= fecAckEvery
	owes := r.owesAck() && (quiet || r.consumed-r.acked.consumed >= window/4)
	// Positions acknowledged only in datagrams, which may have been lost,
	// go on the stream too once the connection is quiet (no datagram
	// carried a newer ack for fecAckEvery), at most every
	// fecStreamAckEvery.
	backstop := r.streamOwes() && quiet && now.Sub(r.lastStreamAck) >= fecStreamAckEvery
	if owes || backstop {
		d.ack, d.ackPos = true, r.positions()
		r.acked, r.lastAck = d.ackPos, now
		r.stream, r.lastStreamAck = d.ackPos, now
	}
	return d
}

// takeAck offers fits the positions to acknowledge in a datagram about
// to go out, if they moved since the last acknowledgement, and reports
// whether they were taken; fits says whether the section fits the
// datagram (if not, nothing is recorded and the stream acknowledges as
// usual). Taken positions count as acknowledged: a datagram may be lost, so the stream repeats them when
// the connection goes quiet (timers).
func (r *receiver) takeAck(now time.Time, fits func(ackPos) bool) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.positions()
	if p == r.acked || !fits(p) {
		return false
	}
	r.acked, r.lastAck = p, now
	return true
}

// streamOwes reports whether the stream has not carried the positions
// last acknowledged. Caller holds mu.
func (r *receiver) streamOwes() bool { return r.acked != r.stream }

// owesAck reports whether the positions moved since the last
// acknowledgement. Caller holds mu.
func (r *receiver) owesAck() bool { return r.positions() != r.acked }

// deadline returns when timers next has work: the decoder's next group
// expiry, the next gap due for a NACK, or the next acknowledgement owed.
// The zero time: nothing (the timer loop sleeps until a packet or a read
// kicks it).
func (r *receiver) deadline() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	at := r.dec.Deadline()
	if len(r.gapSince) > 0 {
		wait := r.dec.MaxWait() + fecGapSlack
		for _, since := range r.gapSince {
			if !since.IsZero() {
				at = earliest(at, since.Add(wait))
			}
		}
	}
	switch {
	case r.owesAck():
		at = earliest(at, r.lastAck.Add(fecAckEvery))
	case r.streamOwes():
		at = earliest(at, laterOf(r.lastAck.Add(fecAckEvery), r.lastStreamAck.Add(fecStreamAckEvery)))
	}
	return at
}

// laterOf returns the later of a and b.
func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// setGroupTimeout sets the decoder's group timeout and the parity spread
// it expects from the peer.
func (r *receiver) setGroupTimeout(d, spread time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dec.SetGroupTimeout(d)
	r.dec.SetParitySpread(spread)
}

// maxWait returns the longest the decoder keeps a group open (its group
// timeout plus the parity spread of the largest group).
func (r *receiver) maxWait() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dec.MaxWait()
}

// gaps returns the seqs missing (below the highest seen, neither queued
// nor held) for longer than the decoder's longest wait plus fecGapSlack, each
// once: bare datagrams have no FEC group to report them, and this also
// catches anything else that went missing. Caller holds mu.
func (r *receiver) gaps(now time.Time) []uint64 {
	for seq := range r.gapSince {
		if seq < r.nextSeq {
			delete(r.gapSince, seq)
		}
	}
	if len(r.held) == 0 {
		return nil
	}
	var out []uint64
	wait := r.dec.MaxWait() + fecGapSlack
	for seq := r.nextSeq; seq < r.seen; seq++ {
		if _, ok := r.held[seq]; ok {
			delete(r.gapSince, seq) // arrived (rebuilt or resent) after all
			continue
		}
		since, ok := r.gapSince[seq]
		switch {
		case !ok:
			r.gapSince[seq] = now
		case !since.IsZero() && now.Sub(since) >= wait:
			out = append(out, seq)
			r.gapSince[seq] = time.Time{} // reported: the sender resends on the stream
		}
	}
	return out
}

// finalAck returns the positions for the last ack before FIN.
func (r *receiver) finalAck() duties {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := duties{ack: true, ackPos: r.positions()}
	r.acked, r.stream, r.lastAck = d.ackPos, d.ackPos, time.Now()
	return d
}
