package edge

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/transport/pb"
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
	var peers []raftgroup.Peer
	for i := range 3 {
		peers = append(peers, raftgroup.Peer{ID: fmt.Sprintf("node-%d", i), Addr: freeAddr(t)})
	}
	edges := make([]*testEdge, 3)
	for i := range edges {
		edges[i] = startEdge(t, func(c *Config) {
			c.NodeID, c.RaftListen, c.Peers, c.RaftGroups = peers[i].ID, peers[i].Addr, peers, 4
		})
	}
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
