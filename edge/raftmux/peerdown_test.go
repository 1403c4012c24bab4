package raftmux

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestPreamble: both preamble versions are read, with the dialer's
// address from version 2; anything else is refused.
func TestPreamble(t *testing.T) {
	v2 := append(binary.AppendUvarint([]byte(preamble), 9), "1.2.3.4:5"...)
	for _, c := range []struct {
		in   []byte
		addr raft.ServerAddress
		ok   bool
	}{
		{[]byte(preambleV1), "", true},
		{v2, "1.2.3.4:5", true},
		{[]byte("EGRAFT9\n"), "", false},
		{append([]byte(preamble), 0xff, 0xff, 0x03), "", false}, // address too long
		{v2[:len(v2)-2], "", false},                             // cut short
	} {
		addr, err := readPreamble(bufio.NewReader(bytes.NewReader(c.in)))
		if (err == nil) != c.ok || addr != c.addr {
			t.Errorf("readPreamble(%q) = %q, %v", c.in, addr, err)
		}
	}
}

// TestPeerDown: when a peer that connected to this node goes away (its
// connection ends and its port is closed), OnPeerDown names it; a
// connection that ends while the peer still listens does not.
func TestPeerDown(t *testing.T) {
	down := make(chan raft.ServerAddress, 4)
	a, err := Listen("127.0.0.1:0", Options{Timeout: time.Second, OnPeerDown: func(addr raft.ServerAddress) { down <- addr }})
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

// FuzzPreamble: readPreamble never panics, and an address it returns is
// within bounds and was in the input.
func FuzzPreamble(f *testing.F) {
	f.Add([]byte(preambleV1))
	f.Add(append(binary.AppendUvarint([]byte(preamble), 9), "1.2.3.4:5"...))
	f.Add([]byte(preamble + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Fuzz(func(t *testing.T, b []byte) {
		addr, err := readPreamble(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			return
		}
		if len(addr) > maxPeerAddr || !bytes.Contains(b, []byte(addr)) {
			t.Fatalf("address %q from %q", addr, b)
		}
	})
}
