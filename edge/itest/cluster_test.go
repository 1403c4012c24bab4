package itest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

type clusterMember struct {
	ID       string `json:"id"`
	State    string `json:"state"`
	Region   string `json:"region"`
	Health   int    `json:"health"`
	Draining bool   `json:"draining"`
	MetaOK   bool   `json:"meta_ok"`
}

// members reads GET /v1/cluster/members of the edge at addr, by id.
func members(t *testing.T, addr string) map[string]clusterMember {
	t.Helper()
	var body struct {
		Members []clusterMember `json:"members"`
	}
	if status := apiGet(t, "http://"+addr+"/v1/cluster/members", &body); status != http.StatusOK {
		t.Fatalf("GET /v1/cluster/members: %d", status)
	}
	out := map[string]clusterMember{}
	for _, m := range body.Members {
		out[m.ID] = m
	}
	return out
}

// waitMember polls the edge at addr until it reports member id in state
// and returns how long that took (polling: the API has no watch).
func waitMember(t *testing.T, addr, id, state string, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if m, ok := members(t, addr)[id]; ok && m.State == state {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: member %s not %s after %v: %+v", addr, id, state, limit, members(t, addr))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterMembership: three edge processes form a gossip cluster on
// loopback (encrypted, LAN timings): each lists the three alive with
// their metadata (a usable health score); a kill -9 is detected as dead
// by the other two (the time is logged: the target's measurement of a
// 3-process cluster); a
// SIGTERM drain is seen as a departure (left), not a failure; an edge
// with another key never becomes a member.
func TestClusterMembership(t *testing.T) {
	dir := t.TempDir()
	key := writeGossipKey(t)
	gossipAddrs := []string{freePort(t), freePort(t), freePort(t)}
	var procs []*edgeProc
	for i, g := range gossipAddrs {
		args := []string{"--node-id", fmt.Sprintf("n%d", i), "--gossip-listen", g, "--gossip-key-file", key, "--region", "r1"}
		if i > 0 {
			args = append(args, "--join", gossipAddrs[0])
		}
		procs = append(procs, startEdge(t, freePort(t), t.TempDir(), args...))
	}
	for _, p := range procs {
		for i := range procs {
			id := fmt.Sprintf("n%d", i)
			waitMember(t, p.addr, id, "alive", 10*time.Second)
			m := members(t, p.addr)[id]
			if !m.MetaOK || m.Region != "r1" || m.Health < 20 || m.Draining {
				t.Errorf("%s sees %s with metadata %+v", p.addr, id, m)
			}
		}
	}

	// The operator status page lists the cluster's nodes.
	var st struct {
		Nodes []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"nodes"`
	}
	if code := apiGet(t, "http://"+procs[1].addr+"/v1/status", &st); code != http.StatusOK || len(st.Nodes) != 3 {
		t.Fatalf("/v1/status: %d, nodes %+v", code, st.Nodes)
	}
	for _, n := range st.Nodes {
		if n.State != "alive" {
			t.Errorf("/v1/status lists %s as %s", n.ID, n.State)
		}
	}

	// Another key: the node cannot join (its start fails: no seed answers).
	other := filepath.Join(dir, "other.key")
	if err := os.WriteFile(other, []byte("ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runEdgeBriefly(t, "--node-id", "intruder", "--gossip-listen", freePort(t), "--gossip-key-file", other, "--join", gossipAddrs[0]); err == nil {
		t.Fatalf("an edge with another gossip key started and joined:\n%s", out)
	}
	if _, ok := members(t, procs[0].addr)["intruder"]; ok {
		t.Fatal("an edge with another gossip key is listed as a member")
	}

	procs[2].kill9()
	for _, p := range procs[:2] {
		took := waitMember(t, p.addr, "n2", "dead", 30*time.Second)
		t.Logf("%s saw the killed n2 dead after %v", p.addr, took)
	}
	if err := procs[1].term(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	took := waitMember(t, procs[0].addr, "n1", "left", 10*time.Second)
	t.Logf("n0 saw the drained n1 leave after %v", took)
}

// runEdgeBriefly runs an edge that is expected to fail at start and
// returns its output and exit error; one still running after 30 s is
// killed and reported as started (nil error).
func runEdgeBriefly(t *testing.T, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"--listen", freePort(t), "--data", t.TempDir(), "--auth-hmac-secret", secret, "--api-key", apiKey}, extra...)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, edgeBin, args...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		return string(out), nil
	}
	return string(out), err
}
