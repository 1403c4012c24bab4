package raftmux

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestAppendWaitsForPeerBack: an AppendEntries to a follower whose port
// refuses connections keeps trying instead of failing at once, so a
// follower that comes back within downRetry gets it (raft then counts no
// failure and does not back off); one that stays down fails the call
// once, after downRetry, and the calls meanwhile dial it at most once
// per refusedFor.
func TestAppendWaitsForPeerBack(t *testing.T) {
	a := listenTTL(t, -1)
	// An address nothing listens on, for the follower to come back at.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	tr := a.Transport(7)
	done := make(chan error, 1)
	var resp raft.AppendEntriesResponse
	go func() { done <- tr.AppendEntries("b", raft.ServerAddress(addr), emptyAppend(3, 10, 10), &resp) }()

	// Wait until the call has met the refused port (the peer remembers
	// the failed dial), then bring the follower up on that address.
	p, _ := a.peerFor(raft.ServerAddress(addr))
	deadline := time.Now().Add(5 * time.Second)
	for {
		p.mu.Lock()
		refused := !p.refusedUntil.IsZero()
		p.mu.Unlock()
		if refused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the call never dialed")
		}
		time.Sleep(time.Millisecond) // polling: no event for a failed dial
	}
	select {
	case err := <-done:
		t.Fatalf("the call gave up at the first refused dial: %v", err)
	default:
	}
	b, err := Listen(addr, Options{Timeout: 2 * time.Second, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var c appendCounter
	stop := make(chan struct{})
	defer close(stop)
	go c.serve(b.Transport(7), stop)
	if err := <-done; err != nil || !resp.Success {
		t.Fatalf("after the follower came back: err %v, success %v", err, resp.Success)
	}
	if c.appends.Load() != 1 {
		t.Fatalf("the follower got %d AppendEntries, want 1", c.appends.Load())
	}

	// A peer that stays down: the call fails after about downRetry.
	dead := raft.ServerAddress(addr + "0") // a port no one has (5 or 6 digits)
	if err := tr.AppendEntries("c", dead, emptyAppend(3, 10, 10), &resp); err == nil {
		t.Fatal("an AppendEntries to a dead peer succeeded")
	}
}
