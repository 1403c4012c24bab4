package edge

import (
	"context"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// The outbound side of a session. Everything a session sends goes through
// three bounded queues, each with its own overflow policy:
//
//   - control frames (acks, replies, errors): bounded by ControlQueue; a
//     client that sends requests but never reads its replies is closed
//     (it is the only one who suffers).
//   - ordered conversations: a per-conversation queue of notifications
//     bounded by ConvQueue. On overflow the notifications are dropped and
//     the writer reads the missing range from the store instead, so a slow
//     reader never loses a message and never holds memory for it.
//   - live room batches: a ring of ViewerQueue shared frames; on overflow
//     the oldest batch is dropped and counted, and the viewer is told how
//     many it missed.
//
// The writer goroutine exists only while there is something to write: an
// idle connection costs no goroutine on the write side.

// convSub is a session's subscription to one conversation. Guarded by
// session.mu.
type convSub struct {
	conv string
	// sent is the highest seq written (or being written) to the client;
	// deliveries continue from sent+1, always gap-free.
	sent uint64
	// acked is the client's cumulative delivery ack.
	acked uint64
	// pending holds committed messages not yet written, in seq order.
	pending []*pb.Message
	// catchup says the writer must read the store after sent.
	catchup bool
	dirty   bool
	removed bool
}

// enqueueCtrl queues an encoded control frame. It reports false (and closes
// the session as a slow consumer) when the control queue is full.
func (s *session) enqueueCtrl(frame []byte) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if len(s.ctrl) >= s.srv.cfg.ControlQueue {
		s.mu.Unlock()
		s.srv.m.slowClosed.Inc()
		s.fail(transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_OVERLOADED), "slow consumer: replies not read")
		return false
	}
	s.ctrl = append(s.ctrl, frame)
	s.kickLocked()
	s.mu.Unlock()
	return true
}

// reply sends a control frame from the session's own read loop (only
// there: it may block on the write). When nothing is queued or being
// written it writes inline instead of starting the writer goroutine: an
// ack then costs no goroutine hand-off and, above all, does not wait in
// the scheduler's run queue behind a room fan-out's ten thousand viewer
// writers (which made a danmaku publisher's ack as slow as a whole
// fan-out). Otherwise it queues behind what is there, keeping order.
func (s *session) reply(frame []byte) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	if s.writing || s.queuedLocked() || s.closeAfterFlush != nil {
		s.mu.Unlock()
		return s.enqueueCtrl(frame)
	}
	s.writing = true // this goroutine is the writer until it is done
	s.mu.Unlock()
	err := s.write(frame)
	s.mu.Lock()
	s.writing = false
	req := s.closeAfterFlush
	if s.queuedLocked() && !s.closed {
		s.kickLocked() // the writer takes over, closeAfterFlush included
		req = nil
	} else {
		s.closeAfterFlush = nil
	}
	s.mu.Unlock()
	if req != nil {
		s.fail(req.code, req.reason)
		close(req.flushed)
	}
	if err != nil {
		s.fail(transport.CloseInternal, "write failed")
		return false
	}
	return true
}

// queuedLocked reports whether anything waits for the writer.
func (s *session) queuedLocked() bool {
	return len(s.ctrl) > 0 || len(s.live) > 0 || len(s.dirty) > 0 || s.liveDropped > 0
}

// enqueueCtrlNoFail queues a best-effort notification (presence): dropped,
// not fatal, when the control queue is full. Safe under the router lock.
func (s *session) enqueueCtrlNoFail(frame []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || len(s.ctrl) >= s.srv.cfg.ControlQueue {
		return
	}
	s.ctrl = append(s.ctrl, frame)
	s.kickLocked()
}

// notify queues committed messages of one conversation (fan-out path; must
// not block).
func (s *session) notify(cs *convSub, msgs []*pb.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || cs.removed {
		return
	}
	if cs.catchup {
		// The writer will read the store past these anyway.
	} else if len(cs.pending)+len(msgs) > s.srv.cfg.ConvQueue {
		cs.pending = nil
		cs.catchup = true
		s.srv.m.convOverflows.Inc()
	} else {
		cs.pending = append(cs.pending, msgs...)
	}
	s.markDirtyLocked(cs)
}

func (s *session) markDirtyLocked(cs *convSub) {
	if !cs.dirty {
		cs.dirty = true
		s.dirty = append(s.dirty, cs)
	}
	s.kickLocked()
}

// enqueueLive queues a room batch, dropping the oldest when the ring is full.
// It reports false when the session is closed (the batch is not queued).
func (s *session) enqueueLive(it liveItem) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if len(s.live) >= s.srv.cfg.ViewerQueue {
		old := s.live[0]
		copy(s.live, s.live[1:])
		s.live = s.live[:len(s.live)-1]
		s.liveDropped += old.batch.size()
		s.srv.m.liveDropped.Add(float64(old.batch.size()))
		old.batch.done()
	}
	s.live = append(s.live, it)
	s.kickLocked()
	return true
}

// kickLocked starts the writer goroutine if it is not running.
func (s *session) kickLocked() {
	if !s.writing && !s.closed && !s.starting {
		s.writing = s.srv.goFunc(s.writeLoop)
	}
}

// writeLoop writes until the queues are empty, then exits.
func (s *session) writeLoop() {
	for {
		s.mu.Lock()
		ctrl, live, dirty, dropped := s.ctrl, s.live, s.dirty, s.liveDropped
		if s.closed || (len(ctrl) == 0 && len(live) == 0 && len(dirty) == 0 && dropped == 0) {
			s.writing = false
			req := s.closeAfterFlush
			s.closeAfterFlush = nil
			s.mu.Unlock()
			if req != nil {
				req.close(s)
				close(req.flushed)
			}
			return
		}
		s.ctrl, s.live, s.dirty, s.liveDropped = nil, nil, nil, 0
		for _, cs := range dirty {
			cs.dirty = false
		}
		s.mu.Unlock()

		if err := s.writeBatch(ctrl, live, dirty, dropped); err != nil {
			s.fail(transport.CloseInternal, "write failed")
		}
		releaseLive(live) // what was not written (after an error)
	}
}

// writeBatch writes what the writer took from the queues. Written live items
// are released (and cleared from live) as they go. Writes use no context:
// the connection applies WriteTimeout itself, and a context per frame costs
// a timer and an AfterFunc registration on the hottest path (room fan-out).
func (s *session) writeBatch(ctrl [][]byte, live []liveItem, dirty []*convSub, dropped uint64) error {
	for _, f := range ctrl {
		if err := s.write(f); err != nil {
			return err
		}
	}
	for _, cs := range dirty {
		if err := s.deliverConv(cs); err != nil {
			return err
		}
	}
	if dropped > 0 {
		f, err := transport.Encode(nil, &pb.Deliver{Dropped: dropped}, nil)
		if err != nil {
			return err
		}
		if err := s.write(f); err != nil {
			return err
		}
	}
	var n float64
	var stale uint64 // comments in batches too old to write
	written := 0
	maxAge := s.srv.cfg.LiveMaxAge
	for i := range live {
		if time.Since(live[i].batch.started) > maxAge {
			stale += live[i].batch.size()
			live[i].batch.done()
			live[i] = liveItem{}
			continue
		}
		err := s.conn.WriteShared(context.Background(), live[i].frame)
		live[i].batch.done()
		if err != nil {
			live[i] = liveItem{}
			return err
		}
		n += float64(len(live[i].frame.Bytes()))
		written++
		live[i] = liveItem{}
	}
	if written > 0 {
		s.srv.m.framesOut.Add(float64(written))
		s.srv.m.bytesOut.Add(n)
	}
	if stale > 0 {
		// Counted like ring drops, and the viewer is told.
		s.srv.m.liveDropped.Add(float64(stale))
		s.srv.m.liveStale.Add(float64(stale))
		f, err := transport.Encode(nil, &pb.Deliver{Dropped: stale}, nil)
		if err != nil {
			return err
		}
		return s.write(f)
	}
	return nil
}

func (s *session) write(frame []byte) error {
	if err := s.conn.WriteFrame(context.Background(), frame); err != nil {
		return err
	}
	s.srv.m.framesOut.Inc()
	s.srv.m.bytesOut.Add(float64(len(frame)))
	return nil
}

// catchupPage is how many messages one store read returns while catching up.
const catchupPage = 256

// deliverConv writes what a conversation subscription has pending, reading
// the store for any gap, so the client sees seq sent+1, sent+2, ... with no
// gap and no duplicate.
func (s *session) deliverConv(cs *convSub) error {
	for {
		s.mu.Lock()
		if cs.removed || s.closed {
			s.mu.Unlock()
			return nil
		}
		sent, catchup, pending := cs.sent, cs.catchup, cs.pending
		cs.pending = nil
		cs.catchup = false
		s.mu.Unlock()

		// Drop what was already sent.
		i := 0
		for i < len(pending) && pending[i].Seq <= sent {
			i++
		}
		pending = pending[i:]
		var msgs []*pb.Message
		more := false
		if catchup || (len(pending) > 0 && pending[0].Seq != sent+1) {
			s.srv.m.catchupReads.Inc()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			read, err := s.srv.ord.Read(ctx, cs.conv, sent, catchupPage)
			cancel()
			if err != nil {
				s.srv.log.Warn("catch-up read failed", "conv", cs.conv, "err", err)
				// Retry later from the store; nothing is lost.
				s.mu.Lock()
				cs.catchup = true
				s.mu.Unlock()
				return nil
			}
			msgs = read
			more = len(read) == catchupPage
			if more {
				// Keep catching up; the pending notifications are older
				// than what the store will return next.
			} else if len(read) > 0 {
				last := read[len(read)-1].Seq
				for _, m := range pending {
					if m.Seq == last+1 {
						msgs = append(msgs, m)
						last++
					}
				}
			}
		} else {
			msgs = pending
		}
		if len(msgs) == 0 {
			if more {
				continue
			}
			return nil
		}
		// sent moves before the write: a fast client may ack these before
		// the write call returns, and acks are capped at sent. If the
		// write fails the connection is gone and sent no longer matters.
		s.mu.Lock()
		if last := msgs[len(msgs)-1].Seq; last > cs.sent {
			cs.sent = last
		}
		if more {
			cs.catchup = true
		}
		again := cs.catchup || len(cs.pending) > 0
		s.mu.Unlock()
		if err := s.writeDeliver(msgs); err != nil {
			return err
		}
		if !again {
			return nil
		}
	}
}

// writeDeliver writes messages in as few Deliver frames as the frame limit
// allows (or, on a transport that prefers smaller frames, as its preferred
// size allows: on quic-fec a frame that fits a datagram is protected by
// FEC, a larger one is not).
func (s *session) writeDeliver(msgs []*pb.Message) error {
	limit := s.srv.cfg.MaxFrameBytes - 512
	if fs, ok := s.conn.(transport.FrameSizer); ok {
		limit = min(limit, fs.PreferredFrameBytes()-transport.HeaderSize-16)
	}
	for len(msgs) > 0 {
		n, size := 0, 0
		for n < len(msgs) {
			sz := len(msgs[n].Body) + len(msgs[n].Conversation) + len(msgs[n].Sender) + len(msgs[n].ClientMsgId) + len(msgs[n].SenderDevice) + 48
			if n > 0 && size+sz > limit {
				break
			}
			size += sz
			n++
		}
		frame, err := transport.Encode(nil, &pb.Deliver{Messages: msgs[:n]}, s.comp)
		if err != nil {
			return err
		}
		if err := s.write(frame); err != nil {
			return err
		}
		s.srv.m.delivered.WithLabelValues("ordered").Add(float64(n))
		msgs = msgs[n:]
	}
	return nil
}
