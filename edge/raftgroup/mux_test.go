package raftgroup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/raftlog"
	"github.com/edgegate/edgegate/edge/raftmux"
	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// muxSecret authenticates the loopback cluster's nodes to each other, as
// in a real region.
var muxSecret = []byte("raftgroup-test-secret-0123456789abcdef")

// muxNode is one node of a loopback cluster on real TCP (raftmux).
type muxNode struct {
	dir  string
	addr string
	mux  *raftmux.Mux
	st   *store.Store
	log  *raftlog.Store
	node *Node
	live atomic.Pointer[Node] // node, for the mux's OnPeerDown
	// raft and onCommit, if set, replace testRaft and a nil OnCommit;
	// stagger, if set, is Options.CampaignStagger.
	raft     *raft.Config
	onCommit func([]*pb.Message)
	stagger  time.Duration
	// placement, if set, turns on membership placement (peers are then
	// the founders, possibly none).
	placement *Placement
}

func (n *muxNode) start(t testing.TB, id string, peers []Peer, groups int) {
	t.Helper()
	var err error
	peerDown := func(addr raft.ServerAddress) {
		if nd := n.live.Load(); nd != nil {
			nd.PeerDown(string(addr))
		}
	}
	if n.mux, err = raftmux.Listen(n.addr, raftmux.Options{OnPeerDown: peerDown, Secret: muxSecret}); err != nil {
		t.Fatal(err)
	}
	n.addr = string(n.mux.Addr())
	if n.st, err = store.Open(n.dir+"/msgs", store.Options{}); err != nil {
		t.Fatal(err)
	}
	if n.log, err = raftlog.Open(n.dir+"/raft", raftlog.Options{}); err != nil {
		t.Fatal(err)
	}
	if peers == nil && n.placement == nil {
		return // addresses first, then Start
	}
	rc := n.raft
	if rc == nil {
		rc = testRaft(1 << 20)
	}
	n.node, err = Start(Options{
		NodeID: id, Peers: peers, Groups: groups, Store: n.st, Log: n.log,
		SnapshotDir:     n.dir + "/snap",
		Transport:       func(g uint32) (raft.Transport, error) { return n.mux.Transport(g), nil },
		Raft:            rc,
		OnCommit:        n.onCommit,
		CampaignStagger: n.stagger,
		Placement:       n.placement,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		Forward: func(ctx context.Context, addr string, g uint32, body []byte) ([]byte, error) {
			return n.mux.Call(addr, g, body, 0)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n.mux.HandleApp(n.node.HandleForward)
	n.live.Store(n.node)
}

func (n *muxNode) stop() {
	n.live.Store(nil)
	if n.node != nil {
		n.node.Close()
		n.node = nil
	}
	n.mux.Close()
	n.log.Close()
	n.st.Close()
}

// startMuxCluster starts n nodes on loopback TCP with groups groups.
func startMuxCluster(t testing.TB, n, groups int) []*muxNode {
	return startMuxClusterWith(t, n, groups, nil)
}

// startMuxClusterWith is startMuxCluster with set, if not nil, called on
// each node before it starts.
func startMuxClusterWith(t testing.TB, n, groups int, set func(i int, n *muxNode)) []*muxNode {
	t.Helper()
	nodes := make([]*muxNode, n)
	var peers []Peer
	for i := range nodes {
		nodes[i] = &muxNode{dir: t.TempDir(), addr: "127.0.0.1:0"}
		if set != nil {
			set(i, nodes[i])
		}
		nodes[i].start(t, nodeID(i), nil, groups)
		peers = append(peers, Peer{ID: nodeID(i), Addr: nodes[i].addr})
		nodes[i].mux.Close() // reopened below on the same address
		nodes[i].log.Close()
		nodes[i].st.Close()
	}
	for i, n := range nodes {
		n.start(t, nodeID(i), peers, groups)
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			if n.node != nil {
				n.stop()
			}
		}
	})
	return nodes
}

// TestPeerDownElects: when a node leading groups goes away (process
// gone: connections end, port closed), the surviving follower with the
// smallest id starts each of those groups' elections at once. Raft's own
// timers are set to a minute first, so only PeerDown can elect within the
// test's wait; writes to those groups then go on.
func TestPeerDownElects(t *testing.T) {
	const groups = 8
	// The second follower campaigns only if the designated one's election
	// has not succeeded 5 s later (default 300 ms): a slow election (-race
	// on a loaded machine) must not let it run too and split the vote.
	// A new leader that cannot reach a follower within LeaderLeaseTimeout
	// steps down, and with election timers at a minute nothing elects
	// again within the test: testRaft's 100 ms lease was too short under
	// -race on a loaded machine.
	rc := testRaft(1 << 20)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = time.Second, time.Second, time.Second
	nodes := startMuxClusterWith(t, 3, groups, func(_ int, n *muxNode) { n.stagger, n.raft = 5*time.Second, rc })
	waitLeaders := func(live []*muxNode, why string) map[uint32]string {
		return waitAllLeaders(t, live, groups, 10*time.Second, why)
	}
	before := waitLeaders(nodes, "start")
	slow := raft.ReloadableConfig{TrailingLogs: 10, SnapshotInterval: time.Minute, SnapshotThreshold: 1 << 20,
		HeartbeatTimeout: time.Minute, ElectionTimeout: time.Minute}
	for _, n := range nodes {
		for g := range uint32(groups) {
			if err := n.node.Raft(g).ReloadConfig(slow); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The designated follower wins only if its log is as long as the
	// other's (else Raft rightly refuses it the vote, and the stagger's
	// fallback elects the other): wait until every replica has every
	// entry, the leaders' first no-op included.
	waitLogsEqual(t, nodes, 10*time.Second)
	// The victim: the node leading the most groups.
	victim, _ := busiestLeader(before, len(nodes))
	nodes[victim].stop()
	nodes[victim].node = nil
	var live []*muxNode
	for i, n := range nodes {
		if i != victim {
			live = append(live, n)
		}
	}
	after := waitLeaders(live, "after the leader's node went away")
	successor := live[0].node.o.NodeID // the smallest id among the survivors
	for g, id := range before {
		if id == nodeID(victim) && after[g] != successor {
			t.Errorf("group %d: new leader %s, want %s (the designated follower)", g, after[g], successor)
		}
	}
	for i := range 16 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := live[i%2].node.Append(ctx, req(fmt.Sprintf("conv-%d", i), "u", i))
		cancel()
		if err != nil {
			t.Fatalf("write %d after the failover: %v", i, err)
		}
	}
}

// TestGroupsOverMux: three nodes on loopback TCP, eight groups sharing
// one connection per node pair; writes enter at any node and are
// forwarded to their group's leader; a node is stopped (its groups'
// leaders move), writes go on, the node comes back and catches up.
func TestGroupsOverMux(t *testing.T) {
	const groups = 8
	nodes := startMuxCluster(t, 3, groups)
	var peers []Peer
	for i, n := range nodes {
		peers = append(peers, Peer{ID: nodeID(i), Addr: n.addr})
	}
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

// TestCommitNoticeDelivers: followers apply a committed write (and so
// deliver it to their own sessions) at once, because the leader's replica
// tells them of each commit (raftmux commit notices). Raft's CommitTimeout
// is a minute here, so without the notices a follower would learn of the
// commit only from the leader's next AppendEntries, long after the
// test's wait.
func TestCommitNoticeDelivers(t *testing.T) {
	rc := testRaft(1 << 20)
	rc.CommitTimeout = time.Minute
	applied := make([]chan *pb.Message, 3)
	nodes := startMuxClusterWith(t, 3, 1, func(i int, n *muxNode) {
		ch := make(chan *pb.Message, 64)
		applied[i] = ch
		n.raft = rc
		n.onCommit = func(ms []*pb.Message) {
			for _, m := range ms {
				ch <- m
			}
		}
	})
	for i := range 20 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := nodes[i%3].node.Append(ctx, req("conv", "u", i))
		cancel()
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		// Every replica applies it, the followers included, well before
		// raft's CommitTimeout.
		for n, ch := range applied {
			select {
			case m := <-ch:
				if m.GetSeq() != res.Msg.GetSeq() {
					t.Fatalf("node %d applied seq %d, want %d", n, m.GetSeq(), res.Msg.GetSeq())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("write %d (seq %d): node %d did not apply it within 10 s", i, res.Msg.GetSeq(), n)
			}
		}
	}
}
