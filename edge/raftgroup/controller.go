package raftgroup

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// Placement operations (Placement.OnChange, PlacementStats).
const (
	OpAdd      = "add"      // AddVoter of a desired node (or a new address)
	OpRemove   = "remove"   // RemoveServer of a node no longer desired
	OpTransfer = "transfer" // leadership handed over by an undesired leader
	OpLearner  = "learner"  // AddNonvoter of another member (Placement.Learners)
	OpDemote   = "demote"   // DemoteVoter of an undesired member (Placement.Learners)
)

// catchUpRetry is how soon a pass follows one that left a learner to
// catch up before its promotion.
const catchUpRetry = 100 * time.Millisecond

// controller makes each group this node leads converge to its desired
// voters (membership placement), one configuration change at a time.
type controller struct {
	n    *Node
	p    Placement
	view view
	kick chan struct{} // buffered(1): a membership event
	quit chan struct{}
	wg   sync.WaitGroup

	// catchingUp is set by a pass (run's goroutine only) that left a
	// learner to catch up before its promotion: the next pass comes
	// sooner than Interval.
	catchingUp bool

	adds, removes, transfers, failures atomic.Uint64
	learners, demotes                  atomic.Uint64
	passes                             atomic.Uint64 // passes done (tests await them)
}

func newController(n *Node, p Placement) *controller {
	return &controller{n: n, p: p, kick: make(chan struct{}, 1), quit: make(chan struct{})}
}

func (c *controller) start() {
	c.wg.Add(1)
	go c.run()
}

// stop ends the loop; a change in flight returns when its group shuts
// down, so stop closes the quit channel and waits after the groups stop.
func (c *controller) signal() { close(c.quit) }
func (c *controller) wait()   { c.wg.Wait() }

// notify asks for a pass soon (coalesced).
func (c *controller) notify() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *controller) run() {
	defer c.wg.Done()
	t := time.NewTicker(c.p.Interval)
	defer t.Stop()
	for {
		// A pass that changed something is followed by another at once:
		// each group takes one change per pass, and the next one only
		// after the previous committed.
		if !c.pass() {
			var soon <-chan time.Time
			if c.catchingUp {
				soon = time.After(catchUpRetry)
			}
			select {
			case <-c.quit:
				return
			case <-c.kick:
			case <-c.n.leaderObs:
			case <-t.C:
			case <-soon:
			}
		}
		select {
		case <-c.quit:
			return
		default:
		}
	}
}

// current is the membership view with the grace applied, now.
func (c *controller) current() candidates {
	return c.view.candidates(c.p.Members(), time.Now(), c.p.Grace)
}

// pass checks every group this node leads; it reports whether it made a
// change.
func (c *controller) pass() bool {
	defer c.passes.Add(1)
	c.catchingUp = false
	cands := c.current()
	changed := false
	for _, g := range c.n.groups {
		select {
		case <-c.quit:
			return false
		default:
		}
		if g.r.State() == raft.Leader && c.step(g, cands) {
			changed = true
		}
	}
	return changed
}

// step makes at most one change to g's configuration, and waits for it
// to commit: first it adds a desired node that is missing (alive ones
// only: a dead node within its grace keeps a place it holds but is given
// none), then, once every desired node is a voter, it removes one that is
// not desired, other nodes before this one; a leader that is not desired
// itself hands its leadership to the best-ranked desired voter, which
// then removes it.
func (c *controller) step(g *group, cands candidates) bool {
	f := g.r.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	cfg := f.Configuration()
	desired := cands.place(g.id, c.p.Replicas)
	if len(desired) == 0 {
		return false
	}
	servers := map[string]raft.Server{}
	for _, s := range cfg.Servers {
		servers[string(s.ID)] = s
	}
	missing := false
	for _, id := range desired {
		s, ok := servers[id]
		addr := cands.addrs[id]
		if ok && s.Suffrage == raft.Voter && string(s.Address) == addr {
			continue
		}
		if !cands.alive[id] {
			missing = true // holds its place through the grace: no change
			continue
		}
		if !ok || (s.Suffrage != raft.Voter && string(s.Address) != addr) {
			// A learner first: it catches up without counting for
			// the majority, and is promoted once it has.
			err := g.r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), f.Index(), c.p.ChangeTimeout).Error()
			return c.done(g, OpLearner, id, err, len(cfg.Servers))
		}
		if s.Suffrage != raft.Voter && !g.caughtUp(addr) {
			missing, c.catchingUp = true, true // promoted at a later pass
			continue
		}
		// A caught-up learner becomes a voter (or a voter's address moved).
		err := g.r.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), f.Index(), c.p.ChangeTimeout).Error()
		return c.done(g, OpAdd, id, err, len(cfg.Servers))
	}
	if missing {
		return false
	}
	self := c.n.o.NodeID
	wanted := map[string]bool{}
	for _, id := range desired {
		wanted[id] = true
	}
	eligible := map[string]bool{}
	for _, id := range cands.ids {
		eligible[id] = true
	}
	for _, s := range cfg.Servers {
		id := string(s.ID)
		if wanted[id] || id == self {
			continue
		}
		if !cands.known[id] && c.view.absentFor(id, time.Now()) < c.p.Grace {
			continue // not in the view (yet, or any more): wait the grace
		}
		if c.p.Learners && eligible[id] {
			if s.Suffrage == raft.Voter {
				err := g.r.DemoteVoter(s.ID, f.Index(), c.p.ChangeTimeout).Error()
				return c.done(g, OpDemote, id, err, len(cfg.Servers))
			}
			continue // a learner it stays
		}
		err := g.r.RemoveServer(s.ID, f.Index(), c.p.ChangeTimeout).Error()
		return c.done(g, OpRemove, id, err, len(cfg.Servers))
	}
	if c.p.Learners {
		for _, id := range cands.ids {
			if s, ok := servers[id]; (ok && string(s.Address) == cands.addrs[id]) || wanted[id] || !cands.alive[id] {
				continue // a learner already (or a voter), or not to be
			}
			err := g.r.AddNonvoter(raft.ServerID(id), raft.ServerAddress(cands.addrs[id]), f.Index(), c.p.ChangeTimeout).Error()
			return c.done(g, OpLearner, id, err, len(cfg.Servers))
		}
	}
	if !wanted[self] {
		to := ""
		for _, id := range desired {
			if cands.alive[id] {
				to = id
				break
			}
		}
		if to == "" {
			return false
		}
		err := g.r.LeadershipTransferToServer(raft.ServerID(to), raft.ServerAddress(cands.addrs[to])).Error()
		return c.done(g, OpTransfer, to, err, len(cfg.Servers))
	}
	return false
}

// done logs and counts a change; it reports whether it took effect.
func (c *controller) done(g *group, op, node string, err error, before int) bool {
	if c.p.OnChange != nil {
		c.p.OnChange(g.id, op, node, err)
	}
	log := c.n.o.Logger
	if err != nil {
		c.failures.Add(1)
		log.Warn("raftgroup: placement change failed", "group", g.id, "op", op, "node", node, "err", err)
		return false
	}
	switch op {
	case OpAdd:
		c.adds.Add(1)
	case OpRemove:
		c.removes.Add(1)
	case OpTransfer:
		c.transfers.Add(1)
	case OpLearner:
		c.learners.Add(1)
	case OpDemote:
		c.demotes.Add(1)
	}
	log.Info("raftgroup: placement change", "group", g.id, "op", op, "node", node, "servers_before", before)
	return true
}

// PlacementStats describe membership placement on this node: the groups
// it leads (each group is counted by its leader only, so a region's
// figures are the sums over its nodes) and the changes it made.
type PlacementStats struct {
	Led                                int // groups this node leads
	Desired                            int // their desired voters, summed
	Actual                             int // their voters the view reports alive, summed
	UnderReplicated                    int // led groups with fewer live voters than Placement.Replicas
	Adds, Removes, Transfers, Failures uint64
	Learners, Demotes                  uint64
	NonVoters                          int // their non-voters, summed (Placement.Learners)
}

// stats reads the groups this node leads against the current view.
func (c *controller) stats() PlacementStats {
	cands := c.current()
	st := PlacementStats{Adds: c.adds.Load(), Removes: c.removes.Load(), Transfers: c.transfers.Load(), Failures: c.failures.Load(),
		Learners: c.learners.Load(), Demotes: c.demotes.Load()}
	for _, g := range c.n.groups {
		if g.r.State() != raft.Leader {
			continue
		}
		f := g.r.GetConfiguration()
		if f.Error() != nil {
			continue
		}
		st.Led++
		st.Desired += len(cands.place(g.id, c.p.Replicas))
		live := 0
		for _, s := range f.Configuration().Servers {
			if s.Suffrage == raft.Voter && cands.alive[string(s.ID)] {
				live++
			} else if s.Suffrage != raft.Voter {
				st.NonVoters++
			}
		}
		st.Actual += live
		if live < c.p.Replicas {
			st.UnderReplicated++
		}
	}
	return st
}
