package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"
	"github.com/edgegate/edgegate/transport/pb"
)

// Head returns the last seq of conv, or 0 if conv has no messages.
func (s *Store) Head(conv string) (uint64, error) {
	if err := s.acquire(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	v, _, err := s.getUint64(headKey(conv))
	return v, err
}

// Dedup looks up the seq stored for (conv, sender, clientMsgID). ok is false
// if that id was never committed.
func (s *Store) Dedup(conv, sender, clientMsgID string) (seq uint64, ok bool, err error) {
	if err := s.acquire(); err != nil {
		return 0, false, err
	}
	defer s.mu.RUnlock()
	return s.getUint64(dedupKey(conv, sender, clientMsgID))
}

// Get returns message seq of conv; ok is false if it does not exist.
func (s *Store) Get(conv string, seq uint64) (*pb.Message, bool, error) {
	if err := s.acquire(); err != nil {
		return nil, false, err
	}
	defer s.mu.RUnlock()
	val, closer, err := s.db.Get(logKey(conv, seq))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get %q/%d: %w", conv, seq, err)
	}
	defer closer.Close()
	m, err := decodeRecord(conv, seq, val)
	if err != nil {
		return nil, false, err
	}
	return m, true, nil
}

// Read returns up to limit messages of conv with seq > after, ascending.
// limit 0 means DefaultReadLimit; limits above MaxReadLimit are clamped.
func (s *Store) Read(conv string, after uint64, limit int) ([]*pb.Message, error) {
	n, err := clampLimit(limit)
	if err != nil {
		return nil, err
	}
	if after == math.MaxUint64 {
		return nil, nil
	}
	prefix := logPrefix(conv)
	lower := binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), after+1)
	return s.scan(conv, lower, prefixEnd(prefix), n, false)
}

// History returns up to limit messages of conv with seq < before, newest
// first; before 0 means "from the newest". limit 0 means DefaultReadLimit;
// limits above MaxReadLimit are clamped.
func (s *Store) History(conv string, before uint64, limit int) ([]*pb.Message, error) {
	n, err := clampLimit(limit)
	if err != nil {
		return nil, err
	}
	prefix := logPrefix(conv)
	upper := prefixEnd(prefix)
	if before != 0 {
		upper = binary.BigEndian.AppendUint64(append([]byte(nil), prefix...), before)
	}
	return s.scan(conv, prefix, upper, n, true)
}

// scan returns up to n records of conv in [lower, upper), ascending or (if
// reverse) descending.
func (s *Store) scan(conv string, lower, upper []byte, n int, reverse bool) (msgs []*pb.Message, err error) {
	if err := s.acquire(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, fmt.Errorf("store: scan %q: %w", conv, err)
	}
	defer func() {
		if cerr := it.Close(); err == nil && cerr != nil {
			msgs, err = nil, fmt.Errorf("store: scan %q: %w", conv, cerr)
		}
	}()
	valid, step := it.First, it.Next
	if reverse {
		valid, step = it.Last, it.Prev
	}
	for ok := valid(); ok && len(msgs) < n; ok = step() {
		k, err := DecodeKey(it.Key())
		if err != nil {
			return nil, err
		}
		val, err := it.ValueAndErr()
		if err != nil {
			return nil, fmt.Errorf("store: scan %q: %w", conv, err)
		}
		m, err := decodeRecord(conv, k.Seq, val)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("store: scan %q: %w", conv, err)
	}
	return msgs, nil
}

// CommitMessages writes a batch of already-sequenced messages, their
// conversations' new heads and their dedup entries (for messages with a
// client_msg_id) in one atomic pebble batch, fsynced unless Options.NoSync.
//
// Per conversation the batch must continue the stored head without a gap:
// the first message of conv has seq head+1 and each next one seq+1;
// otherwise nothing is written and the error wraps ErrSeqConflict. The store
// does not check that a dedup id is new; the caller deduplicates. The
// messages are not retained. An empty batch is a no-op.
func (s *Store) CommitMessages(msgs []*pb.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	return s.commitBatch(msgs, s.commit, nil)
}

// commitBatch writes msgs, their heads and dedup entries, plus what extra
// adds (given the batch's conversations and their last seqs), in one
// batch with wo. See CommitMessages for the checks.
func (s *Store) commitBatch(msgs []*pb.Message, wo *pebble.WriteOptions, extra func(b *pebble.Batch, convs map[string]uint64) error) error {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if err := s.acquire(); err != nil {
		return err
	}
	defer s.mu.RUnlock()

	last := make(map[string]uint64) // conv -> last seq seen in this batch
	b := s.db.NewBatch()
	defer b.Close()
	for i, m := range msgs {
		if m == nil {
			return fmt.Errorf("%w: message %d is nil", ErrInvalidArgument, i)
		}
		conv, seq := m.GetConversation(), m.GetSeq()
		if conv == "" || seq == 0 {
			return fmt.Errorf("%w: message %d has conversation %q seq %d", ErrInvalidArgument, i, conv, seq)
		}
		prev, seen := last[conv]
		if !seen {
			head, _, err := s.getUint64(headKey(conv))
			if err != nil {
				return err
			}
			prev = head
		}
		if seq != prev+1 {
			return fmt.Errorf("%w: %q: seq %d follows %d", ErrSeqConflict, conv, seq, prev)
		}
		last[conv] = seq
		rec, err := encodeRecord(m)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
		}
		if err := b.Set(logKey(conv, seq), rec, nil); err != nil {
			return fmt.Errorf("store: batch: %w", err)
		}
		if id := m.GetClientMsgId(); id != "" {
			if err := b.Set(dedupKey(conv, m.GetSender(), id), putUint64(seq), nil); err != nil {
				return fmt.Errorf("store: batch: %w", err)
			}
		}
	}
	for conv, seq := range last {
		if err := b.Set(headKey(conv), putUint64(seq), nil); err != nil {
			return fmt.Errorf("store: batch: %w", err)
		}
	}
	if extra != nil {
		if err := extra(b, last); err != nil {
			return fmt.Errorf("store: batch: %w", err)
		}
	}
	if err := s.db.Apply(b, wo); err != nil {
		return fmt.Errorf("store: commit %d messages: %w", len(msgs), err)
	}
	return nil
}
