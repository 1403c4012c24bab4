package gossip

import (
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/edgegate/edgegate/gossip/memnet"
	"github.com/hashicorp/memberlist"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// waitUntil polls cond until it holds or d passes. It is used where the
// awaited state is the result of gossip spreading over many nodes (a
// converged view) rather than one event that could be awaited directly.
func waitUntil(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// awaitEvent reads sub until an event for member id of type typ arrives,
// failing on timeout. Other events are skipped; if reject is true for an
// event, the test fails.
func awaitEvent(tb testing.TB, sub *Subscription, id string, typ EventType, d time.Duration, reject func(Event) bool, observer ...string) Event {
	tb.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				tb.Fatalf("subscription closed waiting for %s of %s", typ, id)
			}
			if ev.Member.ID != id {
				continue
			}
			if reject != nil && reject(ev) {
				tb.Fatalf("unexpected event %s for %s: %+v", ev.Type, id, ev)
			}
			if ev.Type == typ {
				return ev
			}
		case <-timer.C:
			tb.Fatalf("timed out after %v waiting for %s of %s at %v (dropped %d)", d, typ, id, observer, sub.Dropped())
		}
	}
}

// memCluster is a set of Clusters on one memnet network.
type memCluster struct {
	tb     testing.TB
	net    *memnet.Network
	preset Preset
	tune   func(*memberlist.Config)
	nodes  map[string]*Cluster
	addrs  map[string]string
	ids    []string
}

func newMemCluster(tb testing.TB, seed uint64, preset Preset) *memCluster {
	mc := &memCluster{
		tb: tb, net: memnet.New(seed), preset: preset,
		nodes: make(map[string]*Cluster), addrs: make(map[string]string),
		// memberlist's LZW compression of every gossip packet is ~20x
		// slower under the race detector and made 50-node joins time out
		// on a 2-core machine; it is not what these tests exercise (the
		// loopback test keeps it on).
		tune: func(c *memberlist.Config) { c.EnableCompression = false },
	}
	tb.Cleanup(func() {
		for _, c := range mc.nodes {
			_ = c.Shutdown()
		}
	})
	return mc
}

func nodeName(i int) string { return fmt.Sprintf("n%02d", i) }

// start adds node id, joining the given seeds (node ids).
func (mc *memCluster) start(id string, seeds ...string) *Cluster {
	mc.tb.Helper()
	tr := mc.net.NewTransport(id)
	var join []string
	for _, s := range seeds {
		join = append(join, mc.addrs[s])
	}
	c, err := New(Config{
		NodeID: id, Join: join, Preset: mc.preset, Transport: tr,
		Meta:   Meta{Region: "r1", Zone: "z" + id[len(id)-1:], NodeAddr: tr.Addr()},
		Logger: discardLogger(), ReconnectInterval: time.Second, tune: mc.tune,
	})
	if err != nil {
		mc.tb.Fatalf("start %s: %v", id, err)
	}
	mc.nodes[id] = c
	mc.addrs[id] = tr.Addr()
	mc.ids = append(mc.ids, id)
	return c
}

// kill shuts id down without leaving: the others see a crash.
func (mc *memCluster) kill(id string) {
	if err := mc.nodes[id].Shutdown(); err != nil {
		mc.tb.Fatalf("shutdown %s: %v", id, err)
	}
	delete(mc.nodes, id)
	mc.ids = slices.DeleteFunc(mc.ids, func(s string) bool { return s == id })
}

// converged reports whether every running node sees exactly the running
// nodes as alive.
func (mc *memCluster) converged() bool {
	for _, c := range mc.nodes {
		if c.Alive() != len(mc.nodes) {
			return false
		}
		for _, id := range mc.ids {
			if m, ok := c.Member(id); !ok || m.State != StateAlive {
				return false
			}
		}
	}
	return true
}

// percentile returns the p-th percentile (0-100) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
