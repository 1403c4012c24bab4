package raftgroup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/raftlog"
	"github.com/edgegate/edgegate/edge/raftmux"
	"github.com/edgegate/edgegate/edge/store"
)

// muxNode is one node of a loopback cluster on real TCP (raftmux).
type muxNode struct {
	dir  string
	addr string
	mux  *raftmux.Mux
	st   *store.Store
	log  *raftlog.Store
	node *Node
}

func (n *muxNode) start(t *testing.T, id string, peers []Peer, groups int) {
	t.Helper()
	var err error
	if n.mux, err = raftmux.Listen(n.addr, raftmux.Options{}); err != nil {
		t.Fatal(err)
	}
	n.addr = string(n.mux.Addr())
	if n.st, err = store.Open(n.dir+"/msgs", store.Options{}); err != nil {
		t.Fatal(err)
	}
	if n.log, err = raftlog.Open(n.dir+"/raft", raftlog.Options{}); err != nil {
		t.Fatal(err)
	}
	if peers == nil {
		return // addresses first, then Start
	}
	n.node, err = Start(Options{
		NodeID: id, Peers: peers, Groups: groups, Store: n.st, Log: n.log,
		SnapshotDir: n.dir + "/snap",
		Transport:   func(g uint32) (raft.Transport, error) { return n.mux.Transport(g), nil },
		Raft:        testRaft(1 << 20),
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		Forward: func(ctx context.Context, addr string, g uint32, body []byte) ([]byte, error) {
			return n.mux.Call(addr, g, body, 0)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.mux.HandleApp(n.node.HandleForward)
}

func (n *muxNode) stop() {
	if n.node != nil {
		n.node.Close()
		n.node = nil
	}
	n.mux.Close()
	n.log.Close()
	n.st.Close()
}

// TestGroupsOverMux: three nodes on loopback TCP, eight groups sharing
// one connection per node pair; writes enter at any node and are
// forwarded to their group's leader; a node is stopped (its groups'
// leaders move), writes go on, the node comes back and catches up.
func TestGroupsOverMux(t *testing.T) {
	const groups = 8
	nodes := make([]*muxNode, 3)
	var peers []Peer
	for i := range nodes {
		nodes[i] = &muxNode{dir: t.TempDir(), addr: "127.0.0.1:0"}
		nodes[i].start(t, nodeID(i), nil, groups)
		peers = append(peers, Peer{ID: nodeID(i), Addr: nodes[i].addr})
		nodes[i].mux.Close() // reopened below on the same address
		nodes[i].log.Close()
		nodes[i].st.Close()
	}
	for i, n := range nodes {
		n.start(t, nodeID(i), peers, groups)
	}
	defer func() {
		for _, n := range nodes {
			if n.node != nil {
				n.stop()
			}
		}
	}()
	c := &cluster{t: t, groups: groups}
	sync := func() {
		c.nodes, c.stores = nil, nil
		for _, n := range nodes {
			c.nodes = append(c.nodes, n.node)
			c.stores = append(c.stores, n.st)
		}
	}
	sync()
	acked := map[string][]uint64{}
	// Every write goes to any live node, which forwards it to the
	// group's leader.
	write := func(from, to int) {
		for i := from; i < to; i++ {
			conv := fmt.Sprintf("conv-%d", i%16)
			n := nodes[i%3]
			if n.node == nil {
				n = nodes[(i+1)%3]
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			res, err := n.node.Append(ctx, req(conv, "u", i))
			cancel()
			if err != nil {
				t.Fatalf("write %d at a node that may not lead its group: %v", i, err)
			}
			acked[conv] = append(acked[conv], res.Msg.GetSeq())
		}
	}
	write(0, 160)
	nodes[2].stop()
	sync()
	write(160, 320)
	nodes[2].start(t, nodeID(2), peers, groups)
	sync()
	write(320, 400)
	checkSeqs(t, acked)
	c.converged()
}
