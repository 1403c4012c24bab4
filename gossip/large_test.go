package gossip

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

const largeN = 50

// startLarge starts n nodes on an in-memory network, each joining a random
// earlier node, and waits for every view to list all n as alive.
func startLarge(tb testing.TB, seed uint64, preset Preset, n int) *memCluster {
	mc := newMemCluster(tb, seed, preset)
	if preset == PresetLocal {
		// A burst of 50 joins in about a second leaves a few views missing
		// a member whose alive broadcast was spent before they joined;
		// memberlist repairs that with push/pull, every 15 s in this preset
		// (30 s above 32 nodes). A 2 s push/pull keeps the test short.
		mc.tune = func(c *memberlist.Config) {
			c.EnableCompression = false
			c.PushPullInterval = 2 * time.Second
		}
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	t0 := time.Now()
	mc.start(nodeName(0))
	for i := 1; i < n; i++ {
		mc.start(nodeName(i), nodeName(rng.IntN(i)))
	}
	// Polled: convergence is gossip reaching every node, not one event.
	waitUntil(tb, 30*time.Second, "50 nodes to converge", mc.converged)
	tb.Logf("%d nodes started and converged in %v", n, time.Since(t0).Round(time.Millisecond))
	return mc
}

// detect waits until every observer reports an event of type typ for id and
// returns each observer's delay since t0.
func detect(tb testing.TB, subs map[string]*Subscription, id string, typ EventType, t0 time.Time, d time.Duration, reject func(Event) bool) []time.Duration {
	tb.Helper()
	var out []time.Duration
	for obs, sub := range subs {
		if obs == id {
			continue
		}
		ev := awaitEvent(tb, sub, id, typ, d, reject, obs)
		out = append(out, ev.Time.Sub(t0))
	}
	return out
}

func subscribeAll(mc *memCluster) map[string]*Subscription {
	subs := make(map[string]*Subscription, len(mc.nodes))
	for id, c := range mc.nodes {
		subs[id] = c.Subscribe(1024)
	}
	return subs
}

// TestLargeClusterFailureAndPartition: 50 nodes on the in-memory network
// with the "local" preset converge; a node killed without Leave is declared
// dead (not left) by every other node; a node cut off by a partition is
// declared dead by all the others and is alive again everywhere after the
// partition heals. Detection times are logged; the timing targets are in
// BenchmarkMembership.
func TestLargeClusterFailureAndPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("50-node cluster")
	}
	mc := startLarge(t, 7, PresetLocal, largeN)

	// Kill.
	subs := subscribeAll(mc)
	victim := nodeName(17)
	t0 := time.Now()
	mc.kill(victim)
	delete(subs, victim)
	ds := detect(t, subs, victim, EventDead, t0, 30*time.Second, func(ev Event) bool { return ev.Type == EventLeave })
	t.Logf("killed node declared dead by %d observers: p50 %v p99 %v max %v",
		len(ds), percentile(ds, 50).Round(time.Millisecond), percentile(ds, 99).Round(time.Millisecond), percentile(ds, 100).Round(time.Millisecond))
	for id, c := range mc.nodes {
		if m, ok := c.Member(victim); !ok || m.State != StateDead {
			t.Fatalf("%s sees killed %s as %+v", id, victim, m)
		}
	}

	// Partition one node from the rest.
	cut := nodeName(23)
	t0 = time.Now()
	mc.net.Partition([]string{cut})
	ds = detect(t, subs, cut, EventDead, t0, 30*time.Second, nil)
	t.Logf("partitioned node declared dead by %d observers: p50 %v p99 %v max %v",
		len(ds), percentile(ds, 50).Round(time.Millisecond), percentile(ds, 99).Round(time.Millisecond), percentile(ds, 100).Round(time.Millisecond))

	// Heal: both sides reconnect (Config.ReconnectInterval is 1 s here).
	t0 = time.Now()
	mc.net.Heal()
	ds = detect(t, subs, cut, EventJoin, t0, 30*time.Second, nil)
	t.Logf("healed node alive again at %d observers: p50 %v p99 %v max %v",
		len(ds), percentile(ds, 50).Round(time.Millisecond), percentile(ds, 99).Round(time.Millisecond), percentile(ds, 100).Round(time.Millisecond))
	// Polled: the cut node's own view recovers through gossip from many nodes.
	waitUntil(t, 30*time.Second, "the healed node to see everyone alive", func() bool {
		return mc.nodes[cut].Alive() == len(mc.nodes)
	})
	for id, sub := range subs {
		if d := sub.Dropped(); d != 0 {
			t.Errorf("%s dropped %d events", id, d)
		}
	}
	st := mc.net.Stats()
	t.Logf("network: %+v", st)
	if st.Partitioned == 0 {
		t.Fatal("the partition dropped no packets")
	}
}
