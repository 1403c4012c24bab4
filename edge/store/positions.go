package store

import (
	"fmt"
	"maps"
	"slices"

	"github.com/cockroachdb/pebble/v2"
)

// SetPositions raises the delivery positions of (user, device): for each
// conv in pos the stored position becomes max(stored, pos[conv]). A write
// never lowers a position. Written without fsync unless
// Options.SyncPositions (see the package documentation).
func (s *Store) SetPositions(user, device string, pos map[string]uint64) error {
	if len(pos) == 0 {
		return nil
	}
	s.posMu.Lock()
	defer s.posMu.Unlock()
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	b := s.db.NewBatch()
	defer b.Close()
	for _, conv := range sortedKeys(pos) {
		key := posKey(user, device, conv)
		cur, _, err := s.getUint64(key)
		if err != nil {
			return err
		}
		if pos[conv] <= cur {
			continue
		}
		if err := b.Set(key, putUint64(pos[conv]), nil); err != nil {
			return fmt.Errorf("store: batch: %w", err)
		}
	}
	if b.Empty() {
		return nil
	}
	if err := s.db.Apply(b, s.posWO); err != nil {
		return fmt.Errorf("store: set positions: %w", err)
	}
	return nil
}

// Positions returns every stored position of (user, device), by conv.
func (s *Store) Positions(user, device string) (pos map[string]uint64, err error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	prefix := posPrefix(user, device)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return nil, fmt.Errorf("store: positions: %w", err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			pos, err = nil, fmt.Errorf("store: positions: %w", cerr)
		}
	}()
	pos = make(map[string]uint64)
	for ok := it.First(); ok; ok = it.Next() {
		k, err := DecodeKey(it.Key())
		if err != nil {
			return nil, err
		}
		if k.Kind != KindPosition || k.User != user || k.Device != device {
			return nil, fmt.Errorf("%w: position scan hit key %v", ErrCorrupt, k)
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("store: positions: %w", err)
		}
		if pos[k.Conv], err = getUint64(val); err != nil {
			return nil, err
		}
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("store: positions: %w", err)
	}
	return pos, nil
}

// sortedKeys returns m's keys in order, so batches are deterministic.
func sortedKeys(m map[string]uint64) []string {
	return slices.Sorted(maps.Keys(m))
}
