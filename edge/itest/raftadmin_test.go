package itest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// raftGroupState is one group as GET /v1/raft/groups shows it.
type raftGroupState struct {
	Group     uint32 `json:"group"`
	State     string `json:"state"`
	Leader    string `json:"leader"`
	Applied   uint64 `json:"applied"`
	StateHash string `json:"state_hash"`
}

// raftGroupsOf reads a node's GET /v1/raft/groups (hash: with state
// hashes) within timeout; ok is false when the node does not answer
// (stopped, killed).
func raftGroupsOf(addr string, hash bool, timeout time.Duration) (node string, groups []raftGroupState, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/v1/raft/groups?hash=%v", addr, hash), nil)
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", nil, false
	}
	defer resp.Body.Close()
	var out struct {
		Node   string           `json:"node"`
		Groups []raftGroupState `json:"groups"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return "", nil, false
	}
	return out.Node, out.Groups, true
}

// isolate cuts a node's Raft traffic off its peers or heals it (the edge
// runs with --raft-fault-injection).
func isolate(t *testing.T, addr string, on bool) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+addr+"/v1/raft/isolate", bytes.NewReader(fmt.Appendf(nil, `{"isolated":%v}`, on)))
	req.Header.Set("X-API-Key", apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/raft/isolate on %s: status %d", addr, resp.StatusCode)
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
			if _, gs, ok := raftGroupsOf(a, false, 300*time.Millisecond); ok {
				for _, g := range gs {
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
// by one node that every node names.
func checkReplicasEqual(t *testing.T, addrs []string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		diff := ""
		var first []raftGroupState
		var firstNode string
		for i, a := range addrs {
			node, gs, ok := raftGroupsOf(a, true, 5*time.Second)
			if !ok {
				diff = a + " does not answer"
				break
			}
			if i == 0 {
				first, firstNode = gs, node
				continue
			}
			for j, g := range gs {
				f := first[j]
				if g.StateHash != f.StateHash || g.Applied != f.Applied || g.Leader != f.Leader || g.Leader == "" {
					diff = fmt.Sprintf("group %d: %s has %+v, %s has %+v", g.Group, firstNode, f, node, g)
				}
			}
		}
		if diff == "" {
			t.Logf("replicas equal: %d groups, same leader, applied index and state hash on %d nodes", len(first), len(addrs))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas differ after 30 s: %s", diff)
		}
		time.Sleep(100 * time.Millisecond) // polling: replicas apply in the background
	}
}
