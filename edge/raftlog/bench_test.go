package raftlog

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkStoreLogs: groups storing one 4 KiB entry each, concurrently
// (a leader's batch per group), fsync on. Reports fsyncs per stored
// entry: with group commit it falls as the number of groups grows.
func BenchmarkStoreLogs(b *testing.B) {
	for _, groups := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("groups=%d", groups), func(b *testing.B) {
			s := open(b, b.TempDir())
			defer s.Close()
			gs := make([]*Group, groups)
			for i := range gs {
				gs[i] = group(b, s, uint32(i))
			}
			data := make([]byte, 4096)
			per := max(b.N/groups, 1)
			b.SetBytes(int64(len(data)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for _, g := range gs {
				wg.Go(func() {
					for i := 1; i <= per; i++ {
						if err := g.StoreLogs([]*raft.Log{{Index: uint64(i), Term: 1, Data: data}}); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(st.WALSyncs)/float64(st.Entries), "fsyncs/entry")
		})
	}
}
