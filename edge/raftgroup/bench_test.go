package raftgroup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/edge/store"
)

// BenchmarkFSMApply: the cost of applying one message on a replica: an
// entry of 64 requests (200-byte bodies, 64 conversations of the group)
// decoded, sequenced, deduplicated and written to the store without fsync
// (the Raft log is the durable copy). One op is one message.
func BenchmarkFSMApply(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	f, err := newFSM(0, st, 1<<16, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), func(err error) { b.Fatal(err) })
	if err != nil {
		b.Fatal(err)
	}
	const per = 64
	body := make([]byte, 200)
	reqs := make([]ordering.Request, per)
	b.ReportAllocs()
	b.ResetTimer()
	msgs := 0
	for i := 0; msgs < b.N; i++ {
		for j := range reqs {
			reqs[j] = ordering.Request{Conv: fmt.Sprintf("conv-%d", j), Sender: "u", ClientMsgID: fmt.Sprintf("m-%d-%d", i, j), Body: body, ServerTimeMs: 1}
		}
		res := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: encodeBatch(nil, reqs)})
		if a, ok := res.(applied); !ok || len(a.results) != per {
			b.Fatalf("apply: %#v", res)
		}
		msgs += per
	}
}

// BenchmarkAppendOverMux: commit latency of the replicated path alone (no
// sessions, no WebSocket): three nodes in this process on loopback TCP
// (raftmux, fsync on), 64 groups, writers that each keep one write in
// flight to their own conversation, entering at every node in turn (two
// thirds forwarded to the leader). One op is one acked write; the
// reported p50/p99 are its latency.
func BenchmarkAppendOverMux(b *testing.B) {
	for _, writers := range []int{16, 256} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			nodes := startMuxClusterWith(b, 3, 64, func(_ int, n *muxNode) { n.raft = Tuned() })
			waitAllLeaders(b, nodes, 64, 30*time.Second, "start")
			var (
				next atomic.Int64
				mu   sync.Mutex
				lat  []time.Duration
			)
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					var mine []time.Duration
					for i := 0; next.Add(1) <= int64(b.N); i++ {
						t0 := time.Now()
						ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
						_, err := nodes[(w+i)%3].node.Append(ctx, req(fmt.Sprintf("conv-%d", w), fmt.Sprintf("u%d", w), i))
						cancel()
						if err != nil {
							b.Error(err)
							return
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					lat = append(lat, mine...)
					mu.Unlock()
				})
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
				b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "acked/s")
			}
		})
	}
}

// leadersOf maps each group with a leader on one of nodes to its id.
func leadersOf(nodes []*muxNode) map[uint32]string {
	out := map[uint32]string{}
	for _, n := range nodes {
		for _, st := range n.node.Status() {
			if st.State == "Leader" {
				out[st.Group] = n.node.o.NodeID
			}
		}
	}
	return out
}

// busiestLeader returns the index of the node (of n, ids nodeID(i))
// leading the most groups in leaders, and how many it leads.
func busiestLeader(leaders map[uint32]string, n int) (idx, led int) {
	count := map[string]int{}
	for _, id := range leaders {
		count[id]++
	}
	for i := range n {
		if count[nodeID(i)] > count[nodeID(idx)] {
			idx = i
		}
	}
	return idx, count[nodeID(idx)]
}

// waitLogsEqual waits until, in every group, every node's replica has
// the same last index, committed.
func waitLogsEqual(tb testing.TB, nodes []*muxNode, limit time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		equal := true
		first := nodes[0].node.Status()
		for _, n := range nodes[1:] {
			for g, st := range n.node.Status() {
				if st.LastIndex != first[g].LastIndex || st.Commit != st.LastIndex || first[g].Commit != st.LastIndex {
					equal = false
				}
			}
		}
		if equal {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("replicas' logs still differ after %v", limit)
		}
		time.Sleep(10 * time.Millisecond) // polling: raft has no replication event to await
	}
}

// waitAllLeaders waits up to limit until each of groups has a leader on
// one of nodes and returns them (leadersOf); why names the moment in the
// failure.
func waitAllLeaders(tb testing.TB, nodes []*muxNode, groups int, limit time.Duration, why string) map[uint32]string {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		if l := leadersOf(nodes); len(l) == groups {
			return l
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s: %d of %d groups have a leader after %v", why, len(leadersOf(nodes)), groups, limit)
		}
		time.Sleep(10 * time.Millisecond) // polling: raft has no election event to await
	}
}
