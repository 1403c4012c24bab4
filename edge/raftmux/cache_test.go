package raftmux

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// appendCounter serves group g of m, counting the AppendEntries and
// heartbeats that reach it (that crossed the wire); refuse makes it
// answer Success false.
type appendCounter struct {
	appends, heartbeats atomic.Int64
	refuse              atomic.Bool
}

func (c *appendCounter) serve(tr *Transport, stop <-chan struct{}) {
	serveGroup(tr, stop, func(rpc raft.RPC) (any, error) {
		switch r := rpc.Command.(type) {
		case *raft.AppendEntriesRequest:
			if isHeartbeat(r) {
				c.heartbeats.Add(1)
			} else {
				c.appends.Add(1)
			}
			return &raft.AppendEntriesResponse{RPCHeader: raft.RPCHeader{ID: []byte("b")}, Term: r.Term, LastLog: r.PrevLogEntry + uint64(len(r.Entries)), Success: !c.refuse.Load()}, nil
		case *raft.RequestVoteRequest:
			return &raft.RequestVoteResponse{Term: r.Term}, nil
		}
		return nil, errors.New("unexpected")
	})
}

func emptyAppend(term, prev, commit uint64) *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ID: []byte("a"), Addr: []byte("a:1")}, Term: term,
		PrevLogEntry: prev, PrevLogTerm: term, LeaderCommitIndex: commit}
}

func heartbeat(term uint64) *raft.AppendEntriesRequest {
	return &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ID: []byte("a"), Addr: []byte("a:1")}, Term: term}
}

func listenTTL(t *testing.T, ttl time.Duration) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", Options{Timeout: 2 * time.Second, EmptyAppendTTL: ttl, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestEmptyAppendCache: a repeated empty AppendEntries is answered
// locally; a changed commit index, previous entry or term, entries, a
// refusal, an expired answer or a lost connection send it over the wire;
// heartbeats always cross, and keep a cached answer fresh.
func TestEmptyAppendCache(t *testing.T) {
	const ttl = 300 * time.Millisecond
	a, b := listenTTL(t, ttl), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	var c appendCounter
	c.serve(b.Transport(1), stop)
	tr := a.Transport(1)
	wire := int64(0)
	send := func(what string, req *raft.AppendEntriesRequest, crosses bool) {
		t.Helper()
		var resp raft.AppendEntriesResponse
		if err := tr.AppendEntries("b", b.Addr(), req, &resp); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if resp.Term != req.Term || string(resp.ID) != "b" || resp.Success == c.refuse.Load() {
			t.Fatalf("%s: answer %+v", what, resp)
		}
		if crosses {
			wire++
		}
		if got := c.appends.Load(); got != wire {
			t.Fatalf("%s: %d AppendEntries reached the follower, want %d", what, got, wire)
		}
	}
	send("first", emptyAppend(2, 5, 5), true)
	send("repeat", emptyAppend(2, 5, 5), false)
	send("repeat again", emptyAppend(2, 5, 5), false)
	if n := a.cachedAppends.Load(); n != 2 {
		t.Fatalf("%d answered from the cache, want 2", n)
	}
	send("new commit index", emptyAppend(2, 5, 6), true)
	send("repeat", emptyAppend(2, 5, 6), false)
	send("new term", emptyAppend(3, 5, 6), true)
	send("new previous entry", emptyAppend(3, 6, 6), true)
	with := emptyAppend(3, 6, 6)
	with.Entries = []*raft.Log{{Index: 7, Term: 3, Data: []byte("x")}}
	send("entries", with, true)
	send("after entries", emptyAppend(3, 6, 6), true) // the cache was dropped
	send("repeat", emptyAppend(3, 6, 6), false)

	hb := c.heartbeats.Load()
	for range 3 {
		var resp raft.AppendEntriesResponse
		if err := tr.AppendEntries("b", b.Addr(), heartbeat(3), &resp); err != nil || !resp.Success {
			t.Fatalf("heartbeat: %+v %v", resp, err)
		}
	}
	if got := c.heartbeats.Load() - hb; got != 3 {
		t.Fatalf("%d of 3 heartbeats crossed the wire", got)
	}

	// Heartbeats keep the answer fresh past the TTL of the last
	// AppendEntries that crossed.
	for range 4 {
		time.Sleep(ttl / 3)
		var resp raft.AppendEntriesResponse
		if err := tr.AppendEntries("b", b.Addr(), heartbeat(3), &resp); err != nil {
			t.Fatal(err)
		}
	}
	send("fresh by heartbeats", emptyAppend(3, 6, 6), false)
	time.Sleep(ttl + 50*time.Millisecond)
	send("expired", emptyAppend(3, 6, 6), true)

	c.refuse.Store(true)
	send("refused", emptyAppend(3, 6, 7), true)
	send("refused again", emptyAppend(3, 6, 7), true)
	c.refuse.Store(false)
	send("accepted", emptyAppend(3, 6, 7), true)
	send("repeat", emptyAppend(3, 6, 7), false)

	// An inbound vote request for the group (another node campaigns)
	// drops the group's cached answers.
	var vr raft.RequestVoteResponse
	serveGroup(tr, stop, func(rpc raft.RPC) (any, error) { return &raft.RequestVoteResponse{}, nil })
	if err := b.Transport(1).RequestVote("a", a.Addr(), &raft.RequestVoteRequest{Term: 4}, &vr); err != nil {
		t.Fatal(err)
	}
	send("after a vote request", emptyAppend(3, 6, 7), true)
	send("repeat", emptyAppend(3, 6, 7), false)

	// A lost connection drops every cached answer.
	b.mu.Lock()
	for conn := range b.inbound {
		conn.Close()
	}
	b.mu.Unlock()
	p, _ := a.peerFor(b.Addr())
	for deadline := time.Now().Add(5 * time.Second); ; {
		p.mu.Lock()
		gone := p.conn == nil
		p.mu.Unlock()
		if gone {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the broken connection was not noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	send("after reconnecting", emptyAppend(3, 6, 7), true)
	send("repeat", emptyAppend(3, 6, 7), false)
}

// TestEmptyAppendCacheOff: with a negative TTL every AppendEntries
// crosses the wire.
func TestEmptyAppendCacheOff(t *testing.T) {
	a, b := listenTTL(t, -1), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	var c appendCounter
	c.serve(b.Transport(1), stop)
	for i := range 3 {
		var resp raft.AppendEntriesResponse
		if err := a.Transport(1).AppendEntries("b", b.Addr(), emptyAppend(2, 5, 5), &resp); err != nil || !resp.Success {
			t.Fatalf("%d: %+v %v", i, resp, err)
		}
	}
	if n := c.appends.Load(); n != 3 {
		t.Fatalf("%d of 3 crossed the wire", n)
	}
}
