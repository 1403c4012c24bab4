package ordering

import (
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkAppendParallel measures fsynced appends from many concurrent
// senders over a few conversations (group commit at work).
func BenchmarkAppendParallel(b *testing.B) {
	st := openStore(b, b.TempDir())
	l := newLocal(b, st, LocalOptions{})
	var n atomic.Uint64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := l.Append(b.Context(), req(fmt.Sprintf("c%d", i%8), "u", fmt.Sprint(i))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	s := l.Stats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	if s.Fsyncs > 0 {
		b.ReportMetric(float64(s.Messages)/float64(s.Fsyncs), "msgs/fsync")
	}
}

// BenchmarkRead measures reading 100-message pages through the orderer.
func BenchmarkRead(b *testing.B) {
	st := openStore(b, b.TempDir())
	l := newLocal(b, st, LocalOptions{})
	for i := range 1000 {
		if _, err := l.Append(b.Context(), req("a", "u", fmt.Sprint(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		msgs, err := l.Read(b.Context(), "a", uint64(i%900), 100)
		if err != nil || len(msgs) != 100 {
			b.Fatalf("%d msgs, %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}
