package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// Group is one Raft group's log store and stable store inside the node's
// Store. It implements raft.LogStore and raft.StableStore.
type Group struct {
	s  *Store
	id uint32

	mu          sync.Mutex // bounds, kept in memory: raft asks often
	first, last uint64     // 0, 0: empty
}

// ID is the group's id.
func (g *Group) ID() uint32 { return g.id }

// loadBounds reads the group's first and last index from the database.
func (g *Group) loadBounds() error {
	return g.s.use(func(db *pebble.DB) error {
		it, err := db.NewIter(&pebble.IterOptions{LowerBound: logKey(g.id, 0), UpperBound: logEnd(g.id)})
		if err != nil {
			return fmt.Errorf("raftlog: group %d: %w", g.id, err)
		}
		defer it.Close()
		if it.First() {
			g.first = binary.BigEndian.Uint64(it.Key()[5:])
		}
		if it.Last() {
			g.last = binary.BigEndian.Uint64(it.Key()[5:])
		}
		return it.Error()
	})
}

// FirstIndex implements raft.LogStore.
func (g *Group) FirstIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first, nil
}

// LastIndex implements raft.LogStore.
func (g *Group) LastIndex() (uint64, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.last, nil
}

// GetLog implements raft.LogStore.
func (g *Group) GetLog(index uint64, l *raft.Log) error {
	return g.s.use(func(db *pebble.DB) error {
		v, closer, err := db.Get(logKey(g.id, index))
		if errors.Is(err, pebble.ErrNotFound) {
			return raft.ErrLogNotFound
		}
		if err != nil {
			return fmt.Errorf("raftlog: group %d get %d: %w", g.id, index, err)
		}
		defer closer.Close()
		if err := decodeLog(v, l); err != nil {
			return fmt.Errorf("raftlog: group %d entry %d: %w", g.id, index, err)
		}
		if l.Index != index {
			return fmt.Errorf("raftlog: group %d: entry at %d says index %d", g.id, index, l.Index)
		}
		return nil
	})
}

// StoreLog implements raft.LogStore.
func (g *Group) StoreLog(l *raft.Log) error { return g.StoreLogs([]*raft.Log{l}) }

// StoreLogs implements raft.LogStore: one batch, fsynced (pebble commits
// batches that wait for the same fsync together).
func (g *Group) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	err := g.s.use(func(db *pebble.DB) error {
		b := db.NewBatch()
		defer b.Close()
		var buf []byte
		for _, l := range logs {
			buf = encodeLog(buf[:0], l)
			if err := b.Set(logKey(g.id, l.Index), buf, nil); err != nil {
				return err
			}
		}
		return b.Commit(g.s.wo)
	})
	if err != nil {
		return fmt.Errorf("raftlog: group %d store %d entries: %w", g.id, len(logs), err)
	}
	g.s.syncs.Add(1)
	g.s.entries.Add(uint64(len(logs)))
	lo, hi := logs[0].Index, logs[len(logs)-1].Index
	g.mu.Lock()
	if g.first == 0 || lo < g.first {
		g.first = lo
	}
	g.last = max(g.last, hi)
	g.mu.Unlock()
	return nil
}

// DeleteRange implements raft.LogStore: entries min..max (inclusive) go
// with one range tombstone, not fsynced (see the package doc).
func (g *Group) DeleteRange(lo, hi uint64) error {
	if hi < lo {
		return nil
	}
	err := g.s.use(func(db *pebble.DB) error {
		end := logEnd(g.id)
		if hi < ^uint64(0) {
			end = logKey(g.id, hi+1)
		}
		return db.DeleteRange(logKey(g.id, lo), end, pebble.NoSync)
	})
	if err != nil {
		return fmt.Errorf("raftlog: group %d delete %d-%d: %w", g.id, lo, hi, err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case lo <= g.first && hi >= g.last:
		g.first, g.last = 0, 0
	case lo <= g.first && hi >= g.first:
		g.first = hi + 1
	case hi >= g.last && lo <= g.last:
		g.last = lo - 1
	}
	return nil
}

// Set implements raft.StableStore.
func (g *Group) Set(key, val []byte) error {
	err := g.s.use(func(db *pebble.DB) error { return db.Set(stableKey(g.id, key), val, g.s.wo) })
	if err != nil {
		return fmt.Errorf("raftlog: group %d set %q: %w", g.id, key, err)
	}
	return nil
}

// Get implements raft.StableStore (a missing key is "not found", as raft
// expects).
func (g *Group) Get(key []byte) ([]byte, error) {
	var out []byte
	err := g.s.use(func(db *pebble.DB) error {
		v, closer, err := db.Get(stableKey(g.id, key))
		if errors.Is(err, pebble.ErrNotFound) {
			return errNotFound
		}
		if err != nil {
			return fmt.Errorf("raftlog: group %d get %q: %w", g.id, key, err)
		}
		out = append([]byte(nil), v...)
		return closer.Close()
	})
	return out, err
}

// SetUint64 implements raft.StableStore.
func (g *Group) SetUint64(key []byte, val uint64) error {
	return g.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 implements raft.StableStore (0 for a missing key, as raft
// expects).
func (g *Group) GetUint64(key []byte) (uint64, error) {
	v, err := g.Get(key)
	if errors.Is(err, errNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("raftlog: group %d: %q holds %d bytes, not a uint64", g.id, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
