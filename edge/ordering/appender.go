package ordering

import (
	"fmt"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
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
type dedupKey struct{ conv, sender, id string }

// process sequences, commits and answers one batch.
func (l *Local) process(batch []*pending) {
	l.stats.batches.Add(1)
	out := make([]outcome, len(batch))
	var (
		msgs    []*pb.Message
		inBatch = make(map[dedupKey]*pb.Message)
		work    = make(map[string]uint64) // conv -> head after this batch
		dups    uint64
	)
	for i, p := range batch {
		if err := p.ctx.Err(); err != nil {
			out[i].err = err // the caller is gone; do not write
			continue
		}
		r := &p.req
		k := dedupKey{r.Conv, r.Sender, r.ClientMsgID}
		if r.ClientMsgID != "" {
			if m, ok := inBatch[k]; ok {
				out[i].res = Result{Msg: m, Duplicate: true}
				dups++
				continue
			}
			m, err := l.stored(k)
			if err != nil {
				out[i].err = err
				continue
			}
			if m != nil {
				out[i].res = Result{Msg: m, Duplicate: true}
				dups++
				continue
			}
		}
		head, ok := work[r.Conv]
		if !ok {
			var err error
			if head, err = l.head(r.Conv); err != nil {
				out[i].err = err
				continue
			}
		}
		ts := r.ServerTimeMs
		if ts == 0 {
			ts = l.o.Now().UnixMilli()
		}
		m := &pb.Message{
			Conversation: r.Conv,
			Seq:          head + 1,
			Sender:       r.Sender,
			SenderDevice: r.SenderDevice,
			ServerTimeMs: ts,
			Body:         r.Body,
			ClientMsgId:  r.ClientMsgID,
			Class:        pb.DeliveryClass_DELIVERY_CLASS_ORDERED,
		}
		work[r.Conv] = head + 1
		msgs = append(msgs, m)
		if r.ClientMsgID != "" {
			inBatch[k] = m
		}
		out[i].res = Result{Msg: m}
	}
	if len(msgs) > 0 {
		l.stats.fsyncs.Add(1)
		if err := l.st.CommitMessages(msgs); err != nil {
			l.stats.failed.Add(1)
			l.o.Logger.Error("ordering: commit failed", "messages", len(msgs), "requests", len(batch), "err", err)
			for conv := range work {
				delete(l.heads, conv) // reload from the store next time
			}
			err = fmt.Errorf("ordering: commit: %w", err)
			for i := range out {
				out[i] = outcome{err: err}
			}
			dups = 0
		} else {
			for conv, h := range work {
				l.heads[conv] = h
			}
			l.evictHeads()
			l.stats.messages.Add(uint64(len(msgs)))
			l.stats.lastBatch.Store(int64(len(msgs)))
			if l.o.OnCommit != nil {
				l.o.OnCommit(msgs)
			}
		}
	}
	l.stats.duplicates.Add(dups)
	for i, p := range batch {
		p.done <- out[i]
	}
}

// stored returns the message already stored for k, or nil.
func (l *Local) stored(k dedupKey) (*pb.Message, error) {
	seq, ok, err := l.st.Dedup(k.conv, k.sender, k.id)
	if err != nil || !ok {
		return nil, err
	}
	m, ok, err := l.st.Get(k.conv, seq)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ordering: dedup entry %q/%q/%q points at missing seq %d", k.conv, k.sender, k.id, seq)
	}
	return m, nil
}

// head returns the committed head of conv from the cache or the store.
func (l *Local) head(conv string) (uint64, error) {
	if h, ok := l.heads[conv]; ok {
		return h, nil
	}
	return l.st.Head(conv)
}

// evictHeads keeps the head cache within HeadCacheSize by dropping about
// half of it (map order is unspecified, so the choice is arbitrary).
func (l *Local) evictHeads() {
	if len(l.heads) <= l.o.HeadCacheSize {
		return
	}
	target := l.o.HeadCacheSize / 2
	for conv := range l.heads {
		if len(l.heads) <= target {
			return
		}
		delete(l.heads, conv)
	}
}
