package store

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults for Options fields left at their zero value.
const (
	// DefaultCacheBytes is the default pebble block cache size.
	DefaultCacheBytes = 32 << 20
	// DefaultMemTableBytes is the default pebble memtable size.
	DefaultMemTableBytes = 4 << 20
	// DefaultMaxOpenFiles is the default soft limit on open files.
	DefaultMaxOpenFiles = 256
	// maxMemTableBytes keeps MemTableBytes well below pebble's 4 GiB limit.
	maxMemTableBytes = 1 << 30
)

// Read limits for Read, History and Positions.
const (
	// DefaultReadLimit is used when Read or History get limit 0.
	DefaultReadLimit = 100
	// MaxReadLimit caps the limit of Read and History; larger limits are
	// clamped to it.
	MaxReadLimit = 1000
)

// Options configures a Store. The zero value is usable; each field documents
// its default.
type Options struct {
	// NoSync disables fsync of commits. Default false: every CommitMessages
	// returns only after the write-ahead log is synced to disk. Set it only
	// for benchmarks or data you can afford to lose.
	NoSync bool
	// SyncPositions makes SetPositions fsync too. Default false: positions
	// are written to the WAL without waiting for fsync; a crash may lose the
	// most recent position updates, which only causes redelivery.
	SyncPositions bool
	// Logger receives pebble's log lines (info at Debug level, errors at
	// Error). Default slog.Default().
	Logger *slog.Logger
	// CacheBytes is the pebble block cache size. Default DefaultCacheBytes
	// (32 MiB).
	CacheBytes int64
	// MemTableBytes is the pebble memtable size. Default
	// DefaultMemTableBytes (4 MiB); at most 1 GiB.
	MemTableBytes uint64
	// MaxOpenFiles is a soft limit on files pebble keeps open. Default
	// DefaultMaxOpenFiles (256).
	MaxOpenFiles int

	// fs replaces the OS filesystem (tests simulate power loss with
	// vfs.NewCrashableMem). Default vfs.Default.
	fs vfs.FS
}

// Validate reports whether the options are consistent. Zero values are
// valid (they mean "default").
func (o Options) Validate() error {
	if o.CacheBytes < 0 {
		return fmt.Errorf("%w: CacheBytes %d < 0", ErrInvalidArgument, o.CacheBytes)
	}
	if o.MemTableBytes > maxMemTableBytes {
		return fmt.Errorf("%w: MemTableBytes %d > %d", ErrInvalidArgument, o.MemTableBytes, maxMemTableBytes)
	}
	if o.MaxOpenFiles < 0 {
		return fmt.Errorf("%w: MaxOpenFiles %d < 0", ErrInvalidArgument, o.MaxOpenFiles)
	}
	return nil
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CacheBytes == 0 {
		o.CacheBytes = DefaultCacheBytes
	}
	if o.MemTableBytes == 0 {
		o.MemTableBytes = DefaultMemTableBytes
	}
	if o.MaxOpenFiles == 0 {
		o.MaxOpenFiles = DefaultMaxOpenFiles
	}
	return o
}

// clampLimit turns a caller's limit into the number of rows to return.
func clampLimit(limit int) (int, error) {
	switch {
	case limit < 0:
		return 0, fmt.Errorf("%w: limit %d < 0", ErrInvalidArgument, limit)
	case limit == 0:
		return DefaultReadLimit, nil
	case limit > MaxReadLimit:
		return MaxReadLimit, nil
	}
	return limit, nil
}
