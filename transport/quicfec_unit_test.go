package transport

import (
	"bytes"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/fec"
)

// fecHalves is a sender and a receiver wired without QUIC, to drive the
// quic-fec logic packet by packet with a fake clock.
type fecHalves struct {
	t   *testing.T
	snd sender
	rcv receiver
	now time.Time
}

func newFECHalves(t *testing.T, initialLoss float64) *fecHalves {
	cfg := defaultFECConfig()
	enc, err := fec.NewEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := fec.NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := &fecHalves{t: t, now: time.Unix(1000, 0)}
	h.snd.init(enc, fec.Limits{MaxDatagram: cfg.MaxDatagram}, initialLoss, new(FECCounters))
	h.rcv.init(dec, cfg.MaxPayload(), new(atomic.Uint64))
	return h
}

func frameN(i int) []byte { return []byte(fmt.Sprintf("frame-%03d", i)) }

// send encodes frame i and returns its datagrams (data first), running
// the clock until the group's last (spread) parity packet is out.
func (h *fecHalves) send(i int) [][]byte {
	_, _, dgrams, viaStream := h.snd.add(frameN(i), h.now, h.rcv.maxPayload)
	if viaStream {
		h.t.Fatalf("frame %d went to the stream", i)
	}
	h.now = h.now.Add(20 * time.Millisecond)
	for at := h.snd.flushAt(); !at.IsZero(); at = h.snd.flushAt() {
		h.now = later(h.now, at)
		dgrams = append(dgrams, h.snd.flush(h.now)...)
	}
	return dgrams
}

// later returns the later of a and b.
func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func (h *fecHalves) deliver(b []byte) {
	if _, err := h.rcv.datagram(b, h.now, fec.Limits{MaxDatagram: DefaultFECMaxDatagram}, DefaultFECWindow); err != nil {
		h.t.Fatal(err)
	}
}

// read returns every frame the receiver has in order now.
func (h *fecHalves) read() []string {
	var out []string
	for {
		f, _, ok := h.rcv.next(DefaultFECWindow)
		if !ok {
			return out
		}
		out = append(out, string(f))
	}
}

func wantFrames(t *testing.T, got []string, from, to int) {
	t.Helper()
	if len(got) != to-from {
		t.Fatalf("got %d frames %v, want %d..%d", len(got), got, from, to-1)
	}
	for i, g := range got {
		if g != string(frameN(from+i)) {
			t.Fatalf("frame %d is %q, want %q", from+i, g, frameN(from+i))
		}
	}
}

// TestFECHalvesRecoverReorderDuplicate: a lost data packet comes back from
// parity, packets out of order and twice still give every frame once, in
// order.
func TestFECHalvesRecoverReorderDuplicate(t *testing.T) {
	h := newFECHalves(t, 0.05)
	var all [][][]byte
	for i := range 6 {
		all = append(all, h.send(i))
	}
	// frame 1: data lost, parity arrives; frames 2 and 3 swapped; frame 4
	// twice.
	order := [][]byte{all[0][0]}
	order = append(order, all[1][1:]...)
	order = append(order, all[3]...)
	order = append(order, all[2]...)
	order = append(order, all[4]...)
	order = append(order, all[4]...)
	order = append(order, all[5]...)
	for _, b := range order {
		h.deliver(b)
	}
	wantFrames(t, h.read(), 0, 6)
	if h.rcv.recovered.Load() != 1 {
		t.Fatalf("recovered %d, want 1", h.rcv.recovered.Load())
	}
}

// TestFECHalvesUnrecoverableIsRetransmitted: frame 2 and all its parity
// are lost; the frames after it wait; the receiver's decoder gives up
// after the group timeout and NACKs; the sender answers with frame 2,
// which releases everything in order.
func TestFECHalvesUnrecoverableIsRetransmitted(t *testing.T) {
	h := newFECHalves(t, 0.05)
	for i := range 5 {
		dgrams := h.send(i)
		if i == 2 {
			continue // lost with its parity
		}
		for _, b := range dgrams {
			h.deliver(b)
		}
	}
	wantFrames(t, h.read(), 0, 2)
	h.now = h.now.Add(200 * time.Millisecond)
	d := h.rcv.timers(h.now, DefaultFECWindow)
	var frames []retx
	frames = append(frames, h.snd.onNack(d.nack, h.now)...)
	frames = append(frames, h.snd.onNackSeq(d.nackSeq, h.now)...)
	if len(frames) != 1 || frames[0].seq != 2 || !bytes.Equal(frames[0].data, frameN(2)) {
		t.Fatalf("retransmitted %+v after NACK %v / %v, want frame 2 once", frames, d.nack, d.nackSeq)
	}
	// Frame 2 is the one data packet FEC could not rebuild, however many
	// ids the decoder named (its group was lost whole: all K indexes) and
	// whether the NACK came by id or by seq; a repeated NACK counts once.
	h.snd.onNackSeq([]uint64{2}, h.now)
	if n, sent := h.snd.nacked.Load(), h.snd.dataPackets.Load(); n != 1 || sent != 5 || h.snd.shared.NackedData.Load() != n || h.snd.shared.DataPackets.Load() != sent {
		t.Fatalf("%d of %d data packets counted NACKed (shared %d of %d), want 1 of 5", n, sent, h.snd.shared.NackedData.Load(), h.snd.shared.DataPackets.Load())
	}
	if dup, err := h.rcv.accept(frames[0].seq, frames[0].data, DefaultFECWindow); dup || err != nil {
		t.Fatalf("accept: dup %v err %v", dup, err)
	}
	wantFrames(t, h.read(), 2, 5)
	// The ack then frees the sender's copies.
	d = h.rcv.timers(h.now.Add(time.Second), DefaultFECWindow)
	if !d.ack || d.recv != 5 {
		t.Fatalf("ack %+v", d)
	}
	if err := h.snd.onAck(d.recv, d.consumed, d.seen); err != nil || len(h.snd.unacked) != 0 {
		t.Fatalf("after ack: %v, %d unacked", err, len(h.snd.unacked))
	}
}

// TestFECHalvesBareNackBySeq: on a clean path frames go bare; a lost one
// is NACKed by seq once the gap is older than the group timeout.
func TestFECHalvesBareNackBySeq(t *testing.T) {
	h := newFECHalves(t, -1)
	for i := range 4 {
		dgrams := h.send(i)
		if len(dgrams) != 1 || dgrams[0][0] != bareTag {
			t.Fatalf("frame %d: %d datagrams, tag %d; want one bare", i, len(dgrams), dgrams[0][0])
		}
		if i != 1 {
			h.deliver(dgrams[0])
		}
	}
	wantFrames(t, h.read(), 0, 1)
	if d := h.rcv.timers(h.now, DefaultFECWindow); len(d.nackSeq) != 0 {
		t.Fatalf("NACK %v before the gap is old", d.nackSeq)
	}
	h.now = h.now.Add(150 * time.Millisecond)
	d := h.rcv.timers(h.now, DefaultFECWindow)
	if len(d.nackSeq) != 1 || d.nackSeq[0] != 1 {
		t.Fatalf("NACK %v, want [1]", d.nackSeq)
	}
	if d := h.rcv.timers(h.now.Add(time.Second), DefaultFECWindow); len(d.nackSeq) != 0 {
		t.Fatalf("NACKed twice: %v", d.nackSeq)
	}
	frames := h.snd.onNackSeq([]uint64{1}, h.now)
	if len(frames) != 1 {
		t.Fatalf("retransmitted %d", len(frames))
	}
	if n, sent := h.snd.nacked.Load(), h.snd.dataPackets.Load(); n != 0 || sent != 0 {
		t.Fatalf("bare frames counted as FEC data packets: %d NACKed of %d", n, sent)
	}
	if _, err := h.rcv.accept(1, frames[0].data, DefaultFECWindow); err != nil {
		t.Fatal(err)
	}
	wantFrames(t, h.read(), 1, 4)
}
