package raftmux

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testSecret is the region secret of the tests' Muxes: the tests run with
// authenticated connections, as a region of several nodes does.
var testSecret = []byte("raftmux-test-secret-0123456789abcdef")

// listen starts a Mux with testSecret.
func listen(t *testing.T) *Mux {
	t.Helper()
	m, err := Listen("127.0.0.1:0", Options{Timeout: 2 * time.Second, Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// serveGroup answers every RPC of tr with fn until stop closes.
func serveGroup(tr *Transport, stop <-chan struct{}, fn func(raft.RPC) (any, error)) {
	go func() {
		for {
			select {
			case rpc := <-tr.Consumer():
				resp, err := fn(rpc)
				rpc.Respond(resp, err)
			case <-stop:
				return
			}
		}
	}()
}

// TestRPCsReachTheirGroup: requests of two groups over the one connection
// reach their own group's consumer and get their own answers; an error
// travels back; an unknown group is refused.
func TestRPCsReachTheirGroup(t *testing.T) {
	a, b := listen(t), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	for _, g := range []uint32{1, 2} {
		serveGroup(b.Transport(g), stop, func(rpc raft.RPC) (any, error) {
			switch r := rpc.Command.(type) {
			case *raft.AppendEntriesRequest:
				if len(r.Entries) == 1 && string(r.Entries[0].Data) == "boom" {
					return nil, io.ErrUnexpectedEOF
				}
				return &raft.AppendEntriesResponse{Term: r.Term + uint64(g)*100, Success: true, LastLog: uint64(len(r.Entries))}, nil
			case *raft.RequestVoteRequest:
				return &raft.RequestVoteResponse{Term: r.Term, Granted: g == 2}, nil
			}
			return nil, io.EOF
		})
	}
	for _, g := range []uint32{1, 2} {
		var resp raft.AppendEntriesResponse
		err := a.Transport(g).AppendEntries("b", b.Addr(), &raft.AppendEntriesRequest{Term: 7, Entries: []*raft.Log{{Index: 1, Data: []byte("x")}}}, &resp)
		if err != nil || resp.Term != 7+uint64(g)*100 || !resp.Success || resp.LastLog != 1 {
			t.Fatalf("group %d: %+v %v", g, resp, err)
		}
		var vote raft.RequestVoteResponse
		if err := a.Transport(g).RequestVote("b", b.Addr(), &raft.RequestVoteRequest{Term: 3}, &vote); err != nil || vote.Granted != (g == 2) {
			t.Fatalf("group %d vote: %+v %v", g, vote, err)
		}
	}
	var resp raft.AppendEntriesResponse
	err := a.Transport(1).AppendEntries("b", b.Addr(), &raft.AppendEntriesRequest{Term: 1, Entries: []*raft.Log{{Data: []byte("boom")}}}, &resp)
	if err == nil || !strings.Contains(err.Error(), io.ErrUnexpectedEOF.Error()) {
		t.Fatalf("error answer: %v", err)
	}
	if err := a.Transport(9).AppendEntries("b", b.Addr(), &raft.AppendEntriesRequest{Term: 1}, &resp); err == nil || !strings.Contains(err.Error(), "unknown group") {
		t.Fatalf("unknown group: %v", err)
	}
	a.mu.Lock()
	peers := len(a.peers)
	a.mu.Unlock()
	b.mu.Lock()
	inbound := len(b.inbound)
	b.mu.Unlock()
	if peers != 1 || inbound != 1 {
		t.Fatalf("%d peers, %d inbound connections: want one connection for all groups", peers, inbound)
	}
}

// TestSlowGroupDoesNotBlockOthers: a group whose Raft loop does not take
// RPCs does not hold up another group on the same connection.
func TestSlowGroupDoesNotBlockOthers(t *testing.T) {
	a, b := listen(t), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	b.Transport(1) // registered, never served
	serveGroup(b.Transport(2), stop, func(rpc raft.RPC) (any, error) { return &raft.RequestVoteResponse{Granted: true}, nil })
	var wg sync.WaitGroup
	wg.Go(func() {
		var r raft.RequestVoteResponse
		_ = a.Transport(1).RequestVote("b", b.Addr(), &raft.RequestVoteRequest{Term: 1}, &r) // times out
	})
	for range 20 {
		var r raft.RequestVoteResponse
		if err := a.Transport(2).RequestVote("b", b.Addr(), &raft.RequestVoteRequest{Term: 1}, &r); err != nil || !r.Granted {
			t.Fatalf("group 2 behind a stuck group 1: %v", err)
		}
	}
	a.Close()
	b.Close()
	wg.Wait()
}

// TestReconnectAfterDrop: when the connection breaks, calls in flight
// fail and the next call dials again.
func TestReconnectAfterDrop(t *testing.T) {
	a, b := listen(t), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	serveGroup(b.Transport(0), stop, func(rpc raft.RPC) (any, error) {
		return &raft.TimeoutNowResponse{RPCHeader: raft.RPCHeader{ID: []byte("b")}}, nil
	})
	var r raft.TimeoutNowResponse
	if err := a.Transport(0).TimeoutNow("b", b.Addr(), &raft.TimeoutNowRequest{}, &r); err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	for c := range b.inbound {
		c.Close()
	}
	b.mu.Unlock()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := a.Transport(0).TimeoutNow("b", b.Addr(), &raft.TimeoutNowRequest{}, &r)
		if err == nil && string(r.ID) == "b" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect: %v", err)
		}
	}
}

// TestInstallSnapshotCarriesData: the snapshot's bytes arrive with its
// arguments.
func TestInstallSnapshotCarriesData(t *testing.T) {
	a, b := listen(t), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	got := make(chan []byte, 1)
	serveGroup(b.Transport(4), stop, func(rpc raft.RPC) (any, error) {
		data, err := io.ReadAll(rpc.Reader)
		got <- data
		return &raft.InstallSnapshotResponse{Success: err == nil}, err
	})
	data := bytes.Repeat([]byte("snapshot "), 10000)
	var resp raft.InstallSnapshotResponse
	if err := a.Transport(4).InstallSnapshot("b", b.Addr(), &raft.InstallSnapshotRequest{Term: 2, Size: int64(len(data))}, &resp, bytes.NewReader(data)); err != nil || !resp.Success {
		t.Fatalf("%+v %v", resp, err)
	}
	if !bytes.Equal(<-got, data) {
		t.Fatal("snapshot bytes changed on the way")
	}
}

// TestRefusesWithoutPreamble: a connection that does not start with the
// preamble is closed without an answer.
func TestRefusesWithoutPreamble(t *testing.T) {
	b := listen(t)
	c, err := net.Dial("tcp", string(b.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(appendFrame([]byte("GET / HTTP/1.1\r\n"), kindRequestVote, 0, 1, nil))
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Fatalf("read %d bytes, %v: want the connection closed", n, err)
	}
}

// FuzzFrame: frame decoding and request handling never panic on any
// input.
func FuzzFrame(f *testing.F) {
	body, _ := encode(&raft.AppendEntriesRequest{Term: 1})
	f.Add(appendFrame(nil, kindAppendEntries, 0, 1, body))
	f.Add(appendFrame(nil, kindInstallSnapshot, 0, 2, []byte{0x81, 0xa4}))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0x0f})
	m := &Mux{o: Options{Timeout: time.Millisecond}, groups: map[uint32]*Transport{}, quit: make(chan struct{})}
	tr := &Transport{m: m, consumer: make(chan raft.RPC), closed: make(chan struct{})}
	m.groups[0] = tr
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := readFrame(bufio.NewReader(bytes.NewReader(b)), 1<<20)
		if err != nil {
			return
		}
		if ans := m.handle(fr); len(ans) == 0 {
			t.Fatal("empty answer")
		}
	})
}
