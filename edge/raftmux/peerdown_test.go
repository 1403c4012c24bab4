package raftmux

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestPeerDown: when a peer that connected to this node goes away (its
// connection ends and its port is closed), OnPeerDown names it; a
// connection that ends while the peer still listens does not.
func TestPeerDown(t *testing.T) {
	down := make(chan raft.ServerAddress, 4)
	a, err := Listen("127.0.0.1:0", Options{Timeout: time.Second, Secret: testSecret, OnPeerDown: func(addr raft.ServerAddress) { down <- addr }})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b := listen(t)
	stop := make(chan struct{})
	defer close(stop)
	serveGroup(a.Transport(1), stop, func(rpc raft.RPC) (any, error) {
		return &raft.RequestVoteResponse{Granted: true}, nil
	})
	vote := func() {
		var resp raft.RequestVoteResponse
		if err := b.Transport(1).RequestVote("a", a.Addr(), &raft.RequestVoteRequest{RPCHeader: raft.RPCHeader{Addr: []byte(b.Addr())}}, &resp); err != nil {
			t.Fatal(err)
		}
	}
	vote() // b connects to a
	// The connection breaks while b still listens: not down.
	p, _ := b.peerFor(a.Addr())
	p.mu.Lock()
	c := p.conn
	p.mu.Unlock()
	p.broken(c, errBadFrame)
	vote() // b reconnects
	select {
	case addr := <-down:
		t.Fatalf("%s reported down while it listens", addr)
	case <-time.After(2 * (peerChecks*peerCheckGap + peerCheckTimeout)):
	}
	// b closes: connection and listener.
	b.Close()
	select {
	case addr := <-down:
		if addr != b.Addr() {
			t.Fatalf("down: %s, want %s", addr, b.Addr())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a closed peer was not reported down")
	}
}
