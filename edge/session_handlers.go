package edge

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"google.golang.org/protobuf/proto"

	"golang.org/x/time/rate"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/limits"
	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// maxClientMsgID bounds client message ids.
const maxClientMsgID = 64

// maxSyncPage bounds one SyncResponse.
const maxSyncPage = 500

// handle processes one client frame. It returns stop=true with a reason when
// the session must end.
func (s *session) handle(msg proto.Message) (string, bool) {
	if _, send := msg.(*pb.Send); !send {
		if reason, stop, ok := s.allowControl(msg); !ok {
			return reason, stop
		}
	}
	switch m := msg.(type) {
	case *pb.Send:
		return s.handleSend(m)
	case *pb.Subscribe:
		s.handleSubscribe(m)
	case *pb.Unsubscribe:
		s.handleUnsubscribe(m)
	case *pb.DeliveryAck:
		s.handleDeliveryAck(m)
	case *pb.SyncRequest:
		s.handleSync(m)
	case *pb.PresenceQuery:
		s.handlePresence(m)
	case *pb.Ping:
		pong := &pb.Pong{Nonce: m.Nonce, SentTimeMs: m.SentTimeMs, ServerTimeMs: time.Now().UnixMilli()}
		s.reportLink(pong)
		s.replyMsg(pong)
	case *pb.Pong:
		// Answers to server pings need no reply; reading them kept the
		// connection alive.
	default:
		t, _ := transport.TypeOf(msg)
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "unexpected frame from client: "+t.String(), 0, "", 0)
	}
	return "", false
}

// allowControl applies Config.ControlRate to a frame other than Send. A
// refused request (one with a request id) gets RATE_LIMITED with the time
// to wait; other refused frames (pings, acks) are dropped, which costs the
// client nothing it cannot repeat; both count in
// edgegate_errors_total{code="ERROR_CODE_RATE_LIMITED"}. A session that
// keeps flooding is closed, like a flood of sends.
func (s *session) allowControl(msg proto.Message) (reason string, stop, ok bool) {
	if s.ctl == nil {
		s.ctl = limits.NewMessageLimiter(rate.Limit(s.srv.cfg.ControlRate), s.srv.cfg.ControlBurst, s.srv.cfg.FloodViolations, floodWindow)
	}
	allowed, retry := s.ctl.Allow()
	if allowed {
		return "", false, true
	}
	code := pb.ErrorCode_ERROR_CODE_RATE_LIMITED
	if s.ctl.Flooding() {
		return s.closeFlood("control frame flood"), true, false
	}
	if r, isReq := msg.(interface{ GetRequestId() uint64 }); isReq {
		s.sendError(code, "control frame rate exceeded", r.GetRequestId(), "", retry)
	} else {
		s.srv.m.errors.WithLabelValues(code.String()).Inc()
	}
	return "", false, false
}

// closeFlood closes a session that kept sending past a rate limit
// (RATE_LIMITED, close 4008), after its queued errors, and returns the
// close reason for edgegate_session_closes_total.
func (s *session) closeFlood(reason string) string {
	code := pb.ErrorCode_ERROR_CODE_RATE_LIMITED
	s.srv.m.errors.WithLabelValues(code.String()).Inc()
	s.closeAfterLinger(transport.CloseCodeFor(code), reason)
	return "flooding"
}

func (s *session) handleSend(m *pb.Send) (string, bool) {
	if s.rate == nil {
		// Created on first use: most connections are idle viewers.
		s.rate = limits.NewMessageLimiter(rate.Limit(s.srv.cfg.MessageRate), s.srv.cfg.MessageBurst, s.srv.cfg.FloodViolations, floodWindow)
	}
	ok, retry := s.rate.Allow()
	if !ok {
		if s.rate.Flooding() {
			return s.closeFlood("flooding"), true
		}
		s.sendError(pb.ErrorCode_ERROR_CODE_RATE_LIMITED, "message rate exceeded", 0, m.ClientMsgId, retry)
		return "", false
	}
	if len(m.Body) > s.srv.cfg.MaxMessageBytes {
		s.sendError(pb.ErrorCode_ERROR_CODE_TOO_LARGE, fmt.Sprintf("message body of %d bytes exceeds %d", len(m.Body), s.srv.cfg.MaxMessageBytes), 0, m.ClientMsgId, 0)
		return "", false
	}
	if len(m.ClientMsgId) > maxClientMsgID {
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "client_msg_id too long", 0, "", 0)
		return "", false
	}
	switch target := m.Target.(type) {
	case *pb.Send_Conversation:
		s.sendOrdered(m, target.Conversation)
	case *pb.Send_Room:
		s.sendLive(m, target.Room)
	default:
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "send needs a conversation or a room", 0, m.ClientMsgId, 0)
	}
	return "", false
}

func (s *session) sendOrdered(m *pb.Send, conv string) {
	if m.ClientMsgId == "" {
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "ordered messages need a client_msg_id", 0, "", 0)
		return
	}
	if !auth.ValidID(conv) {
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid conversation id", 0, m.ClientMsgId, 0)
		return
	}
	if !s.claims.CanConversation(conv) {
		s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in conversation "+conv, 0, m.ClientMsgId, 0)
		return
	}
	ack, err := s.srv.appendOrdered(context.Background(), ordering.Request{
		Conv: conv, Sender: s.user, SenderDevice: s.device, ClientMsgID: m.ClientMsgId, Body: m.Body,
	})
	if err != nil {
		code := pb.ErrorCode_ERROR_CODE_UNAVAILABLE
		if errors.Is(err, ordering.ErrOverloaded) {
			code = pb.ErrorCode_ERROR_CODE_OVERLOADED
		}
		s.sendError(code, "message not stored: "+err.Error(), 0, m.ClientMsgId, time.Second)
		return
	}
	s.replyMsg(ack)
}

func (s *session) sendLive(m *pb.Send, roomID string) {
	if !auth.ValidID(roomID) {
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid room id", 0, m.ClientMsgId, 0)
		return
	}
	if !s.claims.CanRoom(roomID) {
		s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in room "+roomID, 0, m.ClientMsgId, 0)
		return
	}
	seq, now := s.srv.rooms.publish(roomID, &pb.Message{
		Room: roomID, Sender: s.user, SenderDevice: s.device, ClientMsgId: m.ClientMsgId,
		Body: m.Body, Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE,
	})
	s.replyMsg(&pb.Ack{ClientMsgId: m.ClientMsgId, Room: roomID, Seq: seq, ServerTimeMs: now})
}

func (s *session) handleSubscribe(m *pb.Subscribe) {
	s.mu.Lock()
	n := len(s.convs) + len(s.rooms)
	s.mu.Unlock()
	if n+len(m.Conversations)+len(m.Rooms) > s.srv.cfg.MaxSubscriptions {
		s.sendError(pb.ErrorCode_ERROR_CODE_TOO_MANY_SUBSCRIPTIONS, fmt.Sprintf("at most %d subscriptions per session", s.srv.cfg.MaxSubscriptions), m.RequestId, "", 0)
		return
	}
	for _, p := range m.Conversations {
		if !auth.ValidID(p.Conversation) {
			s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid conversation id", m.RequestId, "", 0)
			return
		}
		if !s.claims.CanConversation(p.Conversation) {
			s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in conversation "+p.Conversation, m.RequestId, "", 0)
			return
		}
	}
	for _, r := range m.Rooms {
		if !auth.ValidID(r) {
			s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid room id", m.RequestId, "", 0)
			return
		}
		if !s.claims.CanRoom(r) {
			s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in room "+r, m.RequestId, "", 0)
			return
		}
	}
	var stored map[string]uint64
	reply := &pb.Subscribed{RequestId: m.RequestId}
	for _, p := range m.Conversations {
		head, err := s.srv.ord.Head(context.Background(), p.Conversation)
		if err != nil {
			s.sendError(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, "store unavailable", m.RequestId, "", time.Second)
			return
		}
		start := p.Seq
		if start == 0 {
			// No explicit position: the device's stored one, else the whole
			// log (or the head with from_head).
			if stored == nil {
				stored, _ = s.srv.store.Positions(s.user, s.device)
			}
			if sp, ok := stored[p.Conversation]; ok {
				start = sp
			} else if m.FromHead {
				start = head
			}
		}
		if start > head {
			start = head
		}
		s.subscribeConv(p.Conversation, start)
		reply.Conversations = append(reply.Conversations, &pb.Position{Conversation: p.Conversation, Seq: head})
	}
	for _, r := range m.Rooms {
		viewers := s.srv.rooms.join(r, s)
		reply.Rooms = append(reply.Rooms, &pb.RoomInfo{Room: r, Viewers: viewers})
	}
	// The reply is queued before the subscriptions start delivering only
	// for new subscriptions marked dirty after this point; deliveries may
	// precede the reply for already-caught-up ones, which clients accept.
	s.sendMsg(reply)
}

// subscribeConv adds or repositions a conversation subscription. Called
// from the read loop only.
func (s *session) subscribeConv(conv string, start uint64) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	cs, ok := s.convs[conv]
	if ok {
		// Re-subscribing moves the position back only if the client asks
		// for older messages; what was sent is not sent twice otherwise.
		if start < cs.sent {
			cs.sent = start
			cs.pending = nil
			cs.catchup = true
			s.markDirtyLocked(cs)
		}
		s.mu.Unlock()
		return
	}
	cs = &convSub{conv: conv, sent: start, acked: start, catchup: true}
	s.convs[conv] = cs
	s.mu.Unlock()
	// Not under s.mu: the fan-out takes the router lock, then session locks.
	s.srv.router.add(conv, s, cs)
	s.mu.Lock()
	s.markDirtyLocked(cs)
	s.mu.Unlock()
}

func (s *session) handleUnsubscribe(m *pb.Unsubscribe) {
	var drop []string
	s.mu.Lock()
	for _, c := range m.Conversations {
		if cs, ok := s.convs[c]; ok {
			cs.removed = true
			delete(s.convs, c)
			drop = append(drop, c)
		}
	}
	var leave []*room
	for _, r := range m.Rooms {
		if rm, ok := s.rooms[r]; ok {
			leave = append(leave, rm)
		}
	}
	s.mu.Unlock()
	for _, c := range drop {
		s.srv.router.remove(c, s)
	}
	for _, rm := range leave {
		s.srv.rooms.leave(rm, s)
	}
	s.sendMsg(&pb.Subscribed{RequestId: m.RequestId})
}

// reportLink adds to pong what the server saw of the link since the
// previous Pong: segments sent and retransmitted, and segments received
// out of order (WebSocket on Linux, from TCP_INFO). A client on a lossy
// downlink learns it this way (its own counters only show the uplink),
// and of uplink losses before its own retransmission timer fires, and can
// move to QUIC; links retransmitting more than 2% are counted in
// edgegate_lossy_link_reports_total.
func (s *session) reportLink(pong *pb.Pong) {
	st := s.conn.Stats()
	if st.PacketsOut == 0 || st.PacketsOut < s.link.PacketsOut || st.Retransmits < s.link.Retransmits || st.OutOfOrderIn < s.link.OutOfOrderIn {
		return
	}
	segs, retrans := st.PacketsOut-s.link.PacketsOut, st.Retransmits-s.link.Retransmits
	ooo := st.OutOfOrderIn - s.link.OutOfOrderIn
	s.link = st
	pong.ServerSegments, pong.ServerRetransmits = uint32(min(segs, math.MaxUint32)), uint32(min(retrans, math.MaxUint32))
	pong.ServerOutOfOrder = uint32(min(ooo, math.MaxUint32))
	s.srv.health.linkSegments.Add(float64(segs))
	s.srv.health.linkRetrans.Add(float64(retrans))
	if segs > 0 && retrans*50 > segs {
		s.srv.m.lossyLinks.Inc()
	}
}

func (s *session) handleDeliveryAck(m *pb.DeliveryAck) {
	upd := make(map[string]uint64, len(m.Positions))
	s.mu.Lock()
	for _, p := range m.Positions {
		cs, ok := s.convs[p.Conversation]
		if !ok || p.Seq <= cs.acked {
			continue
		}
		seq := p.Seq
		if seq > cs.sent {
			// A client cannot have received more than was sent.
			seq = cs.sent
		}
		cs.acked = seq
		upd[p.Conversation] = seq
	}
	s.mu.Unlock()
	if len(upd) > 0 {
		s.srv.positions.update(s.user, s.device, upd)
	}
}

func (s *session) handleSync(m *pb.SyncRequest) {
	limit := int(m.Limit)
	if limit <= 0 || limit > maxSyncPage {
		limit = maxSyncPage
	}
	resp := &pb.SyncResponse{RequestId: m.RequestId}
	size := 0
	for _, p := range m.Positions {
		if !auth.ValidID(p.Conversation) || !s.claims.CanConversation(p.Conversation) {
			s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in conversation "+p.Conversation, m.RequestId, "", 0)
			return
		}
		left := limit - len(resp.Messages)
		if left <= 0 {
			resp.HasMore = true
			break
		}
		s.srv.m.catchupReads.Inc()
		msgs, err := s.srv.ord.Read(context.Background(), p.Conversation, p.Seq, left+1)
		if err != nil {
			s.sendError(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, "store unavailable", m.RequestId, "", time.Second)
			return
		}
		if len(msgs) > left {
			msgs = msgs[:left]
			resp.HasMore = true
		}
		for i, msg := range msgs {
			size += len(msg.Body) + 64
			if size > s.srv.cfg.MaxFrameBytes-1024 {
				msgs = msgs[:i]
				resp.HasMore = true
				break
			}
		}
		resp.Messages = append(resp.Messages, msgs...)
		if resp.HasMore {
			break
		}
	}
	s.sendMsg(resp)
}

func (s *session) handlePresence(m *pb.PresenceQuery) {
	switch {
	case m.Conversation != "":
		if !auth.ValidID(m.Conversation) || !s.claims.CanConversation(m.Conversation) {
			s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in conversation "+m.Conversation, m.RequestId, "", 0)
			return
		}
		// Every node's subscribers (presence_conv.go), on this read loop.
		users, _ := s.srv.convPres.query(context.Background(), m.Conversation)
		s.sendMsg(&pb.Presence{RequestId: m.RequestId, Conversation: m.Conversation, Users: users})
	case m.Room != "":
		if !auth.ValidID(m.Room) || !s.claims.CanRoom(m.Room) {
			s.sendError(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "not allowed in room "+m.Room, m.RequestId, "", 0)
			return
		}
		users, viewers := s.srv.rooms.presence(m.Room)
		s.sendMsg(&pb.Presence{RequestId: m.RequestId, Room: m.Room, Users: users, Viewers: viewers})
	default:
		s.sendError(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "presence query needs a conversation or a room", m.RequestId, "", 0)
	}
}
