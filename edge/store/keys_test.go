package store

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"testing"
)

// trickyIDs contain the escape and terminator bytes in every position.
var trickyIDs = []string{
	"", "a", "ab", "a\x00", "\x00a", "a\x00\x01", "a\x00\x01b", "\x00\x01", "\x00\xff",
	"\x00\x00", "\xff", "\x01", "a\x00\xffb", "\x00\x01\x00\x01", "\xff\xff\x00",
}

func TestKeyRoundTrip(t *testing.T) {
	var keys []Key
	for _, a := range trickyIDs {
		keys = append(keys,
			Key{Kind: KindLog, Conv: a, Seq: 0},
			Key{Kind: KindLog, Conv: a, Seq: math.MaxUint64},
			Key{Kind: KindLog, Conv: a, Seq: 0x0001000100ff0000},
			Key{Kind: KindHead, Conv: a})
		for _, b := range trickyIDs {
			keys = append(keys,
				Key{Kind: KindDedup, Conv: a, Sender: b, ClientMsgID: "id"},
				Key{Kind: KindDedup, Conv: "c", Sender: a, ClientMsgID: b},
				Key{Kind: KindPosition, User: a, Device: b, Conv: "c"},
				Key{Kind: KindPosition, User: "u", Device: a, Conv: b})
		}
	}
	seen := make(map[string]Key, len(keys))
	for _, k := range keys {
		enc := k.Encode()
		if prev, dup := seen[string(enc)]; dup && prev != k {
			t.Fatalf("collision: %+v and %+v both encode to %x", prev, k, enc)
		}
		seen[string(enc)] = k
		got, err := DecodeKey(enc)
		if err != nil {
			t.Fatalf("DecodeKey(%x) of %+v: %v", enc, k, err)
		}
		if got != k {
			t.Fatalf("round trip: got %+v want %+v", got, k)
		}
	}
}

// TestKeyNoCollisionAcrossSplits checks the cases a naive separator would
// confuse: the same bytes split differently between components.
func TestKeyNoCollisionAcrossSplits(t *testing.T) {
	tests := []struct{ a, b Key }{
		{Key{Kind: KindDedup, Conv: "a\x00", Sender: "b", ClientMsgID: "c"}, Key{Kind: KindDedup, Conv: "a", Sender: "\x00b", ClientMsgID: "c"}},
		{Key{Kind: KindDedup, Conv: "a\x00\x01b", Sender: "", ClientMsgID: "c"}, Key{Kind: KindDedup, Conv: "a", Sender: "b", ClientMsgID: "\x00\x01c"}},
		{Key{Kind: KindDedup, Conv: "ab", Sender: "", ClientMsgID: ""}, Key{Kind: KindDedup, Conv: "a", Sender: "b", ClientMsgID: ""}},
		{Key{Kind: KindPosition, User: "u\x00\x01d", Device: "", Conv: "c"}, Key{Kind: KindPosition, User: "u", Device: "d", Conv: "c"}},
		{Key{Kind: KindPosition, User: "u", Device: "d\x00\x01c", Conv: ""}, Key{Kind: KindPosition, User: "u", Device: "d", Conv: "c"}},
		{Key{Kind: KindLog, Conv: "c\x00\x01", Seq: 1}, Key{Kind: KindLog, Conv: "c", Seq: 1}},
	}
	for _, tt := range tests {
		if bytes.Equal(tt.a.Encode(), tt.b.Encode()) {
			t.Errorf("%+v and %+v collide: %x", tt.a, tt.b, tt.a.Encode())
		}
	}
}

// TestLogKeyOrder checks that log keys of one conversation sort by seq and
// that a conversation's range never contains another conversation's keys.
func TestLogKeyOrder(t *testing.T) {
	seqs := []uint64{0, 1, 2, 255, 256, 1 << 32, math.MaxUint64 - 1, math.MaxUint64}
	for _, conv := range trickyIDs {
		for i := 1; i < len(seqs); i++ {
			if bytes.Compare(logKey(conv, seqs[i-1]), logKey(conv, seqs[i])) >= 0 {
				t.Fatalf("conv %q: key(%d) >= key(%d)", conv, seqs[i-1], seqs[i])
			}
		}
		lo, hi := logPrefix(conv), prefixEnd(logPrefix(conv))
		for _, other := range trickyIDs {
			for _, seq := range seqs {
				k := logKey(other, seq)
				in := bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0
				if in != (other == conv) {
					t.Fatalf("range of %q contains key of %q/%d: %v", conv, other, seq, in)
				}
			}
		}
	}
}

// TestComponentOrderPreserved checks that escaping keeps byte order.
func TestComponentOrderPreserved(t *testing.T) {
	ids := slices.Clone(trickyIDs)
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		a, b := headKey(ids[i-1]), headKey(ids[i])
		if bytes.Compare(a, b) >= 0 {
			t.Fatalf("%q < %q but keys %x >= %x", ids[i-1], ids[i], a, b)
		}
	}
}

func TestDecodeKeyRejects(t *testing.T) {
	tests := map[string][]byte{
		"empty":            nil,
		"unknown kind":     {0x09, 'a', 0, 1},
		"unknown meta":     {0x00, 'x'},
		"unterminated":     {byte(KindHead), 'a'},
		"dangling escape":  {byte(KindHead), 'a', 0},
		"bad escape":       {byte(KindHead), 'a', 0, 2},
		"trailing bytes":   {byte(KindHead), 'a', 0, 1, 'x'},
		"short seq":        {byte(KindLog), 'a', 0, 1, 1, 2, 3},
		"long seq":         {byte(KindLog), 'a', 0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9},
		"dedup 2 parts":    {byte(KindDedup), 'a', 0, 1, 'b', 0, 1},
		"position 2 parts": {byte(KindPosition), 'a', 0, 1, 'b', 0, 1},
	}
	for name, b := range tests {
		t.Run(name, func(t *testing.T) {
			if k, err := DecodeKey(b); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeKey(%x) = %+v, %v; want ErrCorrupt", b, k, err)
			}
		})
	}
	if k, err := DecodeKey(formatKey); err != nil || k.Kind != KindMeta {
		t.Fatalf("format key: %+v, %v", k, err)
	}
}

func TestGetUint64(t *testing.T) {
	if v, err := getUint64(putUint64(0xdeadbeef)); err != nil || v != 0xdeadbeef {
		t.Fatalf("got %x, %v", v, err)
	}
	if _, err := getUint64([]byte{1, 2}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("short value: %v", err)
	}
}
