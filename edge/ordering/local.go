package ordering

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// Local is the single-node Orderer: group commit on one edge/store.Store.
// It does not own the store: Close leaves it open.
type Local struct {
	st    *store.Store
	o     LocalOptions
	queue chan *pending

	mu     sync.RWMutex // guards closed; held (read) while enqueueing
	closed bool
	quit   chan struct{} // closed by Close, under mu
	wg     sync.WaitGroup

	seq *Sequencer // appender goroutine only

	stats stats
}

// pending is one queued Append.
type pending struct {
	ctx  context.Context
	req  Request
	done chan outcome // buffered(1): the appender never blocks answering
}

// outcome answers one pending request.
type outcome struct {
	res Result
	err error
}

var _ Orderer = (*Local)(nil)

// NewLocal starts a Local orderer on st. The caller keeps ownership of st
// and must close it after Local.Close.
func NewLocal(st *store.Store, o LocalOptions) (*Local, error) {
	if st == nil {
		return nil, fmt.Errorf("%w: nil store", ErrInvalidRequest)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	l := &Local{
		st:    st,
		o:     o,
		queue: make(chan *pending, o.QueueSize),
		quit:  make(chan struct{}),
		seq:   NewSequencer(st, o.HeadCacheSize),
	}
	l.wg.Add(1)
	go l.run()
	return l, nil
}

// validate checks the fields the store needs: ids are protobuf strings, so
// they must be UTF-8, and a bad request must not fail the batch it joins.
func validate(r *Request) error {
	switch {
	case r.Conv == "":
		return fmt.Errorf("%w: empty Conv", ErrInvalidRequest)
	case r.Sender == "":
		return fmt.Errorf("%w: empty Sender", ErrInvalidRequest)
	case !utf8.ValidString(r.Conv) || !utf8.ValidString(r.Sender) ||
		!utf8.ValidString(r.SenderDevice) || !utf8.ValidString(r.ClientMsgID):
		return fmt.Errorf("%w: ids must be valid UTF-8", ErrInvalidRequest)
	}
	return nil
}

// Append orders and durably stores r; see Orderer.Append. It fails fast with
// ErrOverloaded when the queue is full and with ErrClosed after Close. If
// ctx ends first it returns ctx.Err() and the message may still be stored
// (a resend with the same ClientMsgID then returns it as a duplicate).
func (l *Local) Append(ctx context.Context, r Request) (Result, error) {
	if err := validate(&r); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	p := &pending{ctx: ctx, req: r, done: make(chan outcome, 1)}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return Result{}, ErrClosed
	}
	select {
	case l.queue <- p:
		l.mu.RUnlock()
	default:
		l.mu.RUnlock()
		l.stats.overloaded.Add(1)
		return Result{}, ErrOverloaded
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// checkOpen returns ctx.Err() or ErrClosed if a read should not run.
func (l *Local) checkOpen(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	return nil
}

// Read returns up to limit messages of conv with seq > after, ascending
// (see store.Store.Read for limits).
func (l *Local) Read(ctx context.Context, conv string, after uint64, limit int) ([]*pb.Message, error) {
	if err := l.checkOpen(ctx); err != nil {
		return nil, err
	}
	return l.st.Read(conv, after, limit)
}

// History returns up to limit messages of conv with seq < before (before 0:
// from the newest), newest first.
func (l *Local) History(ctx context.Context, conv string, before uint64, limit int) ([]*pb.Message, error) {
	if err := l.checkOpen(ctx); err != nil {
		return nil, err
	}
	return l.st.History(conv, before, limit)
}

// Head returns the last committed seq of conv (0 if none).
func (l *Local) Head(ctx context.Context, conv string) (uint64, error) {
	if err := l.checkOpen(ctx); err != nil {
		return 0, err
	}
	return l.st.Head(conv)
}

// Close stops the appender. A batch being committed completes and is
// answered; requests still queued fail with ErrClosed. Close waits for the
// appender to exit. It does not close the store. Calling it again is a
// no-op returning nil.
func (l *Local) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.quit)
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

// Stats is a snapshot of Local's counters, for the edge to export.
type Stats struct {
	Batches       uint64 // batches processed (queue drains)
	Fsyncs        uint64 // store commits attempted (one fsync each unless the store has NoSync)
	FailedCommits uint64 // store commits that failed
	Messages      uint64 // new messages stored
	Duplicates    uint64 // requests answered with an already stored message
	Overloaded    uint64 // Appends refused with ErrOverloaded
	LastBatchSize int    // new messages in the last successful commit
	Queued        int    // requests waiting in the queue now
}

// stats holds the live counters.
type stats struct {
	batches, fsyncs, failed, messages, duplicates, overloaded atomic.Uint64
	lastBatch                                                 atomic.Int64
}

// Stats returns a snapshot of the counters.
func (l *Local) Stats() Stats {
	return Stats{
		Batches:       l.stats.batches.Load(),
		Fsyncs:        l.stats.fsyncs.Load(),
		FailedCommits: l.stats.failed.Load(),
		Messages:      l.stats.messages.Load(),
		Duplicates:    l.stats.duplicates.Load(),
		Overloaded:    l.stats.overloaded.Load(),
		LastBatchSize: int(l.stats.lastBatch.Load()),
		Queued:        len(l.queue),
	}
}
