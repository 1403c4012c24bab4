package ordering

import (
	"fmt"

	"github.com/edgegate/edgegate/edge/store"
	"github.com/edgegate/edgegate/transport/pb"
)

// Sequencer assigns gap-free per-conversation sequence numbers to a batch
// of requests and deduplicates them on (Conv, Sender, ClientMsgID),
// against the store and within the batch. Local and every replica of a
// Raft group's state machine (edge/raftgroup) use it, so one set of rules
// orders messages everywhere. It keeps a bounded cache of conversation
// heads. Not safe for concurrent use: one appender or FSM goroutine owns
// it.
type Sequencer struct {
	st    *store.Store
	heads map[string]uint64 // conv -> committed head
	max   int
}

// NewSequencer returns a Sequencer reading st, caching at most headCache
// conversation heads (0: DefaultHeadCacheSize).
func NewSequencer(st *store.Store, headCache int) *Sequencer {
	if headCache <= 0 {
		headCache = DefaultHeadCacheSize
	}
	return &Sequencer{st: st, heads: make(map[string]uint64), max: headCache}
}

// Batch is a sequenced batch: the new messages to write and, per request,
// its Result or error.
type Batch struct {
	// Msgs are the new messages, in request order.
	Msgs []*pb.Message
	// Results and Errs answer each request (one of them is set).
	Results []Result
	Errs    []error
	// Duplicates counts requests answered with a stored message.
	Duplicates uint64
	heads      map[string]uint64 // conv -> head after the batch
}

type dedupKey struct{ conv, sender, id string }

// Sequence builds the messages of reqs. skip, if set, may refuse request
// i before it is sequenced (its error answers it). nowMs stamps requests
// without ServerTimeMs.
func (q *Sequencer) Sequence(reqs []Request, skip func(i int) error, nowMs func() int64) *Batch {
	b := &Batch{Results: make([]Result, len(reqs)), Errs: make([]error, len(reqs)), heads: make(map[string]uint64)}
	inBatch := make(map[dedupKey]*pb.Message)
	for i := range reqs {
		if skip != nil {
			if err := skip(i); err != nil {
				b.Errs[i] = err
				continue
			}
		}
		r := &reqs[i]
		k := dedupKey{r.Conv, r.Sender, r.ClientMsgID}
		if r.ClientMsgID != "" {
			m, ok := inBatch[k]
			if !ok {
				var err error
				if m, err = q.stored(k); err != nil {
					b.Errs[i] = err
					continue
				}
			}
			if m != nil {
				b.Results[i] = Result{Msg: m, Duplicate: true}
				b.Duplicates++
				continue
			}
		}
		head, ok := b.heads[r.Conv]
		if !ok {
			var err error
			if head, err = q.head(r.Conv); err != nil {
				b.Errs[i] = err
				continue
			}
		}
		ts := r.ServerTimeMs
		if ts == 0 {
			ts = nowMs()
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
		b.heads[r.Conv] = head + 1
		b.Msgs = append(b.Msgs, m)
		if r.ClientMsgID != "" {
			inBatch[k] = m
		}
		b.Results[i] = Result{Msg: m}
	}
	return b
}

// Committed records the batch's heads once its messages are written.
func (q *Sequencer) Committed(b *Batch) {
	for conv, h := range b.heads {
		q.heads[conv] = h
	}
	q.evict()
}

// Failed forgets the heads of the batch's conversations after a failed
// write, so they are read from the store again.
func (q *Sequencer) Failed(b *Batch) {
	for conv := range b.heads {
		delete(q.heads, conv)
	}
}

// Reset forgets every cached head (the store changed underneath, e.g. a
// Raft snapshot was restored).
func (q *Sequencer) Reset() { clear(q.heads) }

// stored returns the message already stored for k, or nil.
func (q *Sequencer) stored(k dedupKey) (*pb.Message, error) {
	seq, ok, err := q.st.Dedup(k.conv, k.sender, k.id)
	if err != nil || !ok {
		return nil, err
	}
	m, ok, err := q.st.Get(k.conv, seq)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("ordering: dedup entry %q/%q/%q points at missing seq %d", k.conv, k.sender, k.id, seq)
	}
	return m, nil
}

// head returns the committed head of conv from the cache or the store.
func (q *Sequencer) head(conv string) (uint64, error) {
	if h, ok := q.heads[conv]; ok {
		return h, nil
	}
	return q.st.Head(conv)
}

// evict keeps the head cache within its bound by dropping about half of
// it (map order is unspecified, so the choice is arbitrary).
func (q *Sequencer) evict() {
	if len(q.heads) <= q.max {
		return
	}
	target := q.max / 2
	for conv := range q.heads {
		if len(q.heads) <= target {
			return
		}
		delete(q.heads, conv)
	}
}
