package ordering

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// Defaults for LocalOptions fields left at their zero value.
const (
	// DefaultMaxBatch is the default cap on requests per commit.
	DefaultMaxBatch = 512
	// DefaultQueueSize is the default bound of the Append queue.
	DefaultQueueSize = 4096
	// DefaultHeadCacheSize is the default number of conversation heads
	// kept in memory.
	DefaultHeadCacheSize = 100_000
	// maxWindow bounds Window: longer waits only add latency.
	maxWindow = time.Second
)

// LocalOptions configures a Local orderer. The zero value is usable; each
// field documents its default.
type LocalOptions struct {
	// Window is how long the appender waits for more requests after
	// draining the queue, before committing. Default 0: commit what is
	// queued at once (concurrent senders still share commits, because
	// requests queue up during each fsync). At most 1s.
	Window time.Duration
	// MaxBatch caps the requests of one commit. Default DefaultMaxBatch
	// (512).
	MaxBatch int
	// QueueSize bounds the requests waiting for the appender; Append
	// returns ErrOverloaded when it is full. Default DefaultQueueSize (4096).
	QueueSize int
	// HeadCacheSize bounds the conversation heads cached in memory; when
	// exceeded, about half are evicted (they reload from the store).
	// Default DefaultHeadCacheSize (100k).
	HeadCacheSize int
	// OnCommit, if set, is called after each successful commit with the
	// newly stored (non-duplicate) messages, in seq order per conversation,
	// from the appender goroutine and before the callers are answered. It
	// must not block for long (it delays every Append) and must not call
	// Append (deadlock). The messages are shared and read-only.
	OnCommit func([]*pb.Message)
	// Logger receives commit failures. Default slog.Default().
	Logger *slog.Logger
	// Now returns the time used for requests with ServerTimeMs 0. Default
	// time.Now.
	Now func() time.Time
}

// Validate reports whether the options are consistent. Zero values are
// valid (they mean "default").
func (o LocalOptions) Validate() error {
	switch {
	case o.Window < 0 || o.Window > maxWindow:
		return fmt.Errorf("%w: Window %v not in [0, %v]", ErrInvalidRequest, o.Window, maxWindow)
	case o.MaxBatch < 0:
		return fmt.Errorf("%w: MaxBatch %d < 0", ErrInvalidRequest, o.MaxBatch)
	case o.QueueSize < 0:
		return fmt.Errorf("%w: QueueSize %d < 0", ErrInvalidRequest, o.QueueSize)
	case o.HeadCacheSize < 0:
		return fmt.Errorf("%w: HeadCacheSize %d < 0", ErrInvalidRequest, o.HeadCacheSize)
	}
	return nil
}

// withDefaults returns o with zero fields replaced by their defaults.
func (o LocalOptions) withDefaults() LocalOptions {
	if o.MaxBatch == 0 {
		o.MaxBatch = DefaultMaxBatch
	}
	if o.QueueSize == 0 {
		o.QueueSize = DefaultQueueSize
	}
	if o.HeadCacheSize == 0 {
		o.HeadCacheSize = DefaultHeadCacheSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}
