package itest

import (
	"fmt"
	"testing"
	"time"
)

// placementFigures sums membership placement's gauges over the edges at
// addrs (each group is counted by its leader).
func placementFigures(t *testing.T, addrs []string) (actual, nonvoters, under float64) {
	t.Helper()
	for _, a := range addrs {
		actual += metricValue(t, a, `edgegate_raft_placement_voters{kind="actual"}`)
		nonvoters += metricValue(t, a, "edgegate_raft_placement_nonvoters")
		under += metricValue(t, a, "edgegate_raft_groups_under_replicated")
	}
	return actual, nonvoters, under
}

// waitPlacement waits until the region's groups have the given voters and
// non-voters in total, none under-replicated, and returns how long it took.
func waitPlacement(t *testing.T, addrs []string, voters, nonvoters float64, limit time.Duration, why string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		a, n, u := placementFigures(t, addrs)
		if a == voters && n == nonvoters && u == 0 {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: %v voters, %v non-voters, %v groups under-replicated after %v; want %v and %v", why, a, n, u, limit, voters, nonvoters)
		}
		time.Sleep(100 * time.Millisecond) // polling /metrics
	}
}

// TestRaftMembershipPlacement: four edge processes with --raft-placement
// membership and no peer lists: n0 founds the region alone, n1-n3 join by
// gossip. Every group converges to three voters and one non-voter, and
// messages sent through every node are acked. The founder n0 is killed -9:
// after --raft-dead-grace every group has three voters again (the
// survivors). n0 restarts on its data (it does not found anything again)
// and is placed again; n2 drains (SIGTERM) and is replaced at once. Every
// acked message is in the log of every node left.
func TestRaftMembershipPlacement(t *testing.T) {
	const groups = 8
	const grace = 3 * time.Second
	secretFile, key := writeRaftSecret(t), writeGossipKey(t)
	type node struct {
		args       []string
		data, http string
	}
	var nodes []node
	procs := make([]*edgeProc, 4)
	gossip := make([]string, 4)
	for i := range procs {
		gossip[i] = freePort(t)
		n := node{data: t.TempDir(), http: freePort(t), args: []string{"--node-id", fmt.Sprintf("n%d", i), "--raft-listen", freePort(t),
			"--raft-groups", fmt.Sprint(groups), "--raft-secret-file", secretFile, "--raft-placement", "membership",
			"--raft-dead-grace", grace.String(), "--raft-heartbeat-timeout", "500ms", "--region", "r1",
			"--gossip-key-file", key, "--gossip-preset", "local", "--gossip-listen", gossip[i]}}
		if i > 0 {
			n.args = append(n.args, "--join", gossip[0])
		}
		nodes = append(nodes, n)
		procs[i] = startEdge(t, n.http, n.data, n.args...)
	}
	addrs := func(ps ...*edgeProc) (out []string) {
		for _, p := range ps {
			out = append(out, p.addr)
		}
		return out
	}
	took := waitPlacement(t, addrs(procs...), 3*groups, groups, 60*time.Second, "four nodes")
	t.Logf("four nodes placed %v after the last one was ready", took)

	const conv = "group:placed"
	sent := 0
	send := func(ps []*edgeProc, n int) {
		for range n {
			p := ps[sent%len(ps)]
			apiSend(t, "http://"+p.addr, conv, "alice", fmt.Sprintf("m%d", sent), "hi")
			sent++
		}
	}
	send(procs, 20)

	procs[0].kill9()
	killed := time.Now()
	survivors := procs[1:]
	send(survivors, 20)
	waitPlacement(t, addrs(survivors...), 3*groups, 0, 60*time.Second, "after n0 was killed")
	if d := time.Since(killed); d < grace {
		t.Fatalf("n0 replaced %v after its kill, within its grace (%v)", d, grace)
	}
	t.Logf("three voters per group again %v after the kill (grace %v)", time.Since(killed), grace)

	// n0 comes back on its data; it joins the gossip of the others
	// (alone it would not find them) and founds nothing.
	procs[0] = startEdge(t, nodes[0].http, nodes[0].data, append(nodes[0].args, "--join", gossip[1])...)
	took = waitPlacement(t, addrs(procs...), 3*groups, groups, 60*time.Second, "after n0 restarted")
	t.Logf("the restarted n0 placed again %v after it was ready", took)
	send(procs, 20)

	drained := time.Now()
	if err := procs[2].term(); err != nil {
		t.Fatalf("drain: %v", err)
	}
	left := []*edgeProc{procs[0], procs[1], procs[3]}
	waitPlacement(t, addrs(left...), 3*groups, 0, 60*time.Second, "after n2 drained")
	t.Logf("the drained n2 replaced %v after SIGTERM", time.Since(drained))
	send(left, 20)
	for _, p := range left {
		deadline := time.Now().Add(10 * time.Second)
		for {
			h := history(t, p.addr, conv)
			ok := len(h) == sent
			for i, m := range h {
				ok = ok && m.Seq == uint64(i+1)
			}
			if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds %d messages, %d acked", p.addr, len(h), sent)
			}
			time.Sleep(50 * time.Millisecond) // polling: a replica applies in the background
		}
	}
}
