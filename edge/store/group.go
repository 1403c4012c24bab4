package store

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/edgegate/edgegate/transport/pb"
)

// ApplyGroup commits msgs as CommitMessages does and, in the same atomic
// batch, records their conversations as members of group and sets the
// group's applied index to index (a Raft group's FSM: see the package
// doc). sync false skips the fsync: the Raft log is the durable copy and a
// lost tail is applied again from it. An empty msgs still moves the
// applied index.
func (s *Store) ApplyGroup(group uint32, index uint64, msgs []*pb.Message, sync bool) error {
	wo := pebble.NoSync
	if sync && s.commit == pebble.Sync {
		wo = pebble.Sync
	}
	return s.commitBatch(msgs, wo, func(b *pebble.Batch, convs map[string]uint64) error {
		for conv := range convs {
			if err := b.Set(groupConvKey(group, conv), nil, nil); err != nil {
				return err
			}
		}
		return b.Set(appliedKey(group), putUint64(index), nil)
	})
}

// GroupApplied returns group's applied index (0: none).
func (s *Store) GroupApplied(group uint32) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	v, _, err := s.getUint64(appliedKey(group))
	return v, err
}

// GroupView is a consistent read-only view of one group's state (a pebble
// snapshot): it does not change while the group goes on applying. Close
// it when done.
type GroupView struct {
	s     *Store
	snap  *pebble.Snapshot
	group uint32
}

// ViewGroup opens a view of group's state as of now.
func (s *Store) ViewGroup(group uint32) (*GroupView, error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	return &GroupView{s: s, snap: s.db.NewSnapshot(), group: group}, nil
}

// Applied is the group's applied index in the view.
func (v *GroupView) Applied() (uint64, error) {
	b, closer, err := v.snap.Get(appliedKey(v.group))
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: group %d applied: %w", v.group, err)
	}
	defer closer.Close()
	return getUint64(b)
}

// Convs calls fn for each conversation of the group, in key order.
func (v *GroupView) Convs(fn func(conv string) error) error {
	prefix := groupPrefix(v.group)
	return iterate(v.snap, prefix, prefixEnd4(prefix), func(k, _ []byte) error {
		key, err := DecodeKey(k)
		if err != nil {
			return err
		}
		return fn(key.Conv)
	})
}

// Messages calls fn for each message of conv in the view, in seq order.
func (v *GroupView) Messages(conv string, fn func(*pb.Message) error) error {
	prefix := logPrefix(conv)
	return iterate(v.snap, prefix, prefixEnd(prefix), func(k, val []byte) error {
		key, err := DecodeKey(k)
		if err != nil {
			return err
		}
		m, err := decodeRecord(conv, key.Seq, val)
		if err != nil {
			return err
		}
		return fn(m)
	})
}

// Close releases the view.
func (v *GroupView) Close() error { return v.snap.Close() }

// ResetGroup deletes everything of group: its conversations' logs, heads
// and dedup entries, their membership and the applied index (before a
// Raft snapshot is restored). Fsynced.
func (s *Store) ResetGroup(group uint32) error {
	v, err := s.ViewGroup(group)
	if err != nil {
		return err
	}
	var convs []string
	err = v.Convs(func(conv string) error { convs = append(convs, conv); return nil })
	v.Close()
	if err != nil {
		return err
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatch()
	defer b.Close()
	for _, conv := range convs {
		lp := logPrefix(conv)
		dp := appendComponent([]byte{byte(KindDedup)}, conv)
		for _, r := range [][2][]byte{{lp, prefixEnd(lp)}, {dp, prefixEnd(dp)}} {
			if err := b.DeleteRange(r[0], r[1], nil); err != nil {
				return fmt.Errorf("store: reset group %d: %w", group, err)
			}
		}
		if err := b.Delete(headKey(conv), nil); err != nil {
			return fmt.Errorf("store: reset group %d: %w", group, err)
		}
	}
	gp := groupPrefix(group)
	if err := b.DeleteRange(gp, prefixEnd4(gp), nil); err != nil {
		return fmt.Errorf("store: reset group %d: %w", group, err)
	}
	if err := b.Delete(appliedKey(group), nil); err != nil {
		return fmt.Errorf("store: reset group %d: %w", group, err)
	}
	if err := s.db.Apply(b, pebble.Sync); err != nil {
		return fmt.Errorf("store: reset group %d: %w", group, err)
	}
	return nil
}

// prefixEnd4 is prefixEnd for a prefix ending in a 4-byte group id: the
// smallest key after every key that starts with it.
func prefixEnd4(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		end[i]++
		if end[i] != 0 {
			return end[:i+1]
		}
	}
	return nil // all 0xff: no upper bound
}

// iterate calls fn for every key in [lower, upper) of r.
func iterate(r pebble.Reader, lower, upper []byte, fn func(k, v []byte) error) (err error) {
	it, err := r.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("store: iterate: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("store: iterate: %w", cerr)
		}
	}()
	for ok := it.First(); ok; ok = it.Next() {
		v, err := it.ValueAndErr()
		if err != nil {
			return fmt.Errorf("store: iterate: %w", err)
		}
		if err := fn(it.Key(), v); err != nil {
			return err
		}
	}
	return it.Error()
}
