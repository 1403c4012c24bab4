package fec

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// t0 is the virtual clock's origin; tests pass explicit times, never sleep.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// harness drives an encoder, a lossy network and a decoder on a virtual
// clock and checks that every payload is delivered at most once and intact.
type harness struct {
	t    testing.TB
	cfg  Config
	enc  *Encoder
	dec  *Decoder
	net  *lossyNet
	now  time.Time
	step time.Duration // virtual time between two payloads

	sent      map[ID][]byte
	order     []ID
	got       map[ID]int
	recovered int
	lost      []ID
	wire      int // bytes on the wire, headers included
	payload   int // payload bytes
	// ignoreUnsent drops reported ids that were never sent, as a sender
	// does: when every parity packet of a group flushed early is lost,
	// the decoder knows only the planned k (see Decoder.Expire).
	ignoreUnsent bool
}

func newHarness(t testing.TB, cfg Config, net *lossyNet) *harness {
	t.Helper()
	enc, err := NewEncoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		t: t, cfg: cfg.withDefaults(), enc: enc, dec: dec, net: net, now: t0,
		step: 100 * time.Microsecond,
		sent: map[ID][]byte{}, got: map[ID]int{},
	}
}

// payload returns a deterministic payload of n bytes for sequence number i.
func payload(i, n int) []byte {
	b := make([]byte, n)
	for j := range b {
		b[j] = byte(i*31 + j)
	}
	if n >= 4 {
		binary.BigEndian.PutUint32(b, uint32(i))
	}
	return b
}

func (h *harness) transmit(pkts []Packet) {
	for _, p := range pkts {
		h.wire += HeaderSize + len(p.Payload)
	}
	h.receive(h.net.send(pkts...))
}

func (h *harness) receive(pkts []Packet) {
	for _, p := range pkts {
		for _, d := range h.dec.Receive(p, h.now) {
			h.got[d.ID]++
			if h.got[d.ID] > 1 {
				h.t.Fatalf("%v delivered twice", d.ID)
			}
			if !bytes.Equal(d.Payload, h.sent[d.ID]) {
				h.t.Fatalf("%v: payload mismatch (recovered=%v)", d.ID, d.Recovered)
			}
			if d.Recovered {
				h.recovered++
			}
		}
	}
}

// add sends one payload, then runs the flush timer and the expiry.
func (h *harness) add(b []byte) {
	pkts, err := h.enc.Add(b, h.now)
	if err != nil {
		h.t.Fatal(err)
	}
	id := ID{pkts[0].Group, pkts[0].Index}
	if _, dup := h.sent[id]; dup {
		h.t.Fatalf("encoder reused id %v", id)
	}
	h.sent[id] = bytes.Clone(b)
	h.order = append(h.order, id)
	h.payload += len(b)
	h.transmit(pkts)
	h.tick(h.step)
}

// tick advances the clock, firing the flush timer and expiry.
func (h *harness) tick(d time.Duration) {
	h.now = h.now.Add(d)
	if dl := h.enc.Deadline(); !dl.IsZero() && !h.now.Before(dl) {
		h.transmit(h.enc.Flush(h.now))
	}
	h.expire()
}

// expire collects the ids the decoder reports lost.
func (h *harness) expire() {
	for _, id := range h.dec.Expire(h.now) {
		if _, sent := h.sent[id]; sent || !h.ignoreUnsent {
			h.lost = append(h.lost, id)
		}
	}
}

// finish flushes everything, delivers held packets and expires all groups.
func (h *harness) finish() {
	if dl := h.enc.Deadline(); !dl.IsZero() {
		h.now = dl
		h.transmit(h.enc.Flush(h.now))
	}
	h.receive(h.net.drain())
	h.now = h.now.Add(h.dec.MaxWait() + time.Second)
	h.expire()
}

// check verifies that the lost ids are exactly the undelivered ones.
func (h *harness) check() {
	h.t.Helper()
	lost := map[ID]bool{}
	for _, id := range h.lost {
		if lost[id] {
			h.t.Fatalf("%v reported lost twice", id)
		}
		if h.got[id] > 0 {
			h.t.Fatalf("%v reported lost but delivered", id)
		}
		if _, ok := h.sent[id]; !ok {
			h.t.Fatalf("%v reported lost but never sent", id)
		}
		lost[id] = true
	}
	for _, id := range h.order {
		if h.got[id] == 0 && !lost[id] {
			h.t.Fatalf("%v neither delivered nor reported lost", id)
		}
	}
}

// residual is the fraction of payloads neither delivered nor recovered.
func (h *harness) residual() float64 { return float64(len(h.lost)) / float64(len(h.order)) }
