package raftmux

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// gateConn is a net.Conn whose writes go to a buffer; while gate is held,
// a write waits for it.
type gateConn struct {
	net.Conn
	gate    sync.Mutex
	mu      sync.Mutex
	out     bytes.Buffer
	writes  int
	entered chan struct{}
}

func (c *gateConn) Write(b []byte) (int, error) {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	c.gate.Lock()
	defer c.gate.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.out.Write(b)
}

func (c *gateConn) SetWriteDeadline(time.Time) error { return nil }
func (c *gateConn) Close() error                     { return nil }

func (c *gateConn) frames(t *testing.T) []frame {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []frame
	r := bufio.NewReader(bytes.NewReader(c.out.Bytes()))
	for {
		f, err := readFrame(r, 1<<20)
		if err != nil {
			break
		}
		out = append(out, f)
	}
	return out
}

// TestFrameWriterBatches: frames sent while a write is under way go out
// together in the next write, whole and in order.
func TestFrameWriterBatches(t *testing.T) {
	c := &gateConn{entered: make(chan struct{}, 1)}
	w := newFrameWriter(c, &Options{Timeout: time.Second})
	c.gate.Lock()
	done := make(chan error, 1)
	go func() { done <- w.send(kindRequestVote, 0, 0, []byte("first")) }()
	<-c.entered // the first write is blocked in the connection
	const n = 100
	for i := range n {
		if err := w.send(kindAppendEntries, uint32(i), uint64(i+1), fmt.Appendf(nil, "frame %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	c.gate.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if c.writes != 2 {
		t.Fatalf("%d writes for %d frames, want 2", c.writes, n+1)
	}
	fs := c.frames(t)
	if len(fs) != n+1 || string(fs[0].body) != "first" {
		t.Fatalf("%d frames", len(fs))
	}
	for i, f := range fs[1:] {
		if f.kind != kindAppendEntries || f.group != uint32(i) || f.id != uint64(i+1) || string(f.body) != fmt.Sprintf("frame %d", i) {
			t.Fatalf("frame %d: %+v", i, f)
		}
	}
}

// TestFrameWriterLinger: lazy frames wait for the linger time, or go out
// with the next frame sent at once.
func TestFrameWriterLinger(t *testing.T) {
	c := &gateConn{entered: make(chan struct{}, 1)}
	w := newFrameWriter(c, &Options{Timeout: time.Second, HeartbeatLinger: 50 * time.Millisecond})
	for i := range 3 {
		if err := w.sendLazy(kindAppendEntries, uint32(i), uint64(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	c.mu.Lock()
	early := c.writes
	c.mu.Unlock()
	if early != 0 {
		t.Fatalf("%d writes before the linger time", early)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		n := c.writes
		c.mu.Unlock()
		if n == 1 {
			break
		}
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("%d writes for 3 lingering frames, want 1", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if fs := c.frames(t); len(fs) != 3 {
		t.Fatalf("%d frames", len(fs))
	}
	_ = w.sendLazy(kindAppendEntries, 7, 7, nil)
	_ = w.send(kindRequestVote, 8, 8, nil)
	c.mu.Lock()
	n := c.writes
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d writes: the frame sent at once should carry the lingering one", n)
	}
	if fs := c.frames(t); len(fs) != 5 || fs[3].id != 7 || fs[4].id != 8 {
		t.Fatalf("%d frames", len(fs))
	}
	time.Sleep(100 * time.Millisecond) // the timer finds nothing left
	c.mu.Lock()
	n = c.writes
	c.mu.Unlock()
	if n != 2 {
		t.Fatalf("%d writes after the timer", n)
	}
}

// TestConcurrentGroups: many concurrent requests of many groups over the
// one connection each get their own answer (batched requests and
// answers, heartbeats lingering among them).
func TestConcurrentGroups(t *testing.T) {
	a, b := listen(t), listen(t)
	stop := make(chan struct{})
	defer close(stop)
	const groups, per = 32, 20
	for g := range uint32(groups) {
		serveGroup(b.Transport(g), stop, func(rpc raft.RPC) (any, error) {
			r := rpc.Command.(*raft.AppendEntriesRequest)
			return &raft.AppendEntriesResponse{Term: r.Term, LastLog: uint64(g)<<32 | r.PrevLogEntry, Success: true}, nil
		})
	}
	var wg sync.WaitGroup
	errs := make(chan error, groups*per)
	for g := range uint32(groups) {
		for i := range uint64(per) {
			wg.Go(func() {
				req := emptyAppend(1, i+1, 0)
				req.Entries = []*raft.Log{{Index: i + 2, Data: []byte("x")}}
				if i%4 == 0 {
					req = heartbeat(1)
				}
				var resp raft.AppendEntriesResponse
				if err := a.Transport(g).AppendEntries("b", b.Addr(), req, &resp); err != nil {
					errs <- err
					return
				}
				if want := uint64(g)<<32 | req.PrevLogEntry; resp.LastLog != want || !resp.Success {
					errs <- fmt.Errorf("group %d request %d: answer %+v", g, i, resp)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
