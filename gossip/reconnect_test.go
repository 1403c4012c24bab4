package gossip

import (
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// TestReconnectAfterLongPartition: once the majority has stopped gossiping
// to the cut node (GossipToTheDeadTime passed) and push/pull is far off,
// only the reconnect loop can merge the two sides after the partition heals.
func TestReconnectAfterLongPartition(t *testing.T) {
	mc := newMemCluster(t, 5, PresetLocal)
	mc.tune = func(c *memberlist.Config) {
		c.EnableCompression = false
		c.GossipToTheDeadTime = 500 * time.Millisecond
		c.PushPullInterval = time.Hour
	}
	for i := range 5 {
		mc.start(nodeName(i), mc.ids...)
	}
	waitUntil(t, 10*time.Second, "5 nodes to converge", mc.converged)
	subs := subscribeAll(mc)
	cut := nodeName(4)
	mc.net.Partition([]string{cut})
	detect(t, subs, cut, EventDead, time.Now(), 30*time.Second, nil)
	// Not synchronisation: let the majority's gossip-to-the-dead window
	// (500 ms) run out, so healing cannot ride on it.
	time.Sleep(time.Second)
	t0 := time.Now()
	mc.net.Heal()
	ds := detect(t, subs, cut, EventJoin, t0, 15*time.Second, nil)
	t.Logf("merged after heal: p50 %v max %v", percentile(ds, 50).Round(time.Millisecond), percentile(ds, 100).Round(time.Millisecond))
	waitUntil(t, 15*time.Second, "all views whole again", mc.converged)
}
