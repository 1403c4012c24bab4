package store

import (
	"testing"
)

func BenchmarkRead(b *testing.B) {
	s := openTest(b, b.TempDir(), Options{})
	for from := uint64(1); from <= 1000; from += 100 {
		mustCommit(b, s, seqMsgs("a", from, 100))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		msgs, err := s.Read("a", uint64(i%900), 100)
		if err != nil || len(msgs) != 100 {
			b.Fatalf("%d msgs, %v", len(msgs), err)
		}
	}
	b.ReportMetric(float64(b.N*100)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkCommitSync(b *testing.B) {
	s := openTest(b, b.TempDir(), Options{})
	seq := uint64(1)
	for b.Loop() {
		mustCommit(b, s, seqMsgs("a", seq, 1))
		seq++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
}
