package gossip

import (
	"math/rand/v2"
	"time"
)

// reconnectLoop periodically tries to rejoin one member this node sees as
// dead (never one that left). memberlist by itself only gossips to dead
// nodes for GossipToTheDeadTime, so after a longer partition both sides would
// stay apart; a successful push/pull with the dead node lets each side refute
// the other's verdict and the halves merge (the approach of Serf's reconnect).
func (c *Cluster) reconnectLoop(interval time.Duration) {
	defer c.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		if c.leaving.Load() {
			continue
		}
		target, ok := c.pickDead()
		if !ok {
			continue
		}
		n, err := c.ml.Join([]string{target.Addr})
		if n > 0 {
			c.log.Info("reconnected to a member seen dead", "peer", target.ID, "addr", target.Addr)
		} else {
			c.log.Debug("reconnect attempt failed", "peer", target.ID, "addr", target.Addr, "err", err)
		}
	}
}

// pickDead returns a random dead member still within ReconnectTimeout.
func (c *Cluster) pickDead() (Member, bool) {
	now := time.Now()
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	var dead []Member
	for _, e := range c.view {
		if e.m.State == StateDead && now.Sub(e.since) <= c.cfg.ReconnectTimeout {
			dead = append(dead, e.m)
		}
	}
	if len(dead) == 0 {
		return Member{}, false
	}
	return dead[rand.IntN(len(dead))], true
}
