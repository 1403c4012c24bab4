package main

import (
	"flag"
	"time"

	"github.com/edgegate/edgegate/edge"
)

// placementOptions are the Raft placement flags (edge/raftgroup's
// membership placement).
type placementOptions struct {
	mode     string
	replicas int
	grace    time.Duration
}

func (o *placementOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.mode, "raft-placement", edge.RaftPlacementStatic, "where each Raft group's replicas live: static (every node of --peers replicates every group) or membership "+
		"(each group's voters follow the gossip members of this --region, --raft-replicas of them by rendezvous hashing, the other members following as non-voters; "+
		"--peers then lists the nodes that found a new region, and a node started with --join but no --peers waits to be added); needs --gossip-listen")
	fs.IntVar(&o.replicas, "raft-replicas", 0, "voters per Raft group with --raft-placement membership (default 3)")
	fs.DurationVar(&o.grace, "raft-dead-grace", 0, "with --raft-placement membership, how long a member gossip reports dead keeps its places before it is replaced (default 30s; a draining or leaving member is replaced at once)")
}

func (o *placementOptions) apply(c *edge.Config) {
	c.RaftPlacement, c.RaftReplicas, c.RaftDeadGrace = o.mode, o.replicas, o.grace
}
