package ordering

import (
	"fmt"
	"time"
)

// run is the appender goroutine: it collects batches and commits them.
func (l *Local) run() {
	defer l.wg.Done()
	batch := make([]*pending, 0, l.o.MaxBatch)
	for {
		// Close takes priority over queued work: queued requests fail.
		select {
		case <-l.quit:
			l.failQueued(nil)
			return
		default:
		}
		select {
		case <-l.quit:
			l.failQueued(nil)
			return
		case p := <-l.queue:
			batch = append(batch[:0], p)
		}
		var ok bool
		if batch, ok = l.collect(batch); !ok {
			l.failQueued(batch)
			return
		}
		l.process(batch)
		clear(batch) // drop references to answered requests
	}
}

// collect adds what is queued to batch, then waits up to Window for more.
// ok is false if Close was called while waiting.
func (l *Local) collect(batch []*pending) ([]*pending, bool) {
	for len(batch) < l.o.MaxBatch {
		select {
		case p := <-l.queue:
			batch = append(batch, p)
			continue
		default:
		}
		break
	}
	if l.o.Window <= 0 || len(batch) >= l.o.MaxBatch {
		return batch, true
	}
	timer := time.NewTimer(l.o.Window)
	defer timer.Stop()
	for len(batch) < l.o.MaxBatch {
		select {
		case p := <-l.queue:
			batch = append(batch, p)
		case <-timer.C:
			return batch, true
		case <-l.quit:
			return batch, false
		}
	}
	return batch, true
}

// failQueued answers batch and everything still queued with ErrClosed. It
// runs after Close has set closed, so nothing new can be queued.
func (l *Local) failQueued(batch []*pending) {
	for _, p := range batch {
		p.done <- outcome{err: ErrClosed}
	}
	for {
		select {
		case p := <-l.queue:
			p.done <- outcome{err: ErrClosed}
		default:
			return
		}
	}
}

// dedupKey identifies a request for idempotency.
// process sequences, commits and answers one batch.
func (l *Local) process(batch []*pending) {
	l.stats.batches.Add(1)
	reqs := make([]Request, len(batch))
	for i, p := range batch {
		reqs[i] = p.req
	}
	// A caller that is gone is not written for.
	b := l.seq.Sequence(reqs, func(i int) error { return batch[i].ctx.Err() }, func() int64 { return l.o.Now().UnixMilli() })
	dups := b.Duplicates
	if len(b.Msgs) > 0 {
		l.stats.fsyncs.Add(1)
		if err := l.st.CommitMessages(b.Msgs); err != nil {
			l.stats.failed.Add(1)
			l.o.Logger.Error("ordering: commit failed", "messages", len(b.Msgs), "requests", len(batch), "err", err)
			l.seq.Failed(b)
			err = fmt.Errorf("ordering: commit: %w", err)
			for i := range b.Errs {
				b.Errs[i] = err
			}
			dups = 0
		} else {
			l.seq.Committed(b)
			l.stats.messages.Add(uint64(len(b.Msgs)))
			l.stats.lastBatch.Store(int64(len(b.Msgs)))
			if l.o.OnCommit != nil {
				l.o.OnCommit(b.Msgs)
			}
		}
	}
	l.stats.duplicates.Add(dups)
	for i, p := range batch {
		p.done <- outcome{res: b.Results[i], err: b.Errs[i]}
	}
}
