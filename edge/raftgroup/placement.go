package raftgroup

import (
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Placement defaults.
const (
	// DefaultReplicas is the number of voters a group keeps under
	// membership placement.
	DefaultReplicas = 3
	// DefaultDeadGrace is how long a member the membership view reports
	// dead keeps its places before it is replaced.
	DefaultDeadGrace = 30 * time.Second
	// DefaultPlacementInterval is how often the controller checks every
	// group this node leads even when no membership event came.
	DefaultPlacementInterval = 5 * time.Second
	// DefaultChangeTimeout bounds one configuration change (raft's
	// enqueue timeout; the change then waits for its commit).
	DefaultChangeTimeout = 10 * time.Second
)

// MemberState is what the membership view says of a node.
type MemberState uint8

const (
	// MemberAlive: a node that takes replicas.
	MemberAlive MemberState = iota
	// MemberDead: a node the view reports failed (crash, partition). It
	// keeps the places it holds for Placement.Grace, so a node that comes
	// back soon (a restart) does not cost its groups a snapshot each; it
	// is given no new place meanwhile.
	MemberDead
	// MemberGone: a node that is draining, leaving or left. Its places
	// are handed over at once.
	MemberGone
)

// Member is a node of the region as the membership view sees it.
type Member struct {
	ID    string
	Addr  string // its Raft address; a member without one is ignored
	State MemberState
	Zone  string // its zone within the region: replicas spread over zones
}

// Placement turns on membership placement: each group's voters follow
// the region's membership (Options.Placement; nil keeps static peers).
type Placement struct {
	// Members returns the region's nodes as the membership view sees
	// them, this node included (the edge: the gossip members of its
	// region with a Raft address). Required.
	Members func() []Member
	// Replicas is the number of voters per group. Default
	// DefaultReplicas.
	Replicas int
	// Grace is how long a dead member keeps its places. Default
	// DefaultDeadGrace.
	Grace time.Duration
	// Interval is how often the controller checks the groups this node
	// leads without an event (Node.MembershipChanged). Default
	// DefaultPlacementInterval.
	Interval time.Duration
	// ChangeTimeout bounds one configuration change. Default
	// DefaultChangeTimeout.
	ChangeTimeout time.Duration
	// Learners makes every other eligible member of the region follow
	// each group as a non-voter (raft's AddNonvoter): it receives and
	// applies the log, so it delivers committed messages to its own
	// sessions and answers reads from its own store, but it does not
	// count for commits or elections. A member placed in a group later
	// is then promoted with its log already caught up, and a voter no
	// longer placed is demoted rather than removed while it is alive.
	// Default false: only the Replicas voters hold the group.
	Learners bool
	// OnChange, if set, is told of each configuration change this node
	// made (op: one of the Op constants; err nil if it committed),
	// for metrics.
	OnChange func(group uint32, op, node string, err error)
}

func (p Placement) withDefaults() Placement {
	if p.Replicas <= 0 {
		p.Replicas = DefaultReplicas
	}
	if p.Grace <= 0 {
		p.Grace = DefaultDeadGrace
	}
	if p.Interval <= 0 {
		p.Interval = DefaultPlacementInterval
	}
	if p.ChangeTimeout <= 0 {
		p.ChangeTimeout = DefaultChangeTimeout
	}
	return p
}

func (p *Placement) validate() error {
	if p != nil && p.Members == nil {
		return errors.New("raftgroup: Placement.Members is required")
	}
	return nil
}

// candidates is the membership view with the dead members' grace
// applied: the nodes that may hold places now.
type candidates struct {
	ids   []string          // alive members and dead ones within their grace
	addrs map[string]string // id -> Raft address
	alive map[string]bool   // members alive now (only they are given new places)
	known map[string]bool   // every member the view reports, in any state
	zones map[string]string // id -> zone
}

// place is group's desired replicas among the candidates, spread over
// their zones.
func (c candidates) place(group uint32, replicas int) []string {
	return PlaceInZones(group, c.ids, func(id string) string { return c.zones[id] }, replicas)
}

// view remembers since when each member has been dead.
type view struct {
	mu          sync.Mutex
	deadSince   map[string]time.Time
	absentSince map[string]time.Time // servers of a group the view does not report
}

// absentFor reports how long id, a server of some group, has been
// missing from the view (0 the first time): a view that does not list
// a server (a node that just restarted and has not heard from gossip
// yet, or a node that was forgotten) is not proof that it is gone, so
// it is treated as dead from then on, with the same grace.
func (v *view) absentFor(id string, now time.Time) time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.absentSince == nil {
		v.absentSince = map[string]time.Time{}
	}
	since, ok := v.absentSince[id]
	if !ok {
		v.absentSince[id] = now
		return 0
	}
	return now.Sub(since)
}

// candidates applies the grace to members at now.
func (v *view) candidates(members []Member, now time.Time, grace time.Duration) candidates {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.deadSince == nil {
		v.deadSince = map[string]time.Time{}
	}
	c := candidates{addrs: map[string]string{}, alive: map[string]bool{}, known: map[string]bool{}, zones: map[string]string{}}
	seen := c.known
	for _, m := range members {
		if m.ID == "" || m.Addr == "" || seen[m.ID] {
			continue
		}
		seen[m.ID] = true
		delete(v.absentSince, m.ID)
		switch m.State {
		case MemberAlive:
			delete(v.deadSince, m.ID)
			c.alive[m.ID] = true
		case MemberDead:
			since, ok := v.deadSince[m.ID]
			if !ok {
				since = now
				v.deadSince[m.ID] = now
			}
			if now.Sub(since) >= grace {
				continue
			}
		default:
			delete(v.deadSince, m.ID)
			continue
		}
		c.ids = append(c.ids, m.ID)
		c.addrs[m.ID] = m.Addr
		c.zones[m.ID] = m.Zone
	}
	for id := range v.deadSince {
		if !seen[id] {
			delete(v.deadSince, id) // forgotten by the view: gone
		}
	}
	return c
}

// bootstrapServers is group id's first configuration if this node is to
// bootstrap it (it has no Raft state for it): with static peers, all of
// Peers; with membership placement, the group's desired replicas among
// Peers, the region's founders, if this node is one of them (every
// founder computes the same set), and none otherwise: a node that is not
// a founder, or not placed in the group, starts without a configuration,
// sends nothing and never campaigns, and waits for a leader to add it.
func (n *Node) bootstrapServers(id uint32) []raft.Server {
	o := n.o
	peers := o.Peers
	if o.Placement != nil {
		var ids []string
		addr := map[string]string{}
		for _, p := range o.Peers {
			ids = append(ids, p.ID)
			addr[p.ID] = p.Addr
		}
		desired := Place(id, ids, o.Placement.Replicas)
		if !slices.Contains(desired, o.NodeID) {
			return nil
		}
		peers = nil
		for _, d := range desired {
			peers = append(peers, Peer{ID: d, Addr: addr[d]})
		}
	}
	var servers []raft.Server
	for _, p := range peers {
		servers = append(servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
	}
	return servers
}
