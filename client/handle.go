package client

import (
	"fmt"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// handleFrame processes one frame read from the server. An error ends the
// connection.
func (cn *connection) handleFrame(b []byte) error {
	_, m, err := transport.Decode(b, cn.lim)
	if err != nil {
		return err
	}
	c := cn.c
	switch m := m.(type) {
	case *pb.Deliver:
		if d := m.GetDropped(); d > 0 {
			c.stats.liveDropped.Add(d)
		}
		for _, msg := range m.GetMessages() {
			if err := cn.deliver(msg); err != nil {
				return err
			}
		}
	case *pb.Ack:
		if m.GetDuplicate() {
			c.stats.duplicateAcks.Add(1)
		}
		c.resolve(reqKey{cmid: m.GetClientMsgId()}, m, nil)
	case *pb.Error:
		switch {
		case m.GetClientMsgId() != "":
			c.resolve(reqKey{cmid: m.GetClientMsgId()}, nil, errorFromPB(m))
		case m.GetRequestId() != 0:
			if conv, ok := cn.syncs[m.GetRequestId()]; ok {
				delete(cn.syncs, m.GetRequestId())
				c.log.Warn("client: sync failed", "conversation", conv, "err", errorFromPB(m))
				return errResync
			}
			c.resolve(reqKey{id: m.GetRequestId()}, nil, errorFromPB(m))
		default:
			c.log.Warn("client: server error", "code", m.GetCode(), "reason", m.GetReason())
			cn.mu.Lock()
			cn.lastErr = m
			cn.mu.Unlock()
		}
	case *pb.Subscribed:
		c.resolve(reqKey{id: m.GetRequestId()}, m, nil)
	case *pb.Presence:
		if m.GetRequestId() != 0 {
			c.resolve(reqKey{id: m.GetRequestId()}, m, nil)
		} else if f := c.cfg.OnPresence; f != nil {
			f(presenceFromPB(m))
		}
	case *pb.SyncResponse:
		return cn.onSync(m)
	case *pb.Pong:
		cn.onPong(m)
	case *pb.Ping:
		cn.enqueue(cn.ctx, &pb.Pong{Nonce: m.GetNonce(), SentTimeMs: m.GetSentTimeMs(), ServerTimeMs: time.Now().UnixMilli()})
	case *pb.Redirect:
		cn.mu.Lock()
		cn.redirect = m
		cn.mu.Unlock()
		c.log.Info("client: redirected", "reason", m.GetReason(), "urls", m.GetUrls())
		return errRedirected
	default:
		c.log.Debug("client: ignoring frame", "type", fmt.Sprintf("%T", m))
	}
	return nil
}

// deliver passes one delivered message through ordering and
// de-duplication to the application.
func (cn *connection) deliver(m *pb.Message) error {
	switch {
	case m.GetConversation() != "":
		return cn.deliverOrdered(m)
	case m.GetRoom() != "":
		return cn.deliverLive(m)
	}
	cn.c.log.Warn("client: message without conversation or room dropped", "seq", m.GetSeq())
	return nil
}

// deliverLive passes a room comment on unless it repeats one already seen
// on this connection. Gaps are allowed: live comments may be dropped.
// Room sequences are per node and in memory, so the bookkeeping restarts
// with each connection.
func (cn *connection) deliverLive(m *pb.Message) error {
	if s := m.GetSeq(); s != 0 {
		if s <= cn.roomLast[m.GetRoom()] {
			cn.c.stats.duplicatesDropped.Add(1)
			return nil
		}
		cn.roomLast[m.GetRoom()] = s
	}
	return cn.push(m)
}

// deliverOrdered passes conversation messages on in seq order: duplicates
// are dropped, a message after a gap is held and the gap requested with a
// SyncRequest.
func (cn *connection) deliverOrdered(m *pb.Message) error {
	r := &cn.c.recv
	conv := m.GetConversation()
	r.mu.Lock()
	st := r.state(conv)
	switch {
	case st.known && m.GetSeq() <= st.last:
		r.mu.Unlock()
		cn.c.stats.duplicatesDropped.Add(1)
		return nil
	case st.known && m.GetSeq() > st.last+1:
		if _, dup := st.held[m.GetSeq()]; dup {
			r.mu.Unlock()
			cn.c.stats.duplicatesDropped.Add(1)
			return nil
		}
		if len(st.held) >= maxHeld {
			r.mu.Unlock()
			return errResync
		}
		if st.held == nil {
			st.held = make(map[uint64]*pb.Message)
		}
		st.held[m.GetSeq()] = m
		start := !st.syncing
		st.syncing = true
		from := st.last
		r.mu.Unlock()
		if start {
			cn.c.stats.gaps.Add(1)
			cn.c.log.Warn("client: gap in conversation, syncing", "conversation", conv, "have", from, "got", m.GetSeq())
			return cn.requestSync(conv, from)
		}
		return nil
	}
	r.mu.Unlock()
	return cn.pushChain(st, m)
}

// pushChain hands m (the next in order for st) to the application, then any
// held messages that now follow on.
//
// The position moves together with the hand-over wherever that can be
// made atomic, so that an application which reads m and then calls
// Positions() finds m counted: with OnMessage the position moves just
// before the handler runs (the handler cannot refuse m), and when the
// Messages buffer has room m is put in it under the same lock as the
// position. Only when the buffer is full does the reader block outside
// the lock and move the position after the application took m; the
// position may then trail the message just read by a moment (documented
// on Client.Positions).
func (cn *connection) pushChain(st *convState, m *pb.Message) error {
	r := &cn.c.recv
	for m != nil {
		r.mu.Lock()
		handed := cn.c.cfg.OnMessage != nil || cn.offer(m)
		if handed {
			st.last, st.known = m.GetSeq(), true
		}
		r.mu.Unlock()
		if !handed || cn.c.cfg.OnMessage != nil {
			if err := cn.push(m); err != nil {
				return err
			}
		}
		r.mu.Lock()
		st.last, st.known = m.GetSeq(), true
		kick, first := r.advanced(m.GetConversation(), cn.c.cfg.AckEvery)
		next := st.held[m.GetSeq()+1]
		delete(st.held, m.GetSeq()+1)
		r.mu.Unlock()
		switch {
		case kick:
			cn.kickAcks()
		case first:
			cn.armAckTimer()
		}
		m = next
	}
	return nil
}

// offer puts m in the Messages buffer if it has room, without blocking.
func (cn *connection) offer(m *pb.Message) bool {
	select {
	case cn.c.msgs <- m:
		cn.c.stats.delivered.Add(1)
		return true
	default:
		return false
	}
}

// push hands m to the application, blocking (back-pressure) until it is
// taken or the connection ends.
func (cn *connection) push(m *pb.Message) error {
	if h := cn.c.cfg.OnMessage; h != nil {
		cn.busy.Store(true)
		h(m)
		cn.busy.Store(false)
		cn.lastRecv.Store(time.Now().UnixNano())
		cn.c.stats.delivered.Add(1)
		return nil
	}
	if cn.offer(m) {
		return nil
	}
	cn.busy.Store(true)
	defer cn.busy.Store(false)
	select {
	case cn.c.msgs <- m:
		cn.lastRecv.Store(time.Now().UnixNano())
		cn.c.stats.delivered.Add(1)
		return nil
	case <-cn.ctx.Done():
		return cn.ctx.Err()
	}
}

func (cn *connection) requestSync(conv string, from uint64) error {
	id := cn.c.reqID.Add(1)
	cn.syncs[id] = conv
	cn.enqueue(cn.ctx, &pb.SyncRequest{RequestId: id, Positions: []*pb.Position{{Conversation: conv, Seq: from}}, Limit: syncLimit})
	return nil
}

// onSync delivers a page of a gap repair and asks for the next one, or
// gives up on messages the server no longer has.
func (cn *connection) onSync(resp *pb.SyncResponse) error {
	conv, ok := cn.syncs[resp.GetRequestId()]
	if !ok {
		cn.c.log.Debug("client: unexpected sync response", "request", resp.GetRequestId())
		return nil
	}
	delete(cn.syncs, resp.GetRequestId())
	for _, m := range resp.GetMessages() {
		if err := cn.deliver(m); err != nil {
			return err
		}
	}
	r := &cn.c.recv
	r.mu.Lock()
	st := r.convs[conv]
	if st == nil || len(st.held) == 0 {
		if st != nil {
			st.syncing = false
		}
		r.mu.Unlock()
		return nil
	}
	if resp.GetHasMore() && len(resp.GetMessages()) > 0 {
		from := st.last
		r.mu.Unlock()
		return cn.requestSync(conv, from)
	}
	// The server cannot fill the gap: skip to the lowest held message.
	lowest := uint64(0)
	for s := range st.held {
		if lowest == 0 || s < lowest {
			lowest = s
		}
	}
	skipped := lowest - st.last - 1
	st.last = lowest - 1
	st.syncing = false
	m := st.held[lowest]
	delete(st.held, lowest)
	r.mu.Unlock()
	cn.c.stats.skipped.Add(skipped)
	cn.c.log.Warn("client: messages missing on the server, skipped", "conversation", conv, "count", skipped)
	return cn.pushChain(st, m)
}
