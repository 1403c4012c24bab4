package fec

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// realPackets returns marshalled packets from a real encoder and decoder:
// full and partial groups, and feedback.
func realPackets(t testing.TB) [][]byte {
	enc, err := NewEncoder(Config{K: 4, M: 2, Interleave: 2})
	if err != nil {
		t.Fatal(err)
	}
	var pkts []Packet
	for i := range 11 {
		ps, err := enc.Add(payload(i, i*7), t0)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, ps...)
	}
	pkts = append(pkts, enc.Flush(t0.Add(time.Hour))...)
	pkts = append(pkts, Packet{Kind: KindFeedback, Group: 3, LossPPM: 12345, BurstX100: 150})
	var out [][]byte
	for _, p := range pkts {
		b, err := MarshalPacket(p, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func FuzzParsePacket(f *testing.F) {
	for _, b := range realPackets(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b, Limits{})
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b2, err := MarshalPacket(p, Limits{})
		if err != nil {
			t.Fatalf("accepted packet does not marshal: %v", err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("round trip:\n%x\n%x", b, b2)
		}
	})
}

// FuzzDecoder feeds arbitrary packet sequences to a decoder: the input is
// a series of [length byte][datagram] records, and a zero length advances
// the clock and expires groups. The decoder must not panic, and must never
// deliver an id twice or report a delivered id lost.
func FuzzDecoder(f *testing.F) {
	var seed []byte
	for i, b := range realPackets(f) {
		if i%5 == 3 {
			continue // lose some
		}
		seed = append(seed, byte(len(b)))
		seed = append(seed, b...)
	}
	f.Add(append(seed, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		dec, err := NewDecoder(Config{K: 4, M: 2, MaxGroups: 4, Interleave: 2})
		if err != nil {
			t.Fatal(err)
		}
		now := t0
		delivered := map[ID]bool{}
		lost := map[ID]bool{}
		expire := func() {
			for _, id := range dec.Expire(now) {
				if delivered[id] || lost[id] {
					t.Fatalf("%v reported lost after delivery or twice", id)
				}
				lost[id] = true
			}
		}
		for len(in) > 0 {
			n := int(in[0])
			in = in[1:]
			if n == 0 {
				now = now.Add(time.Second)
				expire()
				continue
			}
			n = min(n, len(in))
			p, err := ParsePacket(in[:n], Limits{})
			in = in[n:]
			if err != nil {
				continue
			}
			for _, d := range dec.Receive(p, now) {
				if delivered[d.ID] || lost[d.ID] {
					t.Fatalf("%v delivered twice or after being reported lost", d.ID)
				}
				delivered[d.ID] = true
			}
			now = now.Add(time.Millisecond)
		}
		now = now.Add(time.Hour)
		expire()
		_ = dec.Feedback(now)
	})
}
