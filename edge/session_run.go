package edge

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// serveConn runs one client connection from handshake to close. The
// handshake (token check, store reads) runs on the calling goroutine; the
// read loop then runs on a fresh goroutine, whose stack stays small while
// the connection idles (the deep handshake stack is not kept for the
// connection's life). The writer goroutine is started on demand by the
// outbox. serveConn returns after the handshake; wait for the session with
// the returned channel (nil when the handshake failed).
func (srv *Server) serveConn(conn transport.Conn, remote string) <-chan struct{} {
	tname := conn.Transport()
	srv.m.connsTotal.WithLabelValues(tname).Inc()
	// Counted open from before the handshake: the handshake writes
	// Connected, and a client that got it must find itself counted.
	open := srv.m.connections.WithLabelValues(tname)
	open.Inc()
	s, err := srv.handshake(conn, remote)
	if err != nil {
		open.Dec()
		srv.conns.Release()
		return nil
	}
	srv.handshakes.Add(1)
	done := make(chan struct{})
	run := func(reason string) {
		defer close(done)
		defer srv.conns.Release()
		defer open.Dec()
		if reason == "" {
			reason = s.readLoop()
		}
		srv.m.closes.WithLabelValues(reason).Inc()
		srv.endSession(s)
	}
	if !srv.goFunc(func() { run("") }) {
		// The node is closing.
		s.fail(transport.CloseGoingAway, "shutdown")
		run("shutdown")
	}
	return done
}

// handshake reads Connect, authenticates and builds the session.
func (srv *Server) handshake(conn transport.Conn, remote string) (*session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), srv.cfg.HandshakeTimeout)
	b, err := conn.ReadFrame(ctx)
	cancel()
	if err != nil {
		srv.m.connRejects.WithLabelValues("handshake_read").Inc()
		if errors.Is(err, transport.ErrBadFrame) {
			srv.m.badFrames.Inc()
			closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_BAD_FRAME, "malformed frame")
		} else {
			_ = conn.Close(transport.CloseProtocol, "no connect frame")
		}
		return nil, err
	}
	srv.m.bytesIn.Add(float64(len(b)))
	t, msg, err := transport.Decode(b, transport.Limits{MaxFrameBytes: srv.cfg.MaxFrameBytes})
	if err != nil {
		srv.m.badFrames.Inc()
		srv.m.connRejects.WithLabelValues("bad_frame").Inc()
		closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_BAD_FRAME, "malformed frame: "+err.Error())
		_ = conn.Close(transport.CloseProtocol, "malformed frame")
		return nil, err
	}
	srv.m.framesIn.WithLabelValues(t.String()).Inc()
	c, ok := msg.(*pb.Connect)
	if !ok {
		srv.m.connRejects.WithLabelValues("no_connect").Inc()
		closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "first frame must be connect, got "+t.String())
		return nil, errors.New("first frame not connect")
	}
	claims, err := srv.verifier.Verify(c.Token)
	if err != nil {
		code := pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED
		reason := "invalid token"
		if errors.Is(err, auth.ErrExpired) {
			code, reason = pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED, "token expired"
		}
		srv.m.connRejects.WithLabelValues(code.String()).Inc()
		srv.log.Debug("auth failed", "remote", remote, "err", err)
		closeWithError(srv, conn, code, reason)
		return nil, err
	}
	device := c.DeviceId
	if device == "" {
		device = claims.Device
	}
	if device == "" {
		device = "default"
	}
	if !auth.ValidID(device) {
		srv.m.connRejects.WithLabelValues("bad_device").Inc()
		closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid device id")
		return nil, errors.New("bad device id")
	}
	codec := transport.Negotiate(c.Compression, srv.cfg.Compression)
	s := &session{
		srv:    srv,
		conn:   conn,
		id:     newSessionID(),
		user:   claims.Subject,
		device: device,
		claims: claims,
		comp:   &transport.Compressor{Codec: codec, Threshold: srv.cfg.CompressThreshold},
		remote: remote,
		convs:  make(map[string]*convSub),
		// The writer waits until the subscriptions are routed (below).
		starting: true,
	}

	// Work out the subscriptions: token claims, stored positions, the
	// resumed session and the client's own positions.
	var resumed *detachState
	resumeResult := "none"
	if c.ResumeToken != "" {
		resumed, resumeResult = srv.takeResume(c.ResumeToken, s.user, s.device)
		srv.m.resumes.WithLabelValues(resumeResult).Inc()
		if resumed != nil {
			s.id = resumed.id
			if from, to := resumed.transport, conn.Transport(); from != "" && from != to {
				srv.m.transportMoves.WithLabelValues(from, to).Inc()
				srv.log.Info("session moved transport", "session", s.id, "user", s.user, "device", s.device, "from", from, "to", to)
			}
		}
	}
	starts := make(map[string]uint64)
	for _, conv := range claims.ExactConversations() {
		starts[conv] = 0
	}
	stored, err := srv.store.Positions(s.user, s.device)
	if err != nil {
		s.logger().Warn("reading positions", "err", err)
	}
	for conv, p := range stored {
		starts[conv] = p
	}
	var rooms []string
	if resumed != nil {
		for conv, p := range resumed.convs {
			if p >= starts[conv] {
				starts[conv] = p
			}
		}
		rooms = resumed.rooms
	}
	for _, p := range c.Positions {
		starts[p.Conversation] = p.Seq
	}
	subscribed := make([]*pb.Position, 0, len(starts))
	for conv, start := range starts {
		if len(subscribed) >= srv.cfg.MaxSubscriptions {
			break
		}
		if !auth.ValidID(conv) || !claims.CanConversation(conv) {
			continue
		}
		head, err := srv.ord.Head(context.Background(), conv)
		if err != nil {
			closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_UNAVAILABLE, "store unavailable")
			return nil, err
		}
		if start > head {
			start = head
		}
		subscribed = append(subscribed, &pb.Position{Conversation: conv, Seq: head})
		s.convs[conv] = &convSub{conv: conv, sent: start, acked: start, catchup: start < head}
	}

	if err := srv.register(s); err != nil {
		closeWithError(srv, conn, pb.ErrorCode_ERROR_CODE_UNAVAILABLE, err.Error())
		return nil, err
	}
	joined := make([]string, 0, len(rooms))
	for _, r := range rooms {
		if claims.CanRoom(r) && len(joined)+len(s.convs) < srv.cfg.MaxSubscriptions {
			srv.rooms.join(r, s)
			joined = append(joined, r)
		}
	}
	// Connected goes out before any delivery (control frames are written
	// first) and only after the subscriptions are routed: the writer is
	// held back (starting) until then.
	s.sendMsg(&pb.Connected{
		SessionId:            s.id,
		UserId:               s.user,
		DeviceId:             s.device,
		ResumeToken:          srv.resumeSigner.Sign(auth.ResumeClaims{SessionID: s.id, User: s.user, Device: s.device, IssuedAt: time.Now(), ExpiresAt: time.Now().Add(srv.cfg.ResumeGrace)}),
		Resumed:              resumed != nil,
		ServerTimeMs:         time.Now().UnixMilli(),
		Compression:          codec,
		CompressionThreshold: uint32(srv.cfg.CompressThreshold),
		HeartbeatIntervalMs:  uint32(srv.cfg.HeartbeatInterval / time.Millisecond),
		ProbeBurstIntervalMs: uint32(max(srv.cfg.ProbeBurstInterval, 0) / time.Millisecond),
		ProbeBurstsOff:       srv.cfg.ProbeBurstInterval < 0,
		MaxFrameBytes:        uint32(srv.cfg.MaxFrameBytes),
		MaxMessageBytes:      uint32(srv.cfg.MaxMessageBytes),
		NodeId:               srv.cfg.NodeID,
		Subscribed:           subscribed,
		Rooms:                joined,
	})
	// The router is never called with session.mu held: fan-out holds the
	// router lock while taking session locks.
	for _, cs := range s.convs {
		srv.router.add(cs.conv, s, cs)
	}
	s.mu.Lock()
	for _, cs := range s.convs {
		if cs.catchup {
			s.markDirtyLocked(cs)
		}
	}
	s.starting = false
	s.kickLocked() // Connected, then whatever queued meanwhile
	s.mu.Unlock()
	s.logger().Debug("session started", "remote", remote, "resume", resumeResult, "convs", len(s.convs), "rooms", len(joined))
	return s, nil
}

// floodWindow is the window in which FloodViolations rejected sends in a
// row close the session.
const floodWindow = 10 * time.Second

// readLoop reads and handles frames until the connection ends, returning
// the close reason for metrics.
func (s *session) readLoop() string {
	srv := s.srv
	lim := transport.Limits{MaxFrameBytes: srv.cfg.MaxFrameBytes}
	for {
		// The idle timeout (2.5x heartbeat) is the transport's read
		// deadline: cheaper than a timer per read.
		b, err := s.conn.ReadFrame(context.Background())
		if err != nil {
			switch {
			case errors.Is(err, transport.ErrTooLarge):
				srv.m.badFrames.Inc()
				srv.m.errors.WithLabelValues(pb.ErrorCode_ERROR_CODE_TOO_LARGE.String()).Inc()
				s.failLinger(transport.CloseTooLarge, fmt.Sprintf("frame over %d bytes", srv.cfg.MaxFrameBytes))
				return "too_large"
			case errors.Is(err, transport.ErrBadFrame):
				srv.m.badFrames.Inc()
				s.failLinger(transport.CloseProtocol, "malformed frame")
				return "bad_frame"
			case errors.Is(err, transport.ErrIdleTimeout):
				s.fail(transport.CloseGoingAway, "idle timeout")
				return "idle_timeout"
			case isClosedErr(err):
				s.fail(transport.CloseNormal, "")
				return "closed"
			default:
				s.fail(transport.CloseInternal, "read error")
				return "read_error"
			}
		}
		srv.m.bytesIn.Add(float64(len(b)))
		t, msg, err := transport.Decode(b, lim)
		if err != nil {
			srv.m.badFrames.Inc()
			s.logger().Debug("bad frame", "err", err)
			s.srv.m.errors.WithLabelValues(pb.ErrorCode_ERROR_CODE_BAD_FRAME.String()).Inc()
			if f, e := transport.Encode(nil, &pb.Error{Code: pb.ErrorCode_ERROR_CODE_BAD_FRAME, Reason: err.Error()}, nil); e == nil {
				s.enqueueCtrl(f)
			}
			s.closeAfter(transport.CloseProtocol, "malformed frame")
			return "bad_frame"
		}
		srv.m.framesIn.WithLabelValues(t.String()).Inc()
		if reason, stop := s.handle(msg); stop {
			return reason
		}
	}
}

// closeAfter closes the connection once the queued frames are written,
// waiting at most WriteTimeout. It blocks; call it from the read loop or a
// drain goroutine.
func (s *session) closeAfter(code transport.CloseCode, reason string) {
	s.closeFlushed(&closeReq{code: code, reason: reason})
}

// closeAfterLinger is closeAfter for a client that may still be sending
// (a flood): the queued frames, its RATE_LIMITED errors among them, are
// written first, then the close lingers (failLinger) so the close code
// reaches it. Closing at once dropped the queued errors whenever the read
// loop had rejected the whole flood before the writer ran: the flooder saw
// a close and none of the errors that explain it.
func (s *session) closeAfterLinger(code transport.CloseCode, reason string) {
	s.closeFlushed(&closeReq{code: code, reason: reason, linger: true})
}

func (s *session) closeFlushed(req *closeReq) {
	req.flushed = make(chan struct{})
	s.mu.Lock()
	s.closeAfterFlush = req
	idle := !s.writing
	s.mu.Unlock()
	if idle {
		req.close(s)
		return
	}
	t := time.NewTimer(s.srv.cfg.WriteTimeout)
	defer t.Stop()
	select {
	case <-req.flushed:
	case <-t.C:
		req.close(s)
	}
}
