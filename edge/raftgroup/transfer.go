package raftgroup

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// TransferLeadership hands every group this replica leads to another voter
// (raft's leadership transfer: the most up-to-date follower is told to
// campaign at once, and this replica steps down once it has), so a node
// that is about to stop (a drain) leaves no group leaderless: without it,
// every group it led waits for its followers to notice it gone, and the
// writes in flight in those groups with it. Writes arriving meanwhile are
// answered "not leader" and retried (Append waits for the new leader).
// It returns how many groups changed leader; groups whose transfer failed
// or did not finish before ctx ends are counted in failed (they fail over
// as after a crash). A group of one replica has no one to hand over to.
func (n *Node) TransferLeadership(ctx context.Context) (moved, failed int) {
	n.mu.RLock()
	if n.closed {
		n.mu.RUnlock()
		return 0, 0
	}
	var led []*group
	for _, g := range n.groups {
		if g.r.State() == raft.Leader && len(g.r.GetConfiguration().Configuration().Servers) > 1 {
			led = append(led, g)
		}
	}
	n.mu.RUnlock()
	var ok, bad atomic.Int64
	var wg sync.WaitGroup
	for _, g := range led {
		wg.Go(func() {
			done := make(chan error, 1)
			go func() { done <- g.r.LeadershipTransfer().Error() }()
			select {
			case err := <-done:
				if err != nil && !errors.Is(err, raft.ErrNotLeader) {
					n.o.Logger.Warn("raftgroup: leadership transfer failed", "group", g.id, "err", err)
					bad.Add(1)
					return
				}
				ok.Add(1)
			case <-ctx.Done():
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if len(led) > 0 {
		n.o.Logger.Info("raftgroup: leadership handed over", "groups", ok.Load(), "failed", bad.Load())
	}
	return int(ok.Load()), int(bad.Load())
}
