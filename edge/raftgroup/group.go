package raftgroup

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
)

// group is this node's replica of one Raft group, with the batcher that
// turns a leader's concurrent Appends into one log entry per BatchWindow.
type group struct {
	id    uint32
	r     *raft.Raft
	fsm   *fsm
	o     *Options
	trans raft.Transport
	// progress, under membership placement, tells how far each follower
	// is (nil: unknown, every follower counts as caught up).
	progress *progressTransport
	queue    chan *pending
	quit     chan struct{}
	once     sync.Once
	wg       sync.WaitGroup
}

// pending is one Append waiting for its entry.
type pending struct {
	ctx  context.Context
	req  ordering.Request
	done chan outcome // buffered(1)
}

type outcome struct {
	res ordering.Result
	err error
}

// notLeader is the error for a request this replica cannot order: it is
// not (or no longer) the group's leader.
func (g *group) notLeader() error {
	addr, id := g.r.LeaderWithID()
	return &NotLeaderError{Group: g.id, Leader: string(id), LeaderAddr: string(addr)}
}

func (g *group) append(ctx context.Context, r ordering.Request) (ordering.Result, error) {
	if g.r.State() != raft.Leader {
		return ordering.Result{}, g.notLeader()
	}
	p := &pending{ctx: ctx, req: r, done: make(chan outcome, 1)}
	select {
	case g.queue <- p:
	case <-g.quit:
		return ordering.Result{}, ordering.ErrClosed
	default:
		return ordering.Result{}, ordering.ErrOverloaded
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return ordering.Result{}, ctx.Err()
	}
}

// batch gathers queued requests for BatchWindow (or MaxBatch), stamps
// them with the leader's clock, proposes them as one entry and hands the
// future to a waiter, so the next batch is gathered while this one
// replicates.
func (g *group) batch() {
	defer g.wg.Done()
	var waiters sync.WaitGroup
	defer waiters.Wait()
	var buf []byte
	for {
		var first *pending
		select {
		case first = <-g.queue:
		case <-g.quit:
			g.failQueued(ordering.ErrClosed)
			return
		}
		batch := []*pending{first}
		timer := time.NewTimer(g.o.BatchWindow)
	gather:
		for len(batch) < g.o.MaxBatch {
			select {
			case p := <-g.queue:
				batch = append(batch, p)
			case <-timer.C:
				break gather
			case <-g.quit:
				break gather
			}
		}
		timer.Stop()
		live := batch[:0]
		for _, p := range batch {
			if err := p.ctx.Err(); err != nil {
				p.done <- outcome{err: err}
				continue
			}
			live = append(live, p)
		}
		if len(live) == 0 {
			continue
		}
		reqs := make([]ordering.Request, len(live))
		now := g.o.Now().UnixMilli()
		for i, p := range live {
			reqs[i] = p.req
			if reqs[i].ServerTimeMs == 0 {
				reqs[i].ServerTimeMs = now
			}
		}
		buf = encodeBatch(buf[:0], reqs)
		// Apply copies nothing: give it its own slice.
		f := g.r.Apply(append([]byte(nil), buf...), g.o.ApplyTimeout)
		waiters.Go(func() { g.answer(f, live) })
	}
}

// answer waits for an entry and answers its requests.
func (g *group) answer(f raft.ApplyFuture, batch []*pending) {
	err := f.Error()
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		// The entry may still commit under the next leader: the caller
		// resends with the same client_msg_id and gets it back as a
		// duplicate, never twice. (A leader handing its leadership over,
		// as membership placement does, refuses new entries meanwhile.)
		err = g.notLeader()
	} else if errors.Is(err, raft.ErrRaftShutdown) {
		err = ordering.ErrClosed
	}
	var a applied
	if err == nil {
		var ok bool
		if a, ok = f.Response().(applied); !ok || (len(a.results) != len(batch) && len(a.errs) != 1) {
			err = fmt.Errorf("raftgroup: group %d: unexpected apply response %T", g.id, f.Response())
		}
	}
	for i, p := range batch {
		switch {
		case err != nil:
			p.done <- outcome{err: err}
		case len(a.results) != len(batch):
			p.done <- outcome{err: a.errs[0]}
		default:
			p.done <- outcome{res: a.results[i], err: a.errs[i]}
		}
	}
}

// failQueued answers what is still queued.
func (g *group) failQueued(err error) {
	for {
		select {
		case p := <-g.queue:
			p.done <- outcome{err: err}
		default:
			return
		}
	}
}

// stop shuts the replica down.
//
// The transport is closed first: raft.Shutdown waits for the group's
// replication goroutines, and one may be inside an AppendEntries to a dead
// peer that the transport keeps retrying (raftmux: up to a second) until
// it is closed; raft itself closes it only after those goroutines ended.
// One after the other, those waits kept a node of a region with a dead
// peer from stopping for over 30 s (27 groups led, measured); closed
// first, they end at once.
func (g *group) stop() error {
	g.once.Do(func() { close(g.quit) })
	g.wg.Wait()
	if c, ok := g.trans.(raft.WithClose); ok {
		_ = c.Close() // raft.Shutdown calls it again: Close is idempotent
	}
	return g.r.Shutdown().Error()
}

// caughtUp reports whether the follower at addr is close enough to this
// leader's log to become a voter: it answered within a HeartbeatTimeout
// and is at most MaxAppendEntries entries behind (one AppendEntries).
func (g *group) caughtUp(addr string) bool {
	if g.progress == nil {
		return true
	}
	return g.progress.caughtUp(raft.ServerAddress(addr), g.r.LastIndex(), uint64(max(g.o.Raft.MaxAppendEntries, 1)), g.o.Raft.HeartbeatTimeout)
}
