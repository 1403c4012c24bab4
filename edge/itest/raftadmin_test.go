package itest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/bench/raftadmin"
)

// raftGroupsOf reads a node's GET /v1/raft/groups (hash: with state
// hashes) within timeout; ok is false when the node does not answer
// (stopped, killed).
func raftGroupsOf(addr string, hash bool, timeout time.Duration) (st raftadmin.Status, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	st, err := raftadmin.Groups(ctx, "http://"+addr, apiKey, hash)
	return st, err == nil
}

// isolate cuts a node's Raft traffic off its peers or heals it (the edge
// runs with --raft-fault-injection).
func isolate(t *testing.T, addr string, on bool) {
	t.Helper()
	if err := raftadmin.Isolate(context.Background(), "http://"+addr, apiKey, on); err != nil {
		t.Fatal(err)
	}
}

// leaderWatch polls every node's groups and records, per group, the
// longest time during which no answering node claimed to lead it.
type leaderWatch struct {
	mu        sync.Mutex
	since     map[uint32]time.Time // start of the current leaderless span
	longest   map[uint32]time.Duration
	stop      chan struct{}
	done      chan struct{}
	addrs     func() []string
	groups    int
	pollEvery time.Duration
}

func watchLeaders(groups int, addrs func() []string) *leaderWatch {
	w := &leaderWatch{since: map[uint32]time.Time{}, longest: map[uint32]time.Duration{}, stop: make(chan struct{}),
		done: make(chan struct{}), addrs: addrs, groups: groups, pollEvery: 100 * time.Millisecond}
	go w.run()
	return w
}

func (w *leaderWatch) run() {
	defer close(w.done)
	tick := time.NewTicker(w.pollEvery)
	defer tick.Stop()
	for {
		led := map[uint32]bool{}
		for _, a := range w.addrs() {
			if st, ok := raftGroupsOf(a, false, 300*time.Millisecond); ok {
				for _, g := range st.Groups {
					if g.State == "Leader" {
						led[g.Group] = true
					}
				}
			}
		}
		now := time.Now()
		w.mu.Lock()
		for g := range uint32(w.groups) {
			s, open := w.since[g]
			switch {
			case led[g] && open:
				w.longest[g] = max(w.longest[g], now.Sub(s))
				delete(w.since, g)
			case !led[g] && !open:
				w.since[g] = now
			}
		}
		w.mu.Unlock()
		select {
		case <-w.stop:
			return
		case <-tick.C:
		}
	}
}

// finish stops the watch and returns the longest leaderless span of any
// group, counting spans still open as lasting until now.
func (w *leaderWatch) finish() (time.Duration, uint32) {
	close(w.stop)
	<-w.done
	var worst time.Duration
	var which uint32
	for g := range uint32(w.groups) {
		d := w.longest[g]
		if s, open := w.since[g]; open {
			d = max(d, time.Since(s))
		}
		if d > worst {
			worst, which = d, g
		}
	}
	return worst, which
}

// checkReplicasEqual waits (30 s at most) until every node answers with
// the same applied index and state hash for every group, each group led
// by one node that every node names (raftadmin.Diff).
func checkReplicasEqual(t *testing.T, addrs []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var all []raftadmin.Status
		diff := ""
		for _, a := range addrs {
			st, ok := raftGroupsOf(a, true, 5*time.Second)
			if !ok {
				diff = a + " does not answer"
				break
			}
			all = append(all, st)
		}
		if diff == "" {
			diff = raftadmin.Diff(all)
		}
		if diff == "" {
			t.Logf("replicas equal: %d groups, same leader, applied index and state hash on %d nodes", len(all[0].Groups), len(addrs))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas differ after 30 s: %s", diff)
		}
		time.Sleep(100 * time.Millisecond) // polling: replicas apply in the background
	}
}
