package fec

import (
	"bytes"
	"errors"
	"testing"
)

func TestPacketRoundTrip(t *testing.T) {
	for _, p := range []Packet{
		{Kind: KindData, Group: 7, Index: 3, K: 8, M: 2, Payload: []byte("hello")},
		{Kind: KindData, Group: 0xffffffff, Index: 0, K: 1, M: 0},
		{Kind: KindParity, Group: 1, Index: 9, K: 8, M: 2, Payload: make([]byte, 1002)},
		{Kind: KindFeedback, Group: 42, LossPPM: 50_000, BurstX100: 300},
	} {
		b, err := MarshalPacket(p, Limits{})
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		q, err := ParsePacket(b, Limits{})
		if err != nil {
			t.Fatalf("%+v: %v", p, err)
		}
		b2, _ := MarshalPacket(q, Limits{})
		if !bytes.Equal(b, b2) || q.Kind != p.Kind || q.Group != p.Group || q.Index != p.Index ||
			q.K != p.K || q.M != p.M || !bytes.Equal(q.Payload, p.Payload) || q.LossPPM != p.LossPPM || q.BurstX100 != p.BurstX100 {
			t.Fatalf("round trip: %+v -> %+v", p, q)
		}
	}
}

func TestParsePacketErrors(t *testing.T) {
	good, _ := MarshalPacket(Packet{Kind: KindData, Group: 1, Index: 1, K: 8, M: 2, Payload: []byte("abc")}, Limits{})
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	for name, tc := range map[string]struct {
		b    []byte
		want error
	}{
		"short":                {good[:5], ErrTruncated},
		"truncated":            {good[:len(good)-1], ErrTruncated},
		"trailing":             {append(bytes.Clone(good), 0), ErrTrailing},
		"version":              {mod(func(b []byte) []byte { b[0] = 2; return b }), ErrBadVersion},
		"kind":                 {mod(func(b []byte) []byte { b[1] = 9; return b }), ErrBadKind},
		"index":                {mod(func(b []byte) []byte { b[6] = 8; return b }), ErrBadGroup},
		"k zero":               {mod(func(b []byte) []byte { b[7] = 0; return b }), ErrBadGroup},
		"k+m":                  {mod(func(b []byte) []byte { b[7], b[8] = 200, 100; return b }), ErrBadGroup},
		"parity at data index": {mod(func(b []byte) []byte { b[1] = byte(KindParity); return b }), ErrBadGroup},
		"too large":            {append(good[:9:9], append([]byte{0x04, 0xb0}, make([]byte, 1200)...)...), ErrTooLarge},
	} {
		_, err := ParsePacket(tc.b, Limits{})
		if !errors.Is(err, tc.want) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want %v wrapping ErrMalformed", name, err, tc.want)
		}
	}
	// A data payload must leave room for its parity shard's prefix.
	if _, err := MarshalPacket(Packet{Kind: KindData, K: 1, M: 1, Payload: make([]byte, 1200-HeaderSize-1)}, Limits{}); !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized data payload: %v", err)
	}
}
