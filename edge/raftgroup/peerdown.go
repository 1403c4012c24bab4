package raftgroup

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// DefaultCampaignStagger is how long the follower ranked r-th (by node id)
// waits before it campaigns, r times over (Options.CampaignStagger): the
// first starts at once; the next one only if the group still has no
// leader after it (the first one's election failed: its log was behind,
// or it was down too).
const DefaultCampaignStagger = 300 * time.Millisecond

// Campaigner is a raft.Transport that can make its node's replica start
// an election at once (raftmux.Transport.Campaign).
type Campaigner interface {
	Campaign() error
}

// PeerDown is told that the node at Raft address addr is dead (its
// process is gone: raftmux saw its connection end and its port refuse a
// new one). For every group that node led, one follower starts an
// election at once instead of waiting one to two HeartbeatTimeouts: the
// follower with the smallest node id among the group's other voters, so
// that two followers do not split the vote. If the group still has no
// leader CampaignStagger later (that election failed, for example because
// the chosen follower's log was behind and its peers refused their
// votes), the next follower by id campaigns, and so on; Raft's own timers
// remain the last resort. It returns the number of groups whose election
// this node started at once.
func (n *Node) PeerDown(addr string) int {
	n.mu.RLock()
	if n.closed {
		n.mu.RUnlock()
		return 0
	}
	type campaign struct {
		g *group
		c Campaigner
	}
	var now []campaign
	for _, g := range n.groups {
		c, ok := g.trans.(Campaigner)
		if !ok || g.r.State() != raft.Follower {
			continue
		}
		if leaderAddr, _ := g.r.LeaderWithID(); string(leaderAddr) != addr {
			continue
		}
		f := g.r.GetConfiguration()
		if f.Error() != nil {
			continue
		}
		var others []string
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter && string(s.Address) != addr {
				others = append(others, string(s.ID))
			}
		}
		slices.Sort(others)
		rank := slices.Index(others, n.o.NodeID)
		switch {
		case rank < 0:
		case rank > 0:
			time.AfterFunc(time.Duration(rank)*n.o.CampaignStagger, func() { n.campaignIfLeaderless(g, c, addr) })
		default:
			now = append(now, campaign{g, c})
		}
	}
	n.mu.RUnlock()
	// Each Campaign waits for its group's Raft loop to take the request
	// (bounded by raftmux's timeout): one busy group must not hold up the
	// elections of the others.
	var started atomic.Int64
	var wg sync.WaitGroup
	for _, cp := range now {
		wg.Go(func() {
			if err := cp.c.Campaign(); err != nil {
				n.o.Logger.Warn("raftgroup: could not start an election", "group", cp.g.id, "err", err)
				return
			}
			started.Add(1)
		})
	}
	wg.Wait()
	if started.Load() > 0 {
		n.o.Logger.Info("raftgroup: leader's node down, elections started", "peer", addr, "groups", started.Load())
	}
	return int(started.Load())
}

// campaignIfLeaderless starts g's election on this node if it is a
// follower that knows no leader other than the dead one at addr.
func (n *Node) campaignIfLeaderless(g *group, c Campaigner, addr string) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed || g.r.State() != raft.Follower {
		return
	}
	if leaderAddr, _ := g.r.LeaderWithID(); leaderAddr != "" && string(leaderAddr) != addr {
		return
	}
	if err := c.Campaign(); err == nil {
		n.o.Logger.Info("raftgroup: the first election after a leader's loss failed, campaigning", "group", g.id)
	}
}
