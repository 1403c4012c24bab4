package raftgroup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/edge/raftlog"
	"github.com/edgegate/edgegate/edge/store"
)

// testRaft is a Raft configuration for tests: fast elections.
func testRaft(snapshotThreshold uint64) *raft.Config {
	c := Tuned()
	c.HeartbeatTimeout = 100 * time.Millisecond
	c.ElectionTimeout = 100 * time.Millisecond
	c.LeaderLeaseTimeout = 100 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotInterval = 100 * time.Millisecond
	c.SnapshotThreshold = snapshotThreshold
	c.TrailingLogs = 10
	return c
}

// cluster is n nodes replicating groups over in-memory transports (one
// per node per group, all connected), each node with its own stores on
// disk.
type cluster struct {
	t         *testing.T
	groups    int
	dirs      []string
	stores    []*store.Store
	logs      []*raftlog.Store
	nodes     []*Node
	trans     [][]*raft.InmemTransport // [group][node]
	snaps     [][]raft.SnapshotStore
	threshold uint64
	last      atomic.Int64 // the node the last append succeeded at
}

func nodeID(i int) string { return fmt.Sprintf("n%d", i) }

func newCluster(t *testing.T, n, groups int, threshold uint64) *cluster {
	t.Helper()
	c := &cluster{t: t, groups: groups, threshold: threshold}
	c.trans = make([][]*raft.InmemTransport, groups)
	c.snaps = make([][]raft.SnapshotStore, groups)
	for g := range groups {
		for i := range n {
			_, tr := raft.NewInmemTransportWithTimeout(raft.ServerAddress(nodeID(i)), 500*time.Millisecond)
			c.trans[g] = append(c.trans[g], tr)
			// File snapshots, not raft's in-memory store: the latter races
			// when a snapshot is sent while the next is being written.
			snaps, err := raft.NewFileSnapshotStoreWithLogger(t.TempDir(), 2, hclog.NewNullLogger())
			if err != nil {
				t.Fatal(err)
			}
			c.snaps[g] = append(c.snaps[g], snaps)
		}
		c.connectAll(g)
	}
	for i := range n {
		c.dirs = append(c.dirs, t.TempDir())
		c.stores = append(c.stores, nil)
		c.logs = append(c.logs, nil)
		c.nodes = append(c.nodes, nil)
		c.start(i)
	}
	t.Cleanup(func() {
		for i := range c.nodes {
			c.stop(i)
		}
	})
	return c
}

func (c *cluster) connectAll(g int) {
	for i, a := range c.trans[g] {
		for j, b := range c.trans[g] {
			if i != j {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
}

// isolate cuts node i off from every peer in every group (both ways).
func (c *cluster) isolate(i int) {
	for g := range c.groups {
		c.trans[g][i].DisconnectAll()
		for j, tr := range c.trans[g] {
			if j != i {
				tr.Disconnect(c.trans[g][i].LocalAddr())
			}
		}
	}
}

// heal reconnects everyone.
func (c *cluster) heal() {
	for g := range c.groups {
		c.connectAll(g)
	}
}

func (c *cluster) start(i int) {
	t := c.t
	var err error
	if c.stores[i], err = store.Open(c.dirs[i]+"/msgs", store.Options{}); err != nil {
		t.Fatal(err)
	}
	if c.logs[i], err = raftlog.Open(c.dirs[i]+"/raft", raftlog.Options{}); err != nil {
		t.Fatal(err)
	}
	var peers []Peer
	for j := range c.trans[0] {
		peers = append(peers, Peer{ID: nodeID(j), Addr: nodeID(j)})
	}
	c.nodes[i], err = Start(Options{
		NodeID: nodeID(i), Peers: peers, Groups: c.groups,
		Store: c.stores[i], Log: c.logs[i],
		Snapshots: func(g uint32) (raft.SnapshotStore, error) { return c.snaps[g][i], nil },
		Transport: func(g uint32) (raft.Transport, error) { return c.trans[g][i], nil },
		Raft:      testRaft(c.threshold),
		Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// stop closes node i and its stores (idempotent).
func (c *cluster) stop(i int) {
	if c.nodes[i] == nil {
		return
	}
	if err := c.nodes[i].Close(); err != nil {
		c.t.Errorf("close node %d: %v", i, err)
	}
	c.logs[i].Close()
	c.stores[i].Close()
	c.nodes[i] = nil
}

// append sends r to the leader of its group, following NotLeaderErrors,
// until it is acked or the deadline passes.
func (c *cluster) append(r ordering.Request) (ordering.Result, error) {
	deadline := time.Now().Add(10 * time.Second)
	i := int(c.last.Load())
	defer func() { c.last.Store(int64(i % len(c.nodes))) }()
	for {
		n := c.nodes[i%len(c.nodes)]
		if n == nil {
			i++
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		res, err := n.Append(ctx, r)
		cancel()
		var nl *NotLeaderError
		if err == nil || !(errors.As(err, &nl) || errors.Is(err, context.DeadlineExceeded)) || time.Now().After(deadline) {
			return res, err
		}
		if nl != nil && nl.Leader != "" {
			var j int
			fmt.Sscanf(nl.Leader, "n%d", &j)
			if j != i%len(c.nodes) {
				i = j
				continue
			}
		}
		i++
		time.Sleep(10 * time.Millisecond) // no leader yet: an election is under way
	}
}

// converged waits until every live replica of every group applied the
// same index and holds the same state.
func (c *cluster) converged() {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var diff string
		for g := range uint32(c.groups) {
			var wantA, wantH uint64
			first := true
			for i, st := range c.stores {
				if c.nodes[i] == nil {
					continue
				}
				a, h, err := StateHash(st, g)
				if err != nil {
					c.t.Fatal(err)
				}
				if first {
					wantA, wantH, first = a, h, false
				} else if a != wantA || h != wantH {
					diff = fmt.Sprintf("group %d: node %d applied %d hash %x, node 0.. applied %d hash %x", g, i, a, h, wantA, wantH)
				}
			}
		}
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("replicas did not converge: %s", diff)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
