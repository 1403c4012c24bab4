package raftgroup

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/raftlog"
	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// Defaults.
const (
	// DefaultGroups is the number of Raft groups of a region.
	DefaultGroups = 64
	// DefaultBatchWindow is how long a leader gathers requests for one
	// log entry.
	DefaultBatchWindow = 2 * time.Millisecond
	// DefaultMaxBatch caps the requests of one log entry.
	DefaultMaxBatch = 512
	// DefaultQueueSize bounds the requests waiting for a group's leader
	// batcher; beyond it Append fails fast with ordering.ErrOverloaded.
	DefaultQueueSize = 4096
	// DefaultApplyTimeout bounds the wait for an entry to commit.
	DefaultApplyTimeout = 5 * time.Second
	// DefaultForwardTimeout bounds one attempt to forward a write to the
	// leader's node. A leader that does not answer within it (stopped,
	// or cut off by a partition: no error comes back, only silence) is
	// presumed gone and the write is retried with the leader Raft names
	// next, so a silent leader costs about an election, not ApplyTimeout.
	// A retry of a write that did reach the old leader is harmless: the
	// FSM deduplicates (conv, sender, client message id). It equals
	// raft's LeaderLeaseTimeout in Tuned (1 s): a leader that lost its
	// quorum steps down about then, and a healthy one answers in
	// milliseconds (commit p99 well under 100 ms).
	DefaultForwardTimeout = time.Second
)

// Peer is a node of the region.
type Peer struct {
	ID   string // node id (--node-id)
	Addr string // its Raft address (--raft-listen)
}

// Options configure a Node.
type Options struct {
	// NodeID is this node's id; with static peers it must be among
	// Peers. Required.
	NodeID string
	// Peers are the region's nodes, this one included. Every node must be
	// given the same list: it is each group's initial configuration.
	// With Placement, Peers are the nodes that found a new region
	// (possibly none: this node then waits to be added): see
	// bootstrapServers.
	Peers []Peer
	// Placement, if set, makes each group's voters follow the region's
	// membership (see the package doc); nil: every node in Peers is a
	// voter of every group, forever.
	Placement *Placement
	// Groups is the number of Raft groups (the same on every node).
	// Default DefaultGroups.
	Groups int
	// Store is the node's message store: every group's FSM writes there.
	// Required.
	Store *store.Store
	// Log is the node's Raft log store. Required.
	Log *raftlog.Store
	// SnapshotDir holds a directory of snapshots per group. Required
	// unless Snapshots is set.
	SnapshotDir string
	// Snapshots, if set, returns a group's snapshot store (tests use
	// raft.NewInmemSnapshotStore).
	Snapshots func(group uint32) (raft.SnapshotStore, error)
	// Transport returns the Raft transport of a group (all groups of a
	// node share one connection per peer underneath). Required.
	Transport func(group uint32) (raft.Transport, error)
	// Forward sends a write to the leader's node (nil: a node that knows
	// another leader answers *NotLeaderError at once, for the caller to
	// route).
	Forward Forward
	// OnCommit receives every message this replica applies, in log order
	// per group (the edge delivers them to its sessions).
	OnCommit func([]*pb.Message)
	// BatchWindow, MaxBatch, QueueSize, ApplyTimeout, ForwardTimeout:
	// see the defaults.
	BatchWindow    time.Duration
	MaxBatch       int
	QueueSize      int
	ApplyTimeout   time.Duration
	ForwardTimeout time.Duration
	// CampaignStagger is how long, after a leader's node went down, the
	// next follower by id waits for the first one's election before it
	// campaigns itself (see PeerDown). Default DefaultCampaignStagger.
	CampaignStagger time.Duration
	// HeadCacheSize bounds the conversation heads cached per node.
	// Default ordering.DefaultHeadCacheSize.
	HeadCacheSize int
	// Raft tunes every group's Raft instance; nil: Tuned().
	Raft *raft.Config
	// Logger receives the node's logs. Default slog.Default().
	Logger *slog.Logger
	// Fatal is called when a replica's storage fails while applying (its
	// state would diverge). Default: log and panic.
	Fatal func(error)
	// Now is the leader's clock for server timestamps. Default time.Now.
	Now func() time.Time
}

// Tuned returns the Raft settings for many groups per node:
//
//   - HeartbeatTimeout and ElectionTimeout 2 s: raft sends heartbeats at a
//     tenth of it (200 ms per follower per group instead of 100 ms), and a
//     leader lost is replaced after 2-4 s.
//   - CommitTimeout 500 ms (raft's default is 50 ms): without new entries,
//     a leader tells its followers the commit index this often. Followers
//     deliver committed messages to their own sessions when they apply
//     them, so this used to sit on the delivery path (50-100 ms added to
//     every message whose recipient is on a follower's node); now the
//     leader's replica tells its followers of each commit at once
//     (edge/raftmux's commit notices), and CommitTimeout is only the
//     fallback when a notice is lost. It is also an idle cost: every
//     group's leader wakes for each follower once per CommitTimeout even
//     when idle (answered from raftmux's cache, but a wakeup each):
//     `edgebench raft-idle`, 3 nodes x 256 groups, measured 9.1-9.9% of a
//     core per node at 50 ms and 8.2-8.5% at 500 ms (the edge's timer
//     slack takes it under 5%, see cmd/edge).
//   - Snapshots every 8192 entries or 2 minutes, keeping 4096 entries
//     for followers that lag a little.
func Tuned() *raft.Config {
	c := raft.DefaultConfig()
	c.HeartbeatTimeout = 2 * time.Second
	c.ElectionTimeout = 2 * time.Second
	c.LeaderLeaseTimeout = time.Second
	c.CommitTimeout = 500 * time.Millisecond
	c.MaxAppendEntries = 256
	c.SnapshotInterval = 2 * time.Minute
	c.SnapshotThreshold = 8192
	c.TrailingLogs = 4096
	c.NoSnapshotRestoreOnStart = true // the FSM's state is on disk already
	return c
}

// defaultRaft is Tuned(), shared by Nodes started without Options.Raft
// (never modified: each group copies it).
var defaultRaft = Tuned()

func (o Options) withDefaults() Options {
	if o.Groups <= 0 {
		o.Groups = DefaultGroups
	}
	if o.BatchWindow <= 0 {
		o.BatchWindow = DefaultBatchWindow
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.QueueSize <= 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.ApplyTimeout <= 0 {
		o.ApplyTimeout = DefaultApplyTimeout
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = DefaultForwardTimeout
	}
	if o.CampaignStagger <= 0 {
		o.CampaignStagger = DefaultCampaignStagger
	}
	if o.Raft == nil {
		o.Raft = defaultRaft
	}
	if o.Placement != nil {
		p := o.Placement.withDefaults()
		o.Placement = &p
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Fatal == nil {
		log := o.Logger
		o.Fatal = func(err error) {
			log.Error("raftgroup: replica storage failed, stopping", "err", err)
			panic(err)
		}
	}
	return o
}

// validate checks the required fields.
func (o Options) validate() error {
	switch {
	case o.NodeID == "":
		return errors.New("raftgroup: NodeID is required")
	case o.Store == nil || o.Log == nil:
		return errors.New("raftgroup: Store and Log are required")
	case o.Transport == nil:
		return errors.New("raftgroup: Transport is required")
	case o.SnapshotDir == "" && o.Snapshots == nil:
		return errors.New("raftgroup: SnapshotDir is required")
	}
	if err := o.Placement.validate(); err != nil {
		return err
	}
	seen := map[string]bool{}
	self := false
	for _, p := range o.Peers {
		if p.ID == "" || p.Addr == "" || seen[p.ID] {
			return fmt.Errorf("raftgroup: bad peer list (empty or repeated id in %v)", o.Peers)
		}
		seen[p.ID] = true
		self = self || p.ID == o.NodeID
	}
	if !self && o.Placement == nil {
		return fmt.Errorf("raftgroup: node %q is not in its peer list", o.NodeID)
	}
	return nil
}
