package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport/pb"
)

// writeGossipKey writes a gossip key (hex) for --gossip-key-file and
// returns its path.
func writeGossipKey(t *testing.T) string {
	t.Helper()
	key := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(key, []byte("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return key
}

// routeEdge is one entry of GET /v1/route.
type routeEdge struct {
	NodeID   string `json:"node_id"`
	Region   string `json:"region"`
	WSURL    string `json:"ws_url"`
	Health   int    `json:"health"`
	Capacity int    `json:"capacity"`
	Fallback bool   `json:"fallback"`
}

// route reads GET /v1/route of the edge at addr (no API key: it is
// public); ok is false when the edge answered 429 (rate-limited).
func route(t *testing.T, addr, query string) (edges []routeEdge, ok bool) {
	t.Helper()
	var body struct {
		Edges []routeEdge `json:"edges"`
	}
	resp, err := http.Get("http://" + addr + "/v1/route" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		return nil, false
	case http.StatusOK:
	default:
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /v1/route%s: %d %s", query, resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Edges, true
}

// waitRoute polls the edge at addr until /v1/route lists exactly the
// nodes want (by id, in any order) and returns the edges (polling: the
// API has no watch).
func waitRoute(t *testing.T, addr string, want []string, limit time.Duration) []routeEdge {
	t.Helper()
	deadline := time.Now().Add(limit)
	var edges []routeEdge
	for {
		var ok bool
		if edges, ok = route(t, addr, "?region=r1&limit=16"); ok {
			var ids []string
			for _, e := range edges {
				ids = append(ids, e.NodeID)
			}
			slices.Sort(ids)
			if slices.Equal(ids, want) {
				return edges
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /v1/route lists %+v after %v, want %v", addr, edges, limit, want)
		}
		time.Sleep(150 * time.Millisecond)
	}
}

// sender sends messages "<prefix>-i" to conv, one after another, until
// stop is closed (at most max), and records the acked ones (client
// message id -> seq).
type sender struct {
	c      *client.Client
	prefix string
	mu     sync.Mutex
	acked  map[string]uint64
	ackedN chan struct{} // receives after every ack
}

func (s *sender) run(t *testing.T, conv string, stop <-chan struct{}, max int) {
	for i := range max {
		select {
		case <-stop:
			return
		default:
		}
		id := fmt.Sprintf("%s-%d", s.prefix, i)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ack, err := s.c.SendWithID(ctx, conv, id, []byte(id))
		cancel()
		if err != nil {
			t.Errorf("%s: send %d: %v", s.prefix, i, err)
			return
		}
		s.mu.Lock()
		s.acked[id] = ack.Seq
		s.mu.Unlock()
		select {
		case s.ackedN <- struct{}{}:
		default:
		}
	}
}

func (s *sender) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.acked)
}

// receiveAll reads c's messages of conv until every id of want arrived,
// failing on a duplicate or out-of-order seq; it returns them in order.
func receiveAll(t *testing.T, name string, c *client.Client, conv string, want map[string]uint64, limit time.Duration) []*pb.Message {
	t.Helper()
	deadline := time.After(limit)
	seen := map[string]bool{}
	var got []*pb.Message
	missing := len(want)
	for missing > 0 {
		select {
		case m := <-c.Messages():
			if m.Conversation != conv {
				continue
			}
			if n := len(got); n > 0 && m.Seq <= got[n-1].Seq {
				t.Fatalf("%s: seq %d after %d (duplicate or out of order)", name, m.Seq, got[n-1].Seq)
			}
			got = append(got, m)
			id := m.ClientMsgId
			if seq, ok := want[id]; ok && !seen[id] {
				if seq != m.Seq {
					t.Fatalf("%s: %s delivered at seq %d, acked at %d", name, id, m.Seq, seq)
				}
				seen[id] = true
				missing--
			}
		case <-deadline:
			t.Fatalf("%s: %d of %d acked messages missing after %v", name, missing, len(want), limit)
		}
	}
	return got
}

// resumeResults reads edgegate_resumes_total by result from the edge at
// addr's /metrics.
func resumeResults(t *testing.T, addr string) map[string]int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]int{}
	for line := range strings.Lines(string(b)) {
		var result string
		var n int
		if _, err := fmt.Sscanf(line, "edgegate_resumes_total{result=%q} %d", &result, &n); err == nil {
			out[result] = n
		}
	}
	return out
}

// live lists the WebSocket URLs of procs.
func live(procs []*edgeProc) []string {
	var out []string
	for _, p := range procs {
		out = append(out, p.url())
	}
	return out
}

// TestRouteAndDrainToPeer: three edge processes (one Raft region, one
// encrypted gossip cluster, shared resume secret). GET /v1/route answers
// on every node and lists the three. Then the node that alice and carol
// are connected to gets SIGTERM while they chat with bob on another node
// and alice and bob keep sending: both are redirected to a live peer,
// resume there (their resume tokens verify on it), and every acked
// message reaches every member exactly once, in order, with no gap; the
// survivors' /v1/route stops listing the drained node.
func TestRouteAndDrainToPeer(t *testing.T) {
	key, raftKey := writeGossipKey(t), writeRaftSecret(t)
	const n = 3
	var addrs, raftAddrs, gossipAddrs, peers, ids []string
	for i := range n {
		addrs, raftAddrs, gossipAddrs = append(addrs, freePort(t)), append(raftAddrs, freePort(t)), append(gossipAddrs, freePort(t))
		ids = append(ids, fmt.Sprintf("n%d", i))
		peers = append(peers, ids[i]+"@"+raftAddrs[i])
	}
	procs := make([]*edgeProc, n)
	for i := range n {
		args := []string{"--node-id", ids[i], "--raft-listen", raftAddrs[i], "--peers", strings.Join(peers, ","),
			"--raft-groups", "4", "--raft-secret-file", raftKey, "--raft-heartbeat-timeout", "1s",
			"--gossip-listen", gossipAddrs[i], "--gossip-key-file", key, "--region", "r1"}
		if i > 0 {
			args = append(args, "--join", gossipAddrs[0])
		}
		procs[i] = startEdge(t, addrs[i], t.TempDir(), args...)
	}
	for _, p := range procs {
		edges := waitRoute(t, p.addr, ids, 15*time.Second)
		for _, e := range edges {
			i := slices.Index(ids, e.NodeID)
			if e.WSURL != procs[i].url() || e.Region != "r1" || e.Fallback || e.Health < 20 || e.Capacity != 100000 {
				t.Errorf("%s lists %+v, want ws_url %s", p.addr, e, procs[i].url())
			}
		}
	}
	if edges, ok := route(t, procs[0].addr, "?region=elsewhere&limit=2"); ok && (len(edges) != 2 || !edges[0].Fallback) {
		t.Errorf("another region: %+v, want 2 fallback edges", edges)
	}
	// The SDK's helper picks a first edge the same way.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if edges, err := client.Route(ctx, nil, "http://"+procs[1].addr, "r1"); err != nil || len(edges) != n || !slices.Contains(live(procs), edges[0].WSURL) {
		t.Errorf("client.Route: %+v, %v", edges, err)
	}

	conv := "g:drain"
	drained := procs[2]
	bob := dialClient(t, procs[0].url(), "bob", "phone", []string{conv}, nil)
	alice := dialClient(t, drained.url(), "alice", "phone", []string{conv}, nil)
	carol := dialClient(t, drained.url(), "carol", "phone", []string{conv}, nil)

	const maxPerSender = 2000
	senders := []*sender{
		{c: bob, prefix: "bob", acked: map[string]uint64{}, ackedN: make(chan struct{}, 1)},
		{c: alice, prefix: "alice", acked: map[string]uint64{}, ackedN: make(chan struct{}, 1)},
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for _, s := range senders {
		wg.Go(func() { s.run(t, conv, stop, maxPerSender) })
	}
	sendDone := make(chan struct{})
	go func() { wg.Wait(); close(sendDone) }()
	stopped := false
	defer func() {
		if !stopped {
			close(stop)
			<-sendDone
		}
	}()
	// waitAcks waits until every sender has more than min acks.
	waitAcks := func(min []int, limit time.Duration) {
		t.Helper()
		timeout := time.After(limit)
		for i, s := range senders {
			for s.count() <= min[i] {
				select {
				case <-s.ackedN:
				case <-sendDone:
					t.Fatalf("%s stopped sending", s.prefix)
				case <-timeout:
					t.Fatalf("%s: %d acks after %v, want more than %d", s.prefix, s.count(), limit, min[i])
				}
			}
		}
	}
	// SIGTERM once both have some acked messages; stop sending once both
	// have had more acked after the drain.
	waitAcks([]int{20, 20}, 30*time.Second)
	drainStart := time.Now()
	if err := drained.term(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	atExit := []int{senders[0].count(), senders[1].count()}
	t.Logf("n2 drained and exited in %v; acks so far: bob %d, alice %d", time.Since(drainStart), atExit[0], atExit[1])
	waitAcks([]int{atExit[0] + 20, atExit[1] + 20}, 30*time.Second)
	close(stop)
	stopped = true
	<-sendDone
	if t.Failed() {
		return
	}
	t.Logf("stopped sending %v after the drain began: bob %d, alice %d acks", time.Since(drainStart), senders[0].count(), senders[1].count())

	live := live(procs[:2])
	for name, c := range map[string]*client.Client{"alice": alice, "carol": carol} {
		st := c.Stats()
		if !slices.Contains(live, st.URL) || st.Reconnects == 0 {
			t.Errorf("%s: URL %s after %d reconnects, want a redirect to a live peer %v", name, st.URL, st.Reconnects, live)
		}
	}
	all := map[string]uint64{}
	for _, s := range senders {
		for id, seq := range s.acked {
			all[id] = seq
		}
	}
	for name, c := range map[string]*client.Client{"alice": alice, "carol": carol, "bob": bob} {
		got := receiveAll(t, name, c, conv, all, 20*time.Second)
		checkOrder(t, got, 1) // gap-free from the start, across the move
	}
	// The log itself holds every acked message once (resent sends were
	// deduplicated).
	log := history(t, procs[0].addr, conv)
	if len(log) != len(all) {
		t.Errorf("log holds %d messages, %d acked", len(log), len(all))
	}
	for _, m := range log {
		if all[m.ClientMsgID] != m.Seq {
			t.Errorf("log: %s at seq %d, acked at %d", m.ClientMsgID, m.Seq, all[m.ClientMsgID])
		}
	}
	// The resume tokens verified on the peers (a shared resume secret):
	// the sessions were unknown there, never invalid.
	results := map[string]int{}
	for _, p := range procs[:2] {
		for r, k := range resumeResults(t, p.addr) {
			results[r] += k
		}
	}
	if results["unknown"] < 2 || results["invalid"] != 0 {
		t.Errorf("resumes on the survivors: %v, want 2 or more unknown (verified) and no invalid", results)
	}
	for _, p := range procs[:2] {
		waitRoute(t, p.addr, ids[:2], 10*time.Second)
	}
}
