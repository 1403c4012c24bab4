package raftgroup

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport/pb"
)

// NotLeaderError is returned by Append on a node that does not lead the
// conversation's group: the caller (the edge) forwards the write to
// Leader, or retries when no leader is known yet (Leader empty).
type NotLeaderError struct {
	Group      uint32
	Leader     string // node id, empty while unknown
	LeaderAddr string // its Raft address
}

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("raftgroup: group %d has no leader yet", e.Group)
	}
	return fmt.Sprintf("raftgroup: group %d is led by %s (%s)", e.Group, e.Leader, e.LeaderAddr)
}

// Node runs this node's replica of every Raft group of the region and
// implements ordering.Orderer over them.
type Node struct {
	o      Options
	groups []*group
	place  *controller // membership placement, or nil (static peers)
	// leaderObs is told (without blocking, coalesced) when a group's
	// replica here gains or loses its leadership: membership placement
	// checks a group as soon as this node leads it.
	leaderObs chan raft.Observation

	mu     sync.RWMutex // guards closed
	closed bool
}

var _ ordering.Orderer = (*Node)(nil)

// Start starts the node's replicas. A node without Raft state bootstraps
// every group with Peers as its configuration (every node does the same,
// with the same list, so they agree).
func Start(o Options) (*Node, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	n := &Node{o: o}
	if o.Placement != nil {
		n.leaderObs = make(chan raft.Observation, 1)
	}
	for id := range uint32(o.Groups) {
		g, err := n.startGroup(id)
		if err != nil {
			n.shutdown()
			return nil, err
		}
		n.groups = append(n.groups, g)
	}
	if o.Placement != nil {
		n.place = newController(n, *o.Placement)
		n.place.start()
	}
	return n, nil
}

// MembershipChanged tells membership placement that the view changed
// (a member joined, left, died or changed its metadata): the groups this
// node leads are checked at once rather than at the next interval. A
// no-op with static peers.
func (n *Node) MembershipChanged() {
	if n.place != nil {
		n.place.notify()
	}
}

// PlacementStats returns membership placement's figures on this node
// (zero with static peers).
func (n *Node) PlacementStats() PlacementStats {
	if n.place == nil {
		return PlacementStats{}
	}
	return n.place.stats()
}

// GroupOf is the group of conv among groups (FNV-1a, stable across nodes
// and versions).
func GroupOf(conv string, groups int) uint32 {
	h := fnv.New32a()
	_, _ = io.WriteString(h, conv)
	return h.Sum32() % uint32(groups)
}

func (n *Node) startGroup(id uint32) (*group, error) {
	o := n.o
	logs, err := o.Log.Group(id)
	if err != nil {
		return nil, err
	}
	var snaps raft.SnapshotStore
	if o.Snapshots != nil {
		snaps, err = o.Snapshots(id)
	} else {
		snaps, err = raft.NewFileSnapshotStoreWithLogger(filepath.Join(o.SnapshotDir, strconv.Itoa(int(id))), 2, hclog.NewNullLogger())
	}
	if err != nil {
		return nil, fmt.Errorf("raftgroup: group %d snapshots: %w", id, err)
	}
	trans, err := o.Transport(id)
	if err != nil {
		return nil, fmt.Errorf("raftgroup: group %d transport: %w", id, err)
	}
	f, err := newFSM(id, o.Store, max(o.HeadCacheSize/o.Groups, 1024), o.OnCommit, o.Logger, o.Fatal)
	if err != nil {
		return nil, err
	}
	// The leader's replica tells its followers of each commit at once
	// (they deliver to their own sessions when they apply), so raft's
	// CommitTimeout is no longer on the delivery path.
	var self atomic.Pointer[raft.Raft]
	if cn, ok := trans.(commitNotifier); ok && (len(o.Peers) > 1 || o.Placement != nil) {
		f.notify = func(index uint64) {
			if r := self.Load(); r != nil && r.State() == raft.Leader {
				cn.NotifyCommit(index)
			}
		}
	}
	cfg := *o.Raft
	cfg.LocalID = raft.ServerID(o.NodeID)
	if len(o.Peers) == 1 && o.Placement == nil && o.Raft == defaultRaft {
		// A region of one has no follower to wait for: elect at once.
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	}
	cfg.Logger = hclogFor(o.Logger, id)
	existing, err := raft.HasExistingState(logs, logs, snaps)
	if err != nil {
		return nil, fmt.Errorf("raftgroup: group %d: %w", id, err)
	}
	// A node with Raft state never bootstraps again, whatever its flags:
	// its configuration comes from its log.
	if servers := n.bootstrapServers(id); !existing && len(servers) > 0 {
		if err := raft.BootstrapCluster(&cfg, logs, logs, snaps, trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("raftgroup: group %d bootstrap: %w", id, err)
		}
	}
	raftTrans := trans
	var prog *progressTransport
	if o.Placement != nil {
		if prog = withProgress(trans); prog != nil {
			raftTrans = prog
		}
	}
	r, err := raft.NewRaft(&cfg, f, &lastLog{LogStore: logs}, logs, snaps, raftTrans)
	if err != nil {
		return nil, fmt.Errorf("raftgroup: group %d: %w", id, err)
	}
	self.Store(r)
	if n.leaderObs != nil {
		r.RegisterObserver(raft.NewObserver(n.leaderObs, false, func(ob *raft.Observation) bool {
			_, ok := ob.Data.(raft.LeaderObservation)
			return ok
		}))
	}
	g := &group{id: id, r: r, fsm: f, o: &n.o, trans: trans, progress: prog, queue: make(chan *pending, o.QueueSize), quit: make(chan struct{})}
	g.wg.Add(1)
	go g.batch()
	return g, nil
}

// Append implements ordering.Orderer: it returns once the message is
// committed on a majority of its group's replicas. On a node that does
// not lead the group it forwards the write to the leader (Options.Forward)
// and, while the group has no leader, waits for the election; after
// ApplyTimeout (or when ctx ends) it gives up with a *NotLeaderError.
func (n *Node) Append(ctx context.Context, r ordering.Request) (ordering.Result, error) {
	if err := r.Validate(); err != nil {
		return ordering.Result{}, err
	}
	if err := n.checkOpen(ctx); err != nil {
		return ordering.Result{}, err
	}
	return n.appendRetrying(ctx, n.groups[GroupOf(r.Conv, len(n.groups))], r)
}

// Read implements ordering.Orderer from this replica's store (which may
// lag the leader by the commit in flight: never reordered, possibly
// shorter).
func (n *Node) Read(ctx context.Context, conv string, after uint64, limit int) ([]*pb.Message, error) {
	if err := n.checkOpen(ctx); err != nil {
		return nil, err
	}
	return n.o.Store.Read(conv, after, limit)
}

// History implements ordering.Orderer (this replica's store).
func (n *Node) History(ctx context.Context, conv string, before uint64, limit int) ([]*pb.Message, error) {
	if err := n.checkOpen(ctx); err != nil {
		return nil, err
	}
	return n.o.Store.History(conv, before, limit)
}

// Head implements ordering.Orderer (this replica's store).
func (n *Node) Head(ctx context.Context, conv string) (uint64, error) {
	if err := n.checkOpen(ctx); err != nil {
		return 0, err
	}
	return n.o.Store.Head(conv)
}

func (n *Node) checkOpen(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return ordering.ErrClosed
	}
	return nil
}

// Close stops every replica (it does not close the stores or transports).
func (n *Node) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	n.mu.Unlock()
	return n.shutdown()
}

func (n *Node) shutdown() error {
	if n.place != nil {
		// A change in flight ends when its group shuts down.
		n.place.signal()
		defer n.place.wait()
	}
	var errs []error
	for _, g := range n.groups {
		errs = append(errs, g.stop())
	}
	return errors.Join(errs...)
}

// GroupStatus is one group's state on this node.
type GroupStatus struct {
	Group     uint32
	State     string // Leader, Follower, Candidate, Shutdown
	Leader    string // leader's node id, empty if unknown
	Term      uint64 // this replica's current term
	Applied   uint64 // last index applied to this replica's store
	LastIndex uint64 // last index in this replica's Raft log
	Commit    uint64 // commit index this replica knows
}

// Status returns every group's state on this node.
func (n *Node) Status() []GroupStatus {
	out := make([]GroupStatus, len(n.groups))
	for i, g := range n.groups {
		_, leader := g.r.LeaderWithID()
		stats := g.r.Stats() // builds a map of every counter: read it once
		out[i] = GroupStatus{Group: g.id, State: g.r.State().String(), Leader: string(leader),
			Term: statUint(stats, "term"), Applied: g.fsm.applied.Load(),
			LastIndex: g.r.LastIndex(), Commit: statUint(stats, "commit_index")}
	}
	return out
}

// statUint reads one counter of raft's Stats (0 if absent).
func statUint(stats map[string]string, key string) uint64 {
	v, _ := strconv.ParseUint(stats[key], 10, 64)
	return v
}

// StateHash hashes group's replicated state on this replica (see the
// package function StateHash); equal on every replica once they applied
// the same entries.
func (n *Node) StateHash(group uint32) (applied, hash uint64, err error) {
	if int(group) >= len(n.groups) {
		return 0, 0, fmt.Errorf("raftgroup: no group %d (the region has %d)", group, len(n.groups))
	}
	return StateHash(n.o.Store, group)
}

// Groups is the number of groups.
func (n *Node) Groups() int { return len(n.groups) }

// Raft returns group id's Raft instance (tests, admin).
func (n *Node) Raft(id uint32) *raft.Raft { return n.groups[id].r }
