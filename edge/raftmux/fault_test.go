package raftmux

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestIsolation: an isolated node neither gets its requests through nor
// answers its peers' (both time out, connections stay up), and the same
// calls succeed again once it is healed.
func TestIsolation(t *testing.T) {
	mk := func() *Mux {
		m, err := Listen("127.0.0.1:0", Options{Timeout: 300 * time.Millisecond, Secret: testSecret})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	}
	a, b := mk(), mk()
	stop := make(chan struct{})
	defer close(stop)
	for _, m := range []*Mux{a, b} {
		serveGroup(m.Transport(1), stop, func(rpc raft.RPC) (any, error) {
			r := rpc.Command.(*raft.RequestVoteRequest)
			return &raft.RequestVoteResponse{Term: r.Term, Granted: true}, nil
		})
	}
	vote := func(from, to *Mux) error {
		var resp raft.RequestVoteResponse
		return from.Transport(1).RequestVote("x", to.Addr(), &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{Addr: []byte(from.Addr())}, Term: 3}, &resp)
	}
	if err := vote(a, b); err != nil {
		t.Fatalf("before the partition: %v", err)
	}
	a.SetIsolated(true)
	if !a.Isolated() {
		t.Fatal("Isolated() is false after SetIsolated(true)")
	}
	if err := vote(a, b); err == nil {
		t.Fatal("an isolated node's request got an answer")
	}
	if err := vote(b, a); err == nil {
		t.Fatal("an isolated node answered a peer")
	}
	a.SetIsolated(false)
	if err := vote(a, b); err != nil {
		t.Fatalf("healed, a to b: %v", err)
	}
	if err := vote(b, a); err != nil {
		t.Fatalf("healed, b to a: %v", err)
	}
}
