package gossip

import (
	"errors"
	"strings"
	"testing"
)

func sampleMeta() Meta {
	return Meta{
		NodeID:          "edge-eu-1a-07",
		Region:          "eu-west",
		Zone:            "eu-west-1a",
		WSAddr:          "wss://edge07.example.net:443/v1/ws",
		QUICAddr:        "edge07.example.net:4433",
		NodeAddr:        "10.0.3.7:7000",
		RaftAddr:        "10.0.3.7:7001",
		Connections:     48213,
		Capacity:        100000,
		Health:          87,
		Draining:        true,
		ProtocolVersion: 3,
	}
}

func TestMetaRoundTrip(t *testing.T) {
	for _, m := range []Meta{{}, sampleMeta(), {Health: MaxHealth, Connections: 1<<32 - 1, ProtocolVersion: 1<<16 - 1}} {
		b, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("marshal %+v: %v", m, err)
		}
		var got Meta
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("unmarshal %+v: %v", m, err)
		}
		if got != m {
			t.Fatalf("round trip: got %+v, want %+v", got, m)
		}
	}
	b, _ := sampleMeta().MarshalBinary()
	t.Logf("sample meta encodes to %d bytes (limit %d)", len(b), MaxMetaSize)
}

func TestMetaTrailingFieldsIgnored(t *testing.T) {
	m := sampleMeta()
	b, _ := m.MarshalBinary()
	b = append(b, 0x05, 'n', 'e', 'w', '!', '!')
	var got Meta
	if err := got.UnmarshalBinary(b); err != nil {
		t.Fatalf("unmarshal with appended field: %v", err)
	}
	if got != m {
		t.Fatalf("got %+v, want %+v", got, m)
	}
}

func TestMetaLimits(t *testing.T) {
	m := sampleMeta()
	m.WSAddr = "wss://" + strings.Repeat("x", MaxMetaSize)
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrMetaTooLarge) {
		t.Fatalf("oversized meta: err %v, want ErrMetaTooLarge", err)
	}
	m = sampleMeta()
	m.Health = MaxHealth + 1
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("health 101: err %v, want ErrInvalidMeta", err)
	}
	m = sampleMeta()
	m.Region = "\xff\xfe"
	if _, err := m.MarshalBinary(); !errors.Is(err, ErrInvalidMeta) {
		t.Fatalf("invalid UTF-8: err %v, want ErrInvalidMeta", err)
	}
	good, _ := sampleMeta().MarshalBinary()
	bad := map[string][]byte{
		"empty":      nil,
		"short":      {metaFormat, 0},
		"format":     append([]byte{2}, good[1:]...),
		"health":     append([]byte{metaFormat, 0, 200}, good[3:]...),
		"truncated":  good[:len(good)-3],
		"huge len":   {metaFormat, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"over limit": make([]byte, MaxMetaSize+1),
	}
	for name, b := range bad {
		var got Meta
		if err := got.UnmarshalBinary(b); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, got)
		}
	}
}

func FuzzMeta(f *testing.F) {
	for _, m := range []Meta{{}, sampleMeta()} {
		b, _ := m.MarshalBinary()
		f.Add(b)
	}
	f.Add([]byte{metaFormat, 1, 100, 0xff, 0xff, 0x03})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Meta
		if err := m.UnmarshalBinary(b); err != nil {
			return
		}
		// Whatever decodes re-encodes, and the encoding decodes to the same.
		enc, err := m.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %+v does not re-encode: %v", m, err)
		}
		var again Meta
		if err := again.UnmarshalBinary(enc); err != nil {
			t.Fatalf("re-encoded meta does not decode: %v", err)
		}
		if again != m {
			t.Fatalf("round trip: %+v != %+v", again, m)
		}
	})
}
