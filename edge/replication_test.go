package edge

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/bench/raftadmin"
	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/transport/pb"
	"google.golang.org/protobuf/proto"
)

// freeAddr returns a loopback TCP address that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestRaftSingleNodeChat: with --raft-listen and no peers the edge orders
// through a Raft group of one replica, with the same guarantees as the
// single-node orderer: acks in order with gap-free seqs, delivery, dedup.
func TestRaftSingleNodeChat(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.RaftListen, c.RaftGroups = "127.0.0.1:0", 4 })
	if e.srv.repl == nil {
		t.Fatal("the edge did not start its Raft groups")
	}
	conv := "dm:alice:bob"
	alice, bob := e.dialRaw(t), e.dialRaw(t)
	alice.connect(e.token("alice", []string{conv}, nil, time.Hour), nil)
	bob.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	const n = 30
	for i := 1; i <= n; i++ {
		sendConv(alice, conv, msgID(i), "hello")
	}
	for i := 1; i <= n; i++ {
		if ack := expect[*pb.Ack](alice); ack.ClientMsgId != msgID(i) || ack.Seq != uint64(i) || ack.Duplicate {
			t.Fatalf("ack %d = %v", i, ack)
		}
	}
	checkSeqs(t, bob.collect(conv, n), 1)
	if body := scrape(t, e); !strings.Contains(body, `edgegate_raft_groups{state="leader"} 4`) {
		t.Fatalf("metrics do not show the 4 groups led here:\n%s", grepLines(body, "edgegate_raft"))
	}
	sendConv(alice, conv, msgID(1), "again")
	if ack := expect[*pb.Ack](alice); !ack.Duplicate || ack.Seq != 1 {
		t.Fatalf("resend: %v", ack)
	}
}

// TestRaftThreeEdgesChat: three edges replicate four Raft groups over
// loopback TCP; alice sends through edge 0, bob reads on edge 1 and carol
// on edge 2. Writes reach their group's leader wherever it is, every
// replica delivers to its own sessions, and both readers get every
// message once, in order.
func TestRaftThreeEdgesChat(t *testing.T) {
	edges := startRegion(t, 3, nil)
	convs := []string{"group:a", "group:b", "group:c", "group:d"}
	alice := edges[0].dialRaw(t)
	alice.connect(edges[0].token("alice", []string{"group:*"}, nil, time.Hour), nil)
	readers := []*rawClient{edges[1].dialRaw(t), edges[2].dialRaw(t)}
	for i, r := range readers {
		// Conversations named in the token are subscribed at connect.
		if c := r.connect(edges[i+1].token(fmt.Sprintf("reader%d", i), convs, nil, time.Hour), nil); len(c.Subscribed) != len(convs) {
			t.Fatalf("reader %d subscribed to %d conversations", i, len(c.Subscribed))
		}
	}
	const per = 15
	for i := range per * len(convs) {
		sendConv(alice, convs[i%len(convs)], msgID(i), "hi")
	}
	for i := range per * len(convs) {
		ack := expect[*pb.Ack](alice)
		if want := uint64(i/len(convs) + 1); ack.ClientMsgId != msgID(i) || ack.Seq != want {
			t.Fatalf("ack %d = %v, want seq %d", i, ack, want)
		}
	}
	for _, r := range readers {
		byConv := map[string][]*pb.Message{}
		for got := 0; got < per*len(convs); {
			d := expect[*pb.Deliver](r)
			for _, m := range d.Messages {
				byConv[m.Conversation] = append(byConv[m.Conversation], m)
				got++
			}
		}
		for _, conv := range convs {
			if len(byConv[conv]) != per {
				t.Fatalf("%s: %d messages, want %d", conv, len(byConv[conv]), per)
			}
			checkSeqs(t, byConv[conv], 1)
		}
	}
	sameStateHashes(t, edges)
	if code, body := edges[0].api(t, "POST", "/v1/raft/isolate", edges[0].apiKey, `{"isolated":true}`); code != http.StatusForbidden {
		t.Fatalf("isolate without --raft-fault-injection: %d %v", code, body)
	}
}

// testRaftSecret is the region secret of the tests' regions.
var testRaftSecret = []byte("edge-test-raft-secret-0123456789abcdef")

// startRegion starts n edges replicating four Raft groups over loopback,
// authenticated with testRaftSecret.
func startRegion(t *testing.T, n int, tweak func(*Config)) []*testEdge {
	t.Helper()
	var peers []raftgroup.Peer
	for i := range n {
		peers = append(peers, raftgroup.Peer{ID: fmt.Sprintf("node-%d", i), Addr: freeAddr(t)})
	}
	edges := make([]*testEdge, n)
	for i := range edges {
		edges[i] = startEdge(t, func(c *Config) {
			c.NodeID, c.RaftListen, c.Peers, c.RaftGroups = peers[i].ID, peers[i].Addr, peers, 4
			c.RaftSecret = testRaftSecret
			if tweak != nil {
				tweak(c)
			}
		})
	}
	return edges
}

// raftGroups reads an edge's GET /v1/raft/groups (hash: with state
// hashes) through the admin client (bench/raftadmin).
func raftGroups(t *testing.T, e *testEdge, hash bool) raftadmin.Status {
	t.Helper()
	st, err := raftadmin.Groups(context.Background(), e.hs.URL, e.apiKey, hash)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// sameStateHashes waits (10 s at most) until every edge reports the same
// applied index and state hash for every group, each group with one
// leader that every edge names (raftadmin.Diff).
func sameStateHashes(t *testing.T, edges []*testEdge) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var all []raftadmin.Status
		for _, e := range edges {
			all = append(all, raftGroups(t, e, true))
		}
		diff := raftadmin.Diff(all)
		if diff == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas differ after 10 s: %s", diff)
		}
		time.Sleep(20 * time.Millisecond) // polling: the replicas apply in the background
	}
}

// TestRaftIsolatedLeader: a node cut off its peers (fault injection)
// loses the leadership of its groups; writes through the other nodes go
// on; once healed it catches up to the same state.
func TestRaftIsolatedLeader(t *testing.T) {
	edges := startRegion(t, 3, func(c *Config) { c.RaftFaultInjection = true })
	// Wait for the conversation's group to have a leader: the node to cut
	// off.
	const conv = "group:iso"
	g := raftgroup.GroupOf(conv, 4)
	var lead, other *testEdge
	deadline := time.Now().Add(15 * time.Second)
	for lead == nil {
		for i, e := range edges {
			if raftGroups(t, e, false).Groups[g].State == "Leader" {
				lead, other = e, edges[(i+1)%len(edges)]
			}
		}
		if lead == nil {
			if time.Now().After(deadline) {
				t.Fatalf("group %d has no leader after 15 s", g)
			}
			time.Sleep(50 * time.Millisecond) // polling: elections have no event to await
		}
	}
	alice := other.dialRaw(t)
	alice.connect(other.token("alice", []string{"group:*"}, nil, time.Hour), nil)
	sendConv(alice, conv, msgID(1), "before")
	if ack := expect[*pb.Ack](alice); ack.Seq != 1 {
		t.Fatalf("ack before the partition: %v", ack)
	}
	if code, body := lead.api(t, "POST", "/v1/raft/isolate", lead.apiKey, `{"isolated":true}`); code != http.StatusOK {
		t.Fatalf("isolate: %d %v", code, body)
	}
	// The write waits out the election (the edge retries forwarding,
	// each attempt bounded by raftgroup's ForwardTimeout) and lands at
	// seq 2 under a new leader; if the election outlasts the edge's apply
	// timeout, the client gets UNAVAILABLE and resends, as the SDK does.
	alice.wait = 15 * time.Second
	cut := time.Now()
	for attempt := 0; ; attempt++ {
		sendConv(alice, conv, msgID(2), "during")
		m := alice.nextMatching(func(m proto.Message) bool {
			_, ack := m.(*pb.Ack)
			_, e := m.(*pb.Error)
			return ack || e
		})
		if e, ok := m.(*pb.Error); ok {
			if e.Code != pb.ErrorCode_ERROR_CODE_UNAVAILABLE || attempt == 2 {
				t.Fatalf("write during the partition, attempt %d: %v", attempt, e)
			}
			continue
		}
		if ack := m.(*pb.Ack); ack.Seq != 2 || ack.ClientMsgId != msgID(2) {
			t.Fatalf("ack during the partition: %v", ack)
		}
		t.Logf("write during the partition acked after %v (%d resends)", time.Since(cut).Round(time.Millisecond), attempt)
		break
	}
	if st := raftGroups(t, other, false).Groups[g]; st.Leader == raftGroups(t, lead, false).Node || st.Leader == "" {
		t.Fatalf("group %d after the partition: %+v", g, st)
	}
	if code, body := lead.api(t, "POST", "/v1/raft/isolate", lead.apiKey, `{"isolated":false}`); code != http.StatusOK {
		t.Fatalf("heal: %d %v", code, body)
	}
	healed := time.Now()
	sameStateHashes(t, edges)
	t.Logf("replicas equal %v after healing", time.Since(healed).Round(time.Millisecond))
}

// scrape returns the edge's /metrics text.
func scrape(t *testing.T, e *testEdge) string {
	t.Helper()
	resp, err := http.Get(e.hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
