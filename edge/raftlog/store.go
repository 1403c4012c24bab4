package raftlog

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/edgegate/edgegate/edge/store"
)

// Key prefixes.
const (
	prefixLog    byte = 'l'
	prefixStable byte = 's'
)

// errNotFound is what raft expects from a StableStore for a missing key:
// it compares the message, "not found".
var errNotFound = errors.New("not found")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("raftlog: closed")

// Options configure a Store. The zero value is usable.
type Options struct {
	// NoSync skips fsync on StoreLogs and stable writes (benchmarks only:
	// a crash then loses acknowledged entries).
	NoSync bool
	// CacheBytes is the pebble block cache. Default 16 MiB.
	CacheBytes int64
	// MemTableBytes is the pebble memtable size. Default 16 MiB.
	MemTableBytes uint64
	// Logger receives pebble's errors. Default slog.Default().
	Logger *slog.Logger

	fs vfs.FS // tests: an in-memory or crashable filesystem
}

// Store is a node's Raft log store for all its groups. Safe for
// concurrent use.
type Store struct {
	db   *pebble.DB
	wo   *pebble.WriteOptions
	log  *slog.Logger
	mu   sync.RWMutex // guards closed against use of db after Close
	shut bool

	gmu    sync.Mutex
	groups map[uint32]*Group

	syncs   atomic.Uint64 // batches committed with Sync
	entries atomic.Uint64 // log entries stored
}

// Open opens (creating if needed) the log store in dir.
func Open(dir string, o Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("raftlog: empty directory")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = 16 << 20
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = 16 << 20
	}
	cache := pebble.NewCache(o.CacheBytes)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:              cache,
		MemTableSize:       o.MemTableBytes,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             store.PebbleLogger(o.Logger),
		FS:                 o.fs,
	}
	db, err := pebble.Open(dir, po)
	if err != nil {
		return nil, fmt.Errorf("raftlog: open %s: %w", dir, err)
	}
	s := &Store{db: db, wo: pebble.Sync, log: o.Logger, groups: make(map[uint32]*Group)}
	if o.NoSync {
		s.wo = pebble.NoSync
	}
	return s, nil
}

// Group returns group id's log and stable store (the same value for the
// same id), loading its first and last index.
func (s *Store) Group(id uint32) (*Group, error) {
	s.gmu.Lock()
	defer s.gmu.Unlock()
	if g, ok := s.groups[id]; ok {
		return g, nil
	}
	g := &Group{s: s, id: id}
	if err := g.loadBounds(); err != nil {
		return nil, err
	}
	s.groups[id] = g
	return g, nil
}

// Stats are the store's counters.
type Stats struct {
	// Commits counts batches written with fsync requested (pebble folds
	// concurrent ones into one fsync; WALSyncs is what reached the disk).
	Commits uint64
	// WALSyncs counts fsyncs of pebble's write-ahead log.
	WALSyncs uint64
	// Entries counts log entries stored.
	Entries uint64
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	st := Stats{Commits: s.syncs.Load(), Entries: s.entries.Load()}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.shut {
		if h := s.db.Metrics().LogWriter.FsyncLatency; h != nil {
			st.WALSyncs = histogramCount(h)
		}
	}
	return st
}

// Close closes the database. Groups must not be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		return nil
	}
	s.shut = true
	return s.db.Close()
}

// use runs fn with the database unless the store is closed.
func (s *Store) use(fn func(db *pebble.DB) error) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.shut {
		return ErrClosed
	}
	return fn(s.db)
}

// logKey is the key of group's entry at index.
func logKey(group uint32, index uint64) []byte {
	k := make([]byte, 13)
	k[0] = prefixLog
	binary.BigEndian.PutUint32(k[1:], group)
	binary.BigEndian.PutUint64(k[5:], index)
	return k
}

// logEnd is the first key after group's entries.
func logEnd(group uint32) []byte {
	if group == ^uint32(0) {
		return []byte{prefixLog + 1}
	}
	return logKey(group+1, 0)[:5]
}

// stableKey is the key of group's stable value key.
func stableKey(group uint32, key []byte) []byte {
	k := make([]byte, 5, 5+len(key))
	k[0] = prefixStable
	binary.BigEndian.PutUint32(k[1:], group)
	return append(k, key...)
}

// compile-time checks
var (
	_ raft.LogStore    = (*Group)(nil)
	_ raft.StableStore = (*Group)(nil)
)

// histogramCount is the number of observations of a prometheus histogram.
func histogramCount(h prometheus.Histogram) uint64 {
	var m dto.Metric
	if err := h.Write(&m); err != nil {
		return 0
	}
	return m.GetHistogram().GetSampleCount()
}
