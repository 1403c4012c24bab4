package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// fakeServer speaks the server side of the protocol over memPipes, enough
// to exercise the client: auth, resume, subscribe with start positions,
// durable send with dedup by client message id, live rooms, sync,
// presence, ping. Tests steer it with hook and the fields below.
type fakeServer struct {
	t  *testing.T
	wg sync.WaitGroup

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every event
	tokens   map[string]string
	logs     map[string][]*pb.Message
	dedup    map[string]uint64
	stored   map[string]uint64 // device\x00conv -> acked position
	roomSeq  map[string]uint64
	resume   map[string]*fakeSubs
	sessions map[*fakeSession]bool
	connects []*pb.Connect
	urls     []string
	// tname, when set, is the Transport() of client connections to
	// non-QUIC URLs (the fallback only probes "ws" connections).
	tname string
	// link, when set, gives those connections' TCP figures (Stats).
	link func() transport.Stats
	// fecLink, when set, gives the Stats of connections to quic+fec URLs,
	// whose Transport() is then "quic-fec".
	fecLink func() transport.Stats
	dialAt  []time.Time
	acks    []*pb.DeliveryAck
	syncs   []*pb.SyncRequest
	sends   int
	nextID  int
	closed  bool

	heartbeatMs uint32
	// connected, when set, edits every Connected before it is sent.
	connected       func(*pb.Connected)
	maxMessageBytes uint32
	maxFrameBytes   uint32
	noResume        bool // never accept resume tokens
	ignorePositions bool // deliver whole logs regardless of positions
	silent          bool // swallow every frame, answer nothing (dead peer)
	dialErr         error
	down            map[string]bool // URLs whose dials fail (unreachable edges)
	// hook sees every frame after Connect, under mu; true means handled.
	hook func(s *fakeSession, m proto.Message) bool
}

type fakeSubs struct {
	convs map[string]bool
	rooms map[string]bool
}

type fakeSession struct {
	srv    *fakeServer
	conn   transport.Conn
	id     int
	user   string
	device string
	comp   *transport.Compressor
	fakeSubs
}

func newFakeServer(t *testing.T) *fakeServer {
	return &fakeServer{
		t: t, changed: make(chan struct{}),
		tokens:   map[string]string{"good": "alice", "bob": "bob"},
		logs:     map[string][]*pb.Message{},
		dedup:    map[string]uint64{},
		stored:   map[string]uint64{},
		roomSeq:  map[string]uint64{},
		resume:   map[string]*fakeSubs{},
		sessions: map[*fakeSession]bool{},
	}
}

// eventLocked wakes waiters. Caller holds mu.
func (s *fakeServer) eventLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits until cond (called under mu) holds.
func (s *fakeServer) waitFor(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.After(time.Minute)
	for {
		s.mu.Lock()
		ok := cond()
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			s.t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// dial is a Config.Dial.
func (s *fakeServer) dial(ctx context.Context, url string) (transport.Conn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.urls = append(s.urls, url)
	s.dialAt = append(s.dialAt, time.Now())
	s.eventLocked()
	if s.closed {
		return nil, errors.New("fake server closed")
	}
	if s.dialErr != nil {
		return nil, s.dialErr
	}
	if s.down[url] {
		return nil, fmt.Errorf("dial %s: connection refused", url)
	}
	cc, sc := memPipe(4096)
	if s.tname != "" && !strings.HasPrefix(url, QUICFECScheme) {
		cc.tname, cc.link = s.tname, s.link
	}
	if s.fecLink != nil && strings.HasPrefix(url, QUICFECScheme) {
		cc.tname, cc.link = "quic-fec", s.fecLink
	}
	s.serveLocked(sc)
	return cc, nil
}

// serveLocked starts a session on the server end of a connection.
func (s *fakeServer) serveLocked(conn transport.Conn) {
	s.nextID++
	sess := &fakeSession{srv: s, conn: conn, id: s.nextID, fakeSubs: fakeSubs{map[string]bool{}, map[string]bool{}}}
	s.sessions[sess] = true
	s.wg.Add(1)
	go sess.run()
}

// close ends all sessions and waits for their goroutines.
func (s *fakeServer) close() {
	s.mu.Lock()
	s.closed = true
	for sess := range s.sessions {
		_ = sess.conn.Close(transport.CloseGoingAway, "server closed")
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// kill closes every session with code.
func (s *fakeServer) kill(code transport.CloseCode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		_ = sess.conn.Close(code, "killed")
	}
}

func (s *fakeServer) numConnects() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.connects)
}

// publish stores a message from another user as if it had been sent.
func (s *fakeServer) publish(conv string, body string) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.storeLocked("bob", &pb.Send{ClientMsgId: NewMessageID(), Target: &pb.Send_Conversation{Conversation: conv}, Body: []byte(body)}).GetSeq()
}

// storeLocked stores (or deduplicates) a conversation send and broadcasts it.
func (s *fakeServer) storeLocked(user string, m *pb.Send) *pb.Ack {
	conv := m.GetConversation()
	key := conv + "\x00" + user + "\x00" + m.GetClientMsgId()
	if seq, ok := s.dedup[key]; ok {
		return &pb.Ack{ClientMsgId: m.GetClientMsgId(), Conversation: conv, Seq: seq, Duplicate: true}
	}
	seq := uint64(len(s.logs[conv]) + 1)
	msg := &pb.Message{Conversation: conv, Seq: seq, Sender: user, Body: m.GetBody(), ClientMsgId: m.GetClientMsgId(),
		ServerTimeMs: time.Now().UnixMilli(), Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED}
	s.logs[conv] = append(s.logs[conv], msg)
	s.dedup[key] = seq
	for sess := range s.sessions {
		if sess.convs[conv] {
			sess.write(&pb.Deliver{Messages: []*pb.Message{msg}})
		}
	}
	s.eventLocked()
	return &pb.Ack{ClientMsgId: m.GetClientMsgId(), Conversation: conv, Seq: seq, ServerTimeMs: msg.GetServerTimeMs()}
}

func (s *fakeServer) headsLocked(convs map[string]bool) []*pb.Position {
	var out []*pb.Position
	for conv := range convs {
		out = append(out, &pb.Position{Conversation: conv, Seq: uint64(len(s.logs[conv]))})
	}
	return out
}

// write sends m to the session's client; errors (closed) are ignored.
func (sess *fakeSession) write(m proto.Message) {
	b, err := transport.Encode(nil, m, sess.comp)
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = sess.conn.WriteFrame(ctx, b)
}

func (sess *fakeSession) fail(code pb.ErrorCode, reason string) {
	sess.write(&pb.Error{Code: code, Reason: reason})
	_ = sess.conn.Close(transport.CloseCodeFor(code), reason)
}

// backlogLocked delivers conv's messages after start.
func (sess *fakeSession) backlogLocked(conv string, start uint64) {
	s := sess.srv
	if s.ignorePositions {
		start = 0
	}
	log := s.logs[conv]
	if start < uint64(len(log)) {
		sess.write(&pb.Deliver{Messages: slices.Clone(log[start:])})
	}
}

func (sess *fakeSession) startFor(conv string, pos uint64) uint64 {
	if pos > 0 {
		return pos
	}
	return sess.srv.stored[sess.device+"\x00"+conv]
}

func (sess *fakeSession) run() {
	s := sess.srv
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.resume[fmt.Sprintf("rt-%d", sess.id)] = &fakeSubs{sess.convs, sess.rooms}
		s.eventLocked()
		s.mu.Unlock()
		_ = sess.conn.Close(transport.CloseNormal, "")
	}()
	ctx := context.Background()
	b, err := sess.conn.ReadFrame(ctx)
	if err != nil {
		return
	}
	_, m, err := transport.Decode(b, transport.Limits{})
	if err != nil {
		sess.fail(pb.ErrorCode_ERROR_CODE_BAD_FRAME, err.Error())
		return
	}
	hello, ok := m.(*pb.Connect)
	if !ok {
		sess.fail(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "expected Connect")
		return
	}
	s.mu.Lock()
	s.connects = append(s.connects, hello)
	s.eventLocked()
	user, ok := s.tokens[hello.GetToken()]
	if !ok {
		code := pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED
		if hello.GetToken() == "expired" {
			code = pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED
		}
		s.mu.Unlock()
		sess.fail(code, "bad token")
		return
	}
	sess.user, sess.device = user, hello.GetDeviceId()
	resumed := false
	if r, ok := s.resume[hello.GetResumeToken()]; ok && !s.noResume {
		resumed = true
		for c := range r.convs {
			sess.convs[c] = true
		}
		for room := range r.rooms {
			sess.rooms[room] = true
		}
	}
	var rooms []string
	for room := range sess.rooms {
		rooms = append(rooms, room)
	}
	codec := transport.Negotiate(hello.GetCompression(), []transport.Codec{transport.CodecS2, transport.CodecZstd})
	connected := &pb.Connected{
		Compression: codec, CompressionThreshold: 256,
		SessionId: fmt.Sprint(sess.id), UserId: user, DeviceId: sess.device,
		ResumeToken: fmt.Sprintf("rt-%d", sess.id), Resumed: resumed, ServerTimeMs: time.Now().UnixMilli(),
		HeartbeatIntervalMs: s.heartbeatMs, MaxMessageBytes: s.maxMessageBytes, MaxFrameBytes: s.maxFrameBytes, NodeId: "fake",
		Subscribed: s.headsLocked(sess.convs), Rooms: rooms,
	}
	if s.connected != nil {
		s.connected(connected)
	}
	sess.write(connected)
	sess.comp = &transport.Compressor{Codec: codec, Threshold: 256}
	pos := map[string]uint64{}
	for _, p := range hello.GetPositions() {
		pos[p.GetConversation()] = p.GetSeq()
	}
	for conv := range sess.convs {
		sess.backlogLocked(conv, sess.startFor(conv, pos[conv]))
	}
	s.mu.Unlock()

	for {
		b, err := sess.conn.ReadFrame(ctx)
		if err != nil {
			return
		}
		_, m, err := transport.Decode(b, transport.Limits{})
		if err != nil {
			sess.fail(pb.ErrorCode_ERROR_CODE_BAD_FRAME, err.Error())
			return
		}
		s.mu.Lock()
		if s.silent || (s.hook != nil && s.hook(sess, m)) {
			s.eventLocked()
			s.mu.Unlock()
			continue
		}
		sess.handleLocked(m)
		s.eventLocked()
		s.mu.Unlock()
	}
}

func (sess *fakeSession) handleLocked(m proto.Message) {
	s := sess.srv
	switch m := m.(type) {
	case *pb.Ping:
		sess.write(&pb.Pong{Nonce: m.GetNonce(), SentTimeMs: m.GetSentTimeMs(), ServerTimeMs: time.Now().UnixMilli()})
	case *pb.Subscribe:
		resp := &pb.Subscribed{RequestId: m.GetRequestId()}
		for _, p := range m.GetConversations() {
			if p.GetConversation() == "forbidden" {
				sess.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, Reason: "no", RequestId: m.GetRequestId()})
				return
			}
		}
		for _, p := range m.GetConversations() {
			sess.convs[p.GetConversation()] = true
			resp.Conversations = append(resp.Conversations, &pb.Position{Conversation: p.GetConversation(), Seq: uint64(len(s.logs[p.GetConversation()]))})
		}
		for _, room := range m.GetRooms() {
			sess.rooms[room] = true
		}
		for _, room := range m.GetRooms() {
			n := 0
			for o := range s.sessions {
				if o.rooms[room] {
					n++
				}
			}
			resp.Rooms = append(resp.Rooms, &pb.RoomInfo{Room: room, Viewers: uint64(n)})
		}
		sess.write(resp)
		for _, p := range m.GetConversations() {
			sess.backlogLocked(p.GetConversation(), sess.startFor(p.GetConversation(), p.GetSeq()))
		}
	case *pb.Unsubscribe:
		for _, c := range m.GetConversations() {
			delete(sess.convs, c)
		}
		for _, r := range m.GetRooms() {
			delete(sess.rooms, r)
		}
		sess.write(&pb.Subscribed{RequestId: m.GetRequestId()})
	case *pb.Send:
		s.sends++
		if s.maxMessageBytes > 0 && len(m.GetBody()) > int(s.maxMessageBytes) {
			sess.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_TOO_LARGE, ClientMsgId: m.GetClientMsgId()})
			return
		}
		if room := m.GetRoom(); room != "" {
			s.roomSeq[room]++
			seq := s.roomSeq[room]
			sess.write(&pb.Ack{ClientMsgId: m.GetClientMsgId(), Room: room, Seq: seq})
			msg := &pb.Message{Room: room, Seq: seq, Sender: sess.user, Body: m.GetBody(), Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE}
			for o := range s.sessions {
				if o.rooms[room] {
					o.write(&pb.Deliver{Messages: []*pb.Message{msg}})
				}
			}
			return
		}
		if m.GetConversation() == "forbidden" {
			sess.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, Reason: "no", ClientMsgId: m.GetClientMsgId()})
			return
		}
		sess.write(s.storeLocked(sess.user, m))
	case *pb.DeliveryAck:
		s.acks = append(s.acks, m)
		for _, p := range m.GetPositions() {
			k := sess.device + "\x00" + p.GetConversation()
			s.stored[k] = max(s.stored[k], p.GetSeq())
		}
	case *pb.SyncRequest:
		s.syncs = append(s.syncs, m)
		resp := &pb.SyncResponse{RequestId: m.GetRequestId()}
		for _, p := range m.GetPositions() {
			log := s.logs[p.GetConversation()]
			end := min(uint64(len(log)), p.GetSeq()+uint64(m.GetLimit()))
			if p.GetSeq() < end {
				resp.Messages = append(resp.Messages, log[p.GetSeq():end]...)
			}
			resp.HasMore = end < uint64(len(log))
		}
		sess.write(resp)
	case *pb.PresenceQuery:
		resp := &pb.Presence{RequestId: m.GetRequestId(), Conversation: m.GetConversation(), Room: m.GetRoom()}
		for o := range s.sessions {
			if (m.GetRoom() != "" && o.rooms[m.GetRoom()]) || (m.GetConversation() != "" && o.convs[m.GetConversation()]) {
				resp.Users = append(resp.Users, &pb.PresenceUser{UserId: o.user, Devices: 1, Online: true})
				resp.Viewers++
			}
		}
		sess.write(resp)
	}
}
