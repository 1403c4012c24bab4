package fec

import (
	"testing"
	"time"
)

// BenchmarkEncode measures the FEC encode cost per data packet: k=8, m=2,
// 1000-byte payloads, parity computed every 8 packets.
func BenchmarkEncode(b *testing.B) {
	enc, err := NewEncoder(Config{K: 8, M: 2})
	if err != nil {
		b.Fatal(err)
	}
	p := payload(1, 1000)
	now := t0
	b.SetBytes(int64(len(p)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := enc.Add(p, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeWithLoss measures the decode cost per received packet:
// k=8, m=2, 1000-byte payloads, one data packet of every group lost and
// rebuilt from parity.
func BenchmarkDecodeWithLoss(b *testing.B) {
	cfg := Config{K: 8, M: 2}
	enc, err := NewEncoder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	const groups = 256
	var pkts []Packet
	for i := range groups * 8 {
		ps, err := enc.Add(payload(i, 1000), t0)
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range ps {
			if p.Kind == KindData && int(p.Index) == int(p.Group%8) {
				continue // lost
			}
			pkts = append(pkts, p)
		}
	}
	dec, err := NewDecoder(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(1000)
	b.ReportAllocs()
	now := t0
	i := 0
	for b.Loop() {
		p := pkts[i%len(pkts)]
		// Each pass over the packets is a new stream of group ids, so the
		// decoder never treats them as late duplicates.
		p.Group += uint32(i / len(pkts) * groups)
		i++
		if i%len(pkts) == 0 {
			now = now.Add(time.Second)
			dec.Expire(now)
		}
		dec.Receive(p, now)
	}
	b.StopTimer()
	if dec.Stats().Recovered == 0 && i > len(pkts) {
		b.Fatal("nothing recovered")
	}
}
