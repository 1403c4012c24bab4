package edge

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/transport/pb"
)

// TestRaftMembershipPlacement: a node founds a region alone with
// --raft-placement membership (no --peers, no --join); three more join
// through gossip only (no peer lists). Every group converges to three
// voters and one non-voter, and chat sent through the founder reaches a
// reader on the last node to join, in order.
func TestRaftMembershipPlacement(t *testing.T) {
	const groups = 4
	var edges []*testEdge
	for i := range 4 {
		edges = append(edges, startEdge(t, func(c *Config) {
			c.NodeID, c.RaftListen, c.RaftGroups = fmt.Sprintf("node-%d", i), "127.0.0.1:0", groups
			c.RaftSecret, c.RaftHeartbeatTimeout = testRaftSecret, 300*time.Millisecond
			c.RaftPlacement = RaftPlacementMembership
			c.GossipListen, c.GossipPreset, c.GossipInsecure = "127.0.0.1:0", "local", true
			if i > 0 {
				c.Join = []string{edges[0].srv.cluster.LocalAddr()}
			}
		}))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var sum raftgroup.PlacementStats
		for _, e := range edges {
			st := e.srv.repl.node.PlacementStats()
			sum.Led += st.Led
			sum.Actual += st.Actual
			sum.NonVoters += st.NonVoters
			sum.UnderReplicated += st.UnderReplicated
		}
		if sum.Led == groups && sum.Actual == 3*groups && sum.NonVoters == groups && sum.UnderReplicated == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("placement did not converge: %+v", sum)
		}
		time.Sleep(50 * time.Millisecond) // polling: placement runs in the background
	}
	conv := "group:placed"
	alice, bob := edges[0].dialRaw(t), edges[3].dialRaw(t)
	alice.connect(edges[0].token("alice", []string{conv}, nil, time.Hour), nil)
	bob.connect(edges[3].token("bob", []string{conv}, nil, time.Hour), nil)
	const n = 20
	for i := 1; i <= n; i++ {
		sendConv(alice, conv, msgID(i), "hello")
	}
	for i := 1; i <= n; i++ {
		if ack := expect[*pb.Ack](alice); ack.ClientMsgId != msgID(i) || ack.Seq != uint64(i) {
			t.Fatalf("ack %d = %v", i, ack)
		}
	}
	checkSeqs(t, bob.collect(conv, n), 1)
	body := ""
	for _, e := range edges {
		body += scrape(t, e)
	}
	if !strings.Contains(body, `edgegate_raft_placement_changes_total{op="add"}`) || !strings.Contains(body, "edgegate_raft_groups_under_replicated 0") {
		t.Fatalf("placement metrics missing:\n%s", grepLines(body, "placement"))
	}
}

// TestRaftPlacementConfig: membership placement needs gossip, a Raft
// address and the region secret; an unknown mode is refused.
func TestRaftPlacementConfig(t *testing.T) {
	base := Config{DataDir: "x", Dev: true, NodeID: "a", RaftListen: "127.0.0.1:0", RaftPlacement: RaftPlacementMembership, RaftSecret: testRaftSecret}
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no gossip", func(c *Config) {}, "needs RaftListen and GossipListen"},
		{"no secret", func(c *Config) { c.GossipListen, c.RaftSecret = "127.0.0.1:0", nil }, "needs the region secret"},
		{"bad mode", func(c *Config) { c.RaftPlacement = "ring" }, `RaftPlacement "ring"`},
	} {
		c := base
		tc.mod(&c)
		if err := c.validatePlacement(); err == nil || !strings.Contains(fmt.Sprint(err), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	ok := base
	ok.GossipListen = "127.0.0.1:0"
	if errs := ok.validatePlacement(); len(errs) != 0 {
		t.Errorf("valid: %v", errs)
	}
}
