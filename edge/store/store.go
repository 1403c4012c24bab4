package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble/v2"
)

// formatVersion is the on-disk layout version written to formatKey.
const formatVersion = 1

// Store is the embedded on-disk store. All methods are safe for concurrent
// use. Reads may run concurrently with each other and with commits; Close
// waits for calls in progress.
//
// Lock order: commitMu or posMu, then mu (read side). mu's write side is
// taken only by Close.
type Store struct {
	db     *pebble.DB
	opts   Options
	log    *slog.Logger
	commit *pebble.WriteOptions // for CommitMessages
	posWO  *pebble.WriteOptions // for SetPositions

	mu     sync.RWMutex // guards closed against use of db after Close
	closed bool

	commitMu sync.Mutex // serialises CommitMessages (head check + write)
	posMu    sync.Mutex // serialises SetPositions (read-modify-write)
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, o Options) (*Store, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if dir == "" {
		return nil, fmt.Errorf("%w: empty directory", ErrInvalidArgument)
	}
	o = o.withDefaults()
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref() // the DB holds its own reference
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       o.MemTableBytes,
		MaxOpenFiles:       o.MaxOpenFiles,
		Logger:             pebbleLogger{o.Logger},
		FormatMajorVersion: pebble.FormatNewest,
		FS:                 o.fs,
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	s := &Store{db: db, opts: o, log: o.Logger, commit: pebble.Sync, posWO: pebble.NoSync}
	if o.NoSync {
		s.commit = pebble.NoSync
	}
	if o.SyncPositions && !o.NoSync {
		s.posWO = pebble.Sync
	}
	if err := s.checkFormat(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	return s, nil
}

// checkFormat writes the format version to a new store and checks it on an
// existing one.
func (s *Store) checkFormat() error {
	v, ok, err := s.getUint64(formatKey)
	if err != nil {
		return err
	}
	if !ok {
		if err := s.db.Set(formatKey, putUint64(formatVersion), pebble.Sync); err != nil {
			return fmt.Errorf("store: write format version: %w", err)
		}
		return nil
	}
	if v != formatVersion {
		return fmt.Errorf("%w: %d (this build reads %d)", ErrUnsupportedFormat, v, formatVersion)
	}
	return nil
}

// Close flushes nothing extra (commits are already durable) and releases the
// store. It waits for calls in progress. Later calls return ErrClosed; a
// second Close returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// acquire takes the read lock if the store is open. Callers must call
// s.mu.RUnlock when it returns nil.
func (s *Store) acquire() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// getUint64 reads a uint64 value; ok is false if key is absent. The caller
// holds the read lock (or is Open).
func (s *Store) getUint64(key []byte) (v uint64, ok bool, err error) {
	val, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("store: get: %w", err)
	}
	v, err = getUint64(val)
	if cerr := closer.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store: get: %w", cerr)
	}
	if err != nil {
		return 0, false, err
	}
	return v, true, nil
}

// Metrics is a snapshot of the store's resource use.
type Metrics struct {
	DiskBytes       uint64 // bytes on disk (sstables, WAL, blob files)
	MemTableBytes   uint64 // bytes held by memtables
	BlockCacheBytes int64  // bytes held by the block cache
	BlockCacheHits  int64  // cumulative block cache hits
	BlockCacheMiss  int64  // cumulative block cache misses
	WALBytes        uint64 // live WAL bytes
	Compactions     int64  // cumulative compactions
}

// Metrics returns a snapshot of the store's resource use.
func (s *Store) Metrics() (Metrics, error) {
	if err := s.acquire(); err != nil {
		return Metrics{}, err
	}
	defer s.mu.RUnlock()
	m := s.db.Metrics()
	return Metrics{
		DiskBytes:       m.DiskSpaceUsage(),
		MemTableBytes:   m.MemTable.Size,
		BlockCacheBytes: m.BlockCache.Size,
		BlockCacheHits:  m.BlockCache.Hits,
		BlockCacheMiss:  m.BlockCache.Misses,
		WALBytes:        m.WAL.Size,
		Compactions:     m.Compact.Count,
	}, nil
}
