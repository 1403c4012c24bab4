package edge

import (
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/gossip"
)

// Raft placement modes (Config.RaftPlacement).
const (
	RaftPlacementStatic     = "static"
	RaftPlacementMembership = "membership"
)

// raftView is membership placement's view of the region: the gossip
// members of this node's region that advertise a Raft address. Before the
// node joined the gossip cluster (replication starts first: the cluster
// advertises its Raft address) it is this node alone.
type raftView struct {
	self, addr, region string
	cluster            atomic.Pointer[gossip.Cluster]
}

// members maps the gossip view to raftgroup's: alive members are
// candidates, dead ones keep their places for the grace, and draining,
// leaving or left ones hand them over at once.
func (v *raftView) members() []raftgroup.Member {
	c := v.cluster.Load()
	if c == nil {
		return []raftgroup.Member{{ID: v.self, Addr: v.addr, State: raftgroup.MemberAlive}}
	}
	var out []raftgroup.Member
	for _, m := range c.Members() {
		if !m.MetaOK || m.Meta.RaftAddr == "" || m.Meta.Region != v.region {
			continue
		}
		st := raftgroup.MemberAlive
		switch {
		case m.State == gossip.StateDead:
			st = raftgroup.MemberDead
		case m.State != gossip.StateAlive || m.Meta.Draining || m.Meta.Leaving:
			st = raftgroup.MemberGone
		}
		out = append(out, raftgroup.Member{ID: m.ID, Addr: m.Meta.RaftAddr, State: st, Zone: m.Meta.Zone})
	}
	return out
}

// raftPlacement returns the groups' placement (nil: static peers) and
// the peers to start with: with membership placement, the region's
// founders. Founding (decided once per data directory: a node with Raft
// state never bootstraps again):
//
//   - --peers given: the listed nodes found the region, each group
//     bootstrapped on its RaftReplicas placed among them; a node outside
//     the list starts empty and waits to be added;
//   - no --peers and no --join: this node founds a region alone (its
//     groups start with one voter, and grow as nodes join);
//   - no --peers but --join: this node joins an existing region and
//     waits to be added. A node that founded its own region must never
//     join another one: wipe its data directory first.
func (srv *Server) raftPlacement(r *replication, peers []raftgroup.Peer) (*raftgroup.Placement, []raftgroup.Peer) {
	cfg := srv.cfg
	if cfg.RaftPlacement != RaftPlacementMembership {
		return nil, peers
	}
	r.view = &raftView{self: cfg.NodeID, addr: string(r.mux.Addr()), region: cfg.Region}
	if len(cfg.Peers) == 0 && len(cfg.Join) > 0 {
		peers = nil
	}
	return &raftgroup.Placement{
		Members: r.view.members, Replicas: cfg.RaftReplicas, Grace: cfg.RaftDeadGrace,
		// Until committed messages are forwarded to the nodes with
		// subscribers (not built), every member follows every group, so
		// that it delivers to its own sessions and reads from its store.
		Learners: true,
	}, peers
}

// followRaftMembership feeds gossip membership events to the placement
// controller (membership placement only), until the server stops.
func (srv *Server) followRaftMembership() {
	r := srv.repl
	if r == nil || r.view == nil {
		return
	}
	r.view.cluster.Store(srv.cluster)
	sub := srv.cluster.Subscribe(0)
	r.node.MembershipChanged()
	srv.goFunc(func() {
		defer sub.Close()
		for {
			select {
			case <-srv.quit:
				return
			case _, ok := <-sub.Events():
				if !ok {
					return
				}
				r.node.MembershipChanged()
			}
		}
	})
}

// validatePlacement checks the placement mode's needs.
func (c *Config) validatePlacement() []error {
	var errs []error
	switch c.RaftPlacement {
	case "", RaftPlacementStatic:
		return nil
	case RaftPlacementMembership:
	default:
		return []error{fmt.Errorf("RaftPlacement %q: want %q or %q", c.RaftPlacement, RaftPlacementStatic, RaftPlacementMembership)}
	}
	if c.RaftListen == "" || c.GossipListen == "" {
		errs = append(errs, errors.New("RaftPlacement membership needs RaftListen and GossipListen (the members come from gossip)"))
	}
	if c.RaftReplicas < 0 {
		errs = append(errs, fmt.Errorf("RaftReplicas %d is negative", c.RaftReplicas))
	}
	if len(c.RaftSecret) == 0 && !c.RaftInsecure {
		errs = append(errs, errors.New("RaftPlacement membership needs the region secret (RaftSecret; --raft-insecure only for tests on loopback): other members will speak Raft to this node"))
	}
	return errs
}

// registerPlacement exports membership placement's figures: summed over
// the region's nodes, each group counts once (at its leader).
func (r *replication) registerPlacement(reg *prometheus.Registry) {
	if r.view == nil {
		return
	}
	changes := prometheus.NewDesc("edgegate_raft_placement_changes_total",
		"Raft configuration changes this node's leader replicas made for membership placement, by op (add, remove, transfer, learner, demote; failed: not committed).", []string{"op"}, nil)
	under := prometheus.NewDesc("edgegate_raft_groups_under_replicated",
		"Raft groups led by this node with fewer live voters than --raft-replicas.", nil, nil)
	voters := prometheus.NewDesc("edgegate_raft_placement_voters",
		"Voters of the Raft groups led by this node, summed: desired (placed by rendezvous hashing among live members) or actual (voters alive now).", []string{"kind"}, nil)
	learners := prometheus.NewDesc("edgegate_raft_placement_nonvoters",
		"Non-voters (members following a group) of the Raft groups led by this node, summed.", nil, nil)
	reg.MustRegister(multiCollector{descs: []*prometheus.Desc{changes, under, voters, learners}, collect: func(ch chan<- prometheus.Metric) {
		st := r.node.PlacementStats()
		for op, n := range map[string]uint64{raftgroup.OpAdd: st.Adds, raftgroup.OpRemove: st.Removes, raftgroup.OpTransfer: st.Transfers,
			raftgroup.OpLearner: st.Learners, raftgroup.OpDemote: st.Demotes, "failed": st.Failures} {
			ch <- prometheus.MustNewConstMetric(changes, prometheus.CounterValue, float64(n), op)
		}
		ch <- prometheus.MustNewConstMetric(under, prometheus.GaugeValue, float64(st.UnderReplicated))
		ch <- prometheus.MustNewConstMetric(voters, prometheus.GaugeValue, float64(st.Desired), "desired")
		ch <- prometheus.MustNewConstMetric(voters, prometheus.GaugeValue, float64(st.Actual), "actual")
		ch <- prometheus.MustNewConstMetric(learners, prometheus.GaugeValue, float64(st.NonVoters))
	}})
}

// multiCollector is a prometheus.Collector of several metrics read
// together.
type multiCollector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c multiCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}
func (c multiCollector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
