package raftgroup

import (
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// applied is an FSM's answer to one log entry: the outcome of each
// request of the batch, in order (the leader's Append waits for it).
type applied struct {
	results []ordering.Result
	errs    []error
}

// fsm is one group's replicated state machine on one replica: it
// sequences each entry's batch with ordering.Sequencer (the same rules as
// the single-node orderer) and writes it with store.ApplyGroup together
// with the entry's index, so an entry replayed after a restart (index at
// or below the stored applied index) is skipped. Every replica holds the
// same group state, so every replica assigns the same seqs.
type fsm struct {
	group    uint32
	st       *store.Store
	seq      *ordering.Sequencer
	onCommit func([]*pb.Message)
	log      *slog.Logger
	fatal    func(error)

	applied atomic.Uint64 // last applied index (FSM goroutine writes)
	// notify, if set, is told each index applied (the group tells its
	// followers of commits the leader made: see commitNotifier).
	notify func(index uint64)
}

// commitNotifier is a raft.Transport that can tell a group's followers at
// once what the leader committed (edge/raftmux's Transport).
type commitNotifier interface{ NotifyCommit(index uint64) }

func newFSM(group uint32, st *store.Store, headCache int, onCommit func([]*pb.Message), log *slog.Logger, fatal func(error)) (*fsm, error) {
	f := &fsm{group: group, st: st, seq: ordering.NewSequencer(st, headCache), onCommit: onCommit, log: log, fatal: fatal}
	a, err := st.GroupApplied(group)
	if err != nil {
		return nil, fmt.Errorf("raftgroup: group %d: %w", group, err)
	}
	f.applied.Store(a)
	return f, nil
}

// noClock is the Sequencer's clock inside the FSM: never used, because
// the leader stamps every request (a replica must not read its clock).
func noClock() int64 { return 0 }

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || l.Index <= f.applied.Load() {
		return nil
	}
	reqs, err := decodeBatch(l.Data)
	if err != nil {
		// Deterministic: every replica refuses the same entry. Move the
		// applied index so it is not seen again.
		f.log.Error("raftgroup: refusing a malformed log entry", "group", f.group, "index", l.Index, "bytes", len(l.Data))
		if werr := f.st.ApplyGroup(f.group, l.Index, nil, false); werr != nil {
			f.fatal(werr)
		}
		f.applied.Store(l.Index)
		return applied{errs: []error{err}}
	}
	b := f.seq.Sequence(reqs, nil, noClock)
	if err := f.st.ApplyGroup(f.group, l.Index, b.Msgs, false); err != nil {
		// The replica's disk failed: its state would diverge from the
		// others', so it must stop (fatal), not answer.
		f.seq.Failed(b)
		f.fatal(fmt.Errorf("raftgroup: group %d apply %d: %w", f.group, l.Index, err))
		return applied{errs: []error{err}}
	}
	f.seq.Committed(b)
	f.applied.Store(l.Index)
	if f.notify != nil {
		f.notify(l.Index)
	}
	if f.onCommit != nil && len(b.Msgs) > 0 {
		f.onCommit(b.Msgs)
	}
	return applied{results: b.Results, errs: b.Errs}
}

// Snapshot implements raft.FSM: a point-in-time view of the group's
// state; Persist streams it. The FSM's writes skip fsync, so the view is
// first made durable: raft will not replay entries below the snapshot.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	if err := f.st.ApplyGroup(f.group, f.applied.Load(), nil, true); err != nil {
		return nil, fmt.Errorf("raftgroup: group %d snapshot: %w", f.group, err)
	}
	v, err := f.st.ViewGroup(f.group)
	if err != nil {
		return nil, err
	}
	return &snapshot{v: v}, nil
}

// Restore implements raft.FSM: the group's state becomes the snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.st.ResetGroup(f.group); err != nil {
		return err
	}
	f.seq.Reset()
	index, err := readSnapshot(rc, func(index uint64, msgs []*pb.Message) error {
		return f.st.ApplyGroup(f.group, index, msgs, false)
	})
	if err != nil {
		return fmt.Errorf("raftgroup: group %d restore: %w", f.group, err)
	}
	if err := f.st.ApplyGroup(f.group, index, nil, true); err != nil {
		return err
	}
	f.applied.Store(index)
	return nil
}
