package itest

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edgegate/edgegate/client"
)

// roomViewers reads the cluster-wide viewer count of room from the edge at addr.
func roomViewers(t *testing.T, addr, room string) uint64 {
	t.Helper()
	var body struct {
		ClusterViewers uint64 `json:"cluster_viewers"`
	}
	if status := apiGet(t, "http://"+addr+"/v1/rooms/"+room+"/presence", &body); status != http.StatusOK {
		t.Fatalf("GET room presence: %d", status)
	}
	return body.ClusterViewers
}

// expectComments waits (10 s at most) until c received every body in want
// from room, and fails on a duplicate.
func expectComments(t *testing.T, name string, c *client.Client, room string, want map[string]bool) {
	t.Helper()
	got := map[string]bool{}
	deadline := time.After(10 * time.Second)
	for len(got) < len(want) {
		select {
		case m := <-c.Messages():
			if m.Room != room {
				continue
			}
			b := string(m.Body)
			if got[b] {
				t.Fatalf("%s: %q twice", name, b)
			}
			if want[b] {
				got[b] = true
			}
		case <-deadline:
			t.Fatalf("%s: got %d of %d comments", name, len(got), len(want))
		}
	}
}

// startLinkedCluster starts n edge processes n0..n(n-1) joined in one
// gossip cluster ("local" preset, encrypted) with the inter-node link
// (region secret), each with the extra flags.
func startLinkedCluster(t *testing.T, n int, extra ...string) []*edgeProc {
	t.Helper()
	key, raftKey := writeGossipKey(t), writeRaftSecret(t)
	gossipAddrs := make([]string, n)
	for i := range gossipAddrs {
		gossipAddrs[i] = freePort(t)
	}
	var procs []*edgeProc
	for i, g := range gossipAddrs {
		args := []string{"--node-id", fmt.Sprintf("n%d", i), "--gossip-listen", g, "--gossip-key-file", key,
			"--gossip-preset", "local", "--node-listen", freePort(t), "--raft-secret-file", raftKey}
		if i > 0 {
			args = append(args, "--join", gossipAddrs[0])
		}
		procs = append(procs, startEdge(t, freePort(t), t.TempDir(), append(args, extra...)...))
	}
	return procs
}

// TestClusterRooms: three edge processes (gossip, inter-node link with the
// region secret) with three viewers of one room each. Comments posted on
// every node reach all nine viewers, once; each crosses each link once
// (the forwarded and received counters per peer equal the comments
// posted, not comments x viewers); after a kill -9 of one node, the
// viewers on the two others keep receiving each other's comments.
func TestClusterRooms(t *testing.T) {
	const room, perNode, comments = "live:cluster", 3, 5
	procs := startLinkedCluster(t, 3)
	viewers := make([][]*client.Client, len(procs))
	ctx := context.Background()
	for i, p := range procs {
		for k := range perNode {
			c := dialClient(t, p.url(), fmt.Sprintf("v%d-%d", i, k), "d", nil, []string{"live:*"})
			if _, err := c.JoinRoom(ctx, room); err != nil {
				t.Fatal(err)
			}
			viewers[i] = append(viewers[i], c)
		}
	}
	// Interest has spread when every node counts all nine viewers.
	for _, p := range procs {
		deadline := time.Now().Add(15 * time.Second)
		for roomViewers(t, p.addr, room) != perNode*uint64(len(procs)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s counts %d viewers", p.addr, roomViewers(t, p.addr, room))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	post := func(nodes []int, tag string) map[string]bool {
		want := map[string]bool{}
		for _, i := range nodes {
			for n := range comments {
				body := fmt.Sprintf("%s from n%d #%d", tag, i, n)
				if _, err := viewers[i][0].SendLive(ctx, room, []byte(body)); err != nil {
					t.Fatal(err)
				}
				want[body] = true
			}
		}
		return want
	}
	want := post([]int{0, 1, 2}, "all")
	for i := range procs {
		for k, c := range viewers[i] {
			expectComments(t, fmt.Sprintf("viewer %d on n%d", k, i), c, room, want)
		}
	}
	for i, p := range procs {
		for j := range procs {
			if i == j {
				continue
			}
			peer := fmt.Sprintf(`{peer="n%d"}`, j)
			if f := metricValue(t, p.addr, "edgegate_room_comments_forwarded_total"+peer); f != comments {
				t.Errorf("n%d forwarded %v comments to n%d, want %d (once per link, not per viewer)", i, f, j, comments)
			}
			if r := metricValue(t, p.addr, "edgegate_room_comments_received_total"+peer); r != comments {
				t.Errorf("n%d received %v comments from n%d, want %d", i, r, j, comments)
			}
		}
	}

	procs[2].kill9()
	want = post([]int{0, 1}, "after kill")
	for i := range 2 {
		for k, c := range viewers[i] {
			expectComments(t, fmt.Sprintf("viewer %d on n%d after the kill", k, i), c, room, want)
		}
	}
}
