package edge

import (
	"fmt"
	"maps"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// startPresenceCluster starts n in-process edges joined in one gossip
// cluster (loopback, "local" preset) with the inter-node link, and waits
// until every node counts all n as presence home candidates.
func startPresenceCluster(t *testing.T, n int) []*testEdge {
	t.Helper()
	var edges []*testEdge
	for i := range n {
		e := startEdge(t, func(c *Config) {
			c.NodeID = fmt.Sprintf("n%d", i)
			c.GossipListen, c.GossipPreset, c.GossipInsecure = "127.0.0.1:0", "local", true
			c.NodeListen, c.RaftInsecure = "127.0.0.1:0", true
			if i > 0 {
				c.Join = []string{edges[0].srv.cluster.LocalAddr()}
			}
		})
		edges = append(edges, e)
	}
	// Polled: convergence is gossip spreading, not one event to await.
	waitWithin(t, 15*time.Second, "every node sees all homes", func() bool {
		for _, e := range edges {
			e.srv.presence.mu.Lock()
			k := len(e.srv.presence.homes)
			e.srv.presence.mu.Unlock()
			if k != n || len(e.srv.link.link.Peers()) != n-1 {
				return false
			}
		}
		return true
	})
	return edges
}

// userOn reports whether e's presence API says user is online exactly on
// node (node "": offline everywhere).
func userOn(t *testing.T, e *testEdge, user, node string) bool {
	status, body := e.api(t, http.MethodGet, "/v1/presence/users/"+user, e.apiKey, "")
	if status != http.StatusOK {
		return false // the home is unreachable (being re-homed)
	}
	nodes, _ := body["nodes"].([]any)
	if node == "" {
		return body["online"] == false && len(nodes) == 0
	}
	if len(nodes) != 1 {
		return false
	}
	n := nodes[0].(map[string]any)
	return body["online"] == true && n["node"] == node && n["devices"] == float64(1)
}

// TestPresenceAcrossNodes: a user connected on n0 (homed elsewhere, so
// updates and lookups cross the link) is online on n0 as seen from every
// node, offline everywhere after it disconnects, and still reported
// correctly by the survivors after its home node stops without leaving.
func TestPresenceAcrossNodes(t *testing.T) {
	edges := startPresenceCluster(t, 3)
	a := edges[0]
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("user%d", i); a.srv.presence.homeOf(u) == "n1" {
			user = u
		}
	}
	connect := func() *rawClient {
		c := a.dialRaw(t)
		c.connect(a.token(user, nil, nil, time.Minute), nil)
		return c
	}
	visible := func(node string, on ...*testEdge) {
		t.Helper()
		for _, e := range on {
			waitWithin(t, 15*time.Second, fmt.Sprintf("%s reports %s on %q", e.srv.NodeID(), user, node), func() bool { return userOn(t, e, user, node) })
		}
	}
	c := connect()
	visible("n0", edges...)
	if status, body := edges[2].api(t, http.MethodGet, "/v1/presence/users/"+user, a.apiKey, ""); status != http.StatusOK || body["home"] != "n1" {
		t.Fatalf("presence from n2: %d %v", status, body)
	}
	c.conn.Close(transport.CloseNormal, "")
	<-c.done
	visible("", edges...)

	connect()
	visible("n0", edges...)
	// The home stops without leaving (like a crash): the survivors
	// re-home the user and report it again.
	if err := edges[1].srv.Close(); err != nil {
		t.Fatal(err)
	}
	visible("n0", edges[0], edges[2])
	if h := edges[2].srv.presence.homeOf(user); h == "n1" {
		t.Fatalf("still homed at the stopped node")
	}
	if status, _ := edges[0].api(t, http.MethodGet, "/v1/presence/users/"+user, "", ""); status != http.StatusUnauthorized {
		t.Fatalf("no API key: %d", status)
	}
	if status, _ := edges[0].api(t, http.MethodGet, "/v1/presence/users/bad%20id", a.apiKey, ""); status != http.StatusBadRequest {
		t.Fatalf("bad id: %d", status)
	}
}

// TestRoomDirectory: the directory lists the nodes with viewers of a room.
func TestRoomDirectory(t *testing.T) {
	edges := startPresenceCluster(t, 2)
	for i, e := range edges[:2] {
		c := e.dialRaw(t)
		c.connect(e.token(fmt.Sprintf("v%d", i), nil, []string{"live:*"}, time.Minute), nil)
		c.send(&pb.Subscribe{RequestId: 1, Rooms: []string{"live:dir"}})
		expect[*pb.Subscribed](c)
	}
	waitWithin(t, 10*time.Second, "both nodes list both viewers", func() bool {
		for _, e := range edges {
			status, body := e.api(t, http.MethodGet, "/v1/directory/rooms/live:dir", e.apiKey, "")
			nodes, _ := body["nodes"].([]any)
			if status != http.StatusOK || body["viewers"] != float64(2) || len(nodes) != 2 {
				return false
			}
		}
		return true
	})
}

// TestConvPresenceAcrossNodes: a client's presence query about a
// conversation lists its subscribers on every node (devices summed over
// the nodes), not only the asking node's; the peers' answers cross the
// link.
func TestConvPresenceAcrossNodes(t *testing.T) {
	edges := startPresenceCluster(t, 3)
	const conv = "grp:team"
	subscribe := func(e *testEdge, user string) *rawClient { return convSubscriber(t, e, user, conv) }
	asker := subscribe(edges[0], "alice")
	subscribe(edges[1], "bob")
	subscribe(edges[2], "bob") // bob's second device, on another node
	subscribe(edges[2], "carol")
	before := testutil.ToFloat64(edges[0].srv.convPres.queries.WithLabelValues("complete"))
	asker.send(&pb.PresenceQuery{RequestId: 9, Conversation: conv})
	p := presenceReply(asker, 9)
	got := deviceCounts(p)
	want := map[string]uint32{"alice": 1, "bob": 2, "carol": 1}
	if p.GetRequestId() != 9 || !maps.Equal(got, want) {
		t.Fatalf("presence %v (request %d), want %v", got, p.GetRequestId(), want)
	}
	if after := testutil.ToFloat64(edges[0].srv.convPres.queries.WithLabelValues("complete")); after != before+1 {
		t.Fatalf("complete queries %v -> %v", before, after)
	}
	// A node that stops is left out (the others still answer).
	if err := edges[2].srv.Close(); err != nil {
		t.Fatal(err)
	}
	waitWithin(t, 15*time.Second, "the answer without the stopped node", func() bool {
		asker.send(&pb.PresenceQuery{RequestId: 10, Conversation: conv})
		p := presenceReply(asker, 10)
		return maps.Equal(deviceCounts(p), map[string]uint32{"alice": 1, "bob": 1})
	})
}

// convSubscriber connects user to e (allowed grp:*) and subscribes it to
// conv.
func convSubscriber(t *testing.T, e *testEdge, user, conv string) *rawClient {
	t.Helper()
	c := e.dialRaw(t)
	c.connect(e.token(user, []string{"grp:*"}, nil, time.Minute), nil)
	c.send(&pb.Subscribe{RequestId: 1, Conversations: []*pb.Position{{Conversation: conv}}})
	expect[*pb.Subscribed](c)
	return c
}

// presenceReply returns the answer to c's PresenceQuery id, holding the
// frames before it (pushes) for later calls.
func presenceReply(c *rawClient, id uint64) *pb.Presence {
	c.t.Helper()
	return c.nextMatching(func(m proto.Message) bool { p, ok := m.(*pb.Presence); return ok && p.GetRequestId() == id }).(*pb.Presence)
}

// deviceCounts maps a Presence answer's users to their devices.
func deviceCounts(p *pb.Presence) map[string]uint32 {
	out := map[string]uint32{}
	for _, u := range p.GetUsers() {
		out[u.GetUserId()] = u.GetDevices()
	}
	return out
}

// TestConvPresencePushAcrossNodes: a subscriber of a conversation on n0
// is pushed a user's presence when the user's first device in the cluster
// subscribes on n1 and when its last device leaves, not when one of its
// devices on two nodes leaves; a node without subscribers of the
// conversation is sent nothing.
func TestConvPresencePushAcrossNodes(t *testing.T) {
	edges := startPresenceCluster(t, 3)
	const conv = "grp:push"
	subscribe := func(e *testEdge, user string) *rawClient { return convSubscriber(t, e, user, conv) }
	leave := func(c *rawClient) {
		c.conn.Close(transport.CloseNormal, "")
		<-c.done
	}
	pushed := func(c *rawClient, online bool, devices uint32) {
		t.Helper()
		p := expect[*pb.Presence](c)
		u := p.GetUsers()
		if p.GetRequestId() != 0 || p.GetConversation() != conv || len(u) != 1 || u[0].GetUserId() != "bob" || u[0].GetOnline() != online || u[0].GetDevices() != devices {
			t.Fatalf("push %v, want bob online=%v devices=%d", p, online, devices)
		}
	}
	received := func(e *testEdge) float64 {
		return testutil.ToFloat64(e.srv.convLink.changes.WithLabelValues("received"))
	}
	alice := subscribe(edges[0], "alice")
	waitWithin(t, 10*time.Second, "n1 and n2 know n0's interest", func() bool {
		return edges[1].srv.convLink.hasInterest(conv, "n0") && edges[2].srv.convLink.hasInterest(conv, "n0")
	})

	bob := subscribe(edges[1], "bob")
	pushed(alice, true, 1)
	leave(bob)
	pushed(alice, false, 0)
	if n := received(edges[2]); n != 0 {
		t.Fatalf("n2 (no subscribers of %s) received %v entries", conv, n)
	}
	if n := received(edges[0]); n < 2 {
		t.Fatalf("n0 received %v entries, want 2 or more", n)
	}

	bob1 := subscribe(edges[1], "bob")
	pushed(alice, true, 1)
	bob2 := subscribe(edges[2], "bob")
	waitWithin(t, 10*time.Second, "n0 counts bob on n1 and n2", func() bool {
		edges[0].srv.router.mu.RLock()
		defer edges[0].srv.router.mu.RUnlock()
		return len(edges[0].srv.router.remote[conv]["bob"]) == 2
	})
	leave(bob1)
	waitWithin(t, 10*time.Second, "n0 counts bob on n2 only", func() bool {
		edges[0].srv.router.mu.RLock()
		defer edges[0].srv.router.mu.RUnlock()
		return len(edges[0].srv.router.remote[conv]["bob"]) == 1
	})
	// No push for bob2 joining or bob1 leaving: the next frame alice gets
	// is the answer to her query.
	alice.send(&pb.PresenceQuery{RequestId: 7, Conversation: conv})
	if p := expect[*pb.Presence](alice); p.GetRequestId() != 7 {
		t.Fatalf("got a push %v, want no push while bob is online on n2", p)
	}
	leave(bob2)
	pushed(alice, false, 0)
	if n := testutil.ToFloat64(edges[0].srv.convLink.pushes); n != 4 {
		t.Fatalf("n0 pushed %v remote presence frames, want 4", n)
	}
}
