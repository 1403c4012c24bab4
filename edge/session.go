package edge

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/limits"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// session is one authenticated device connection. Its logical id survives
// reconnects through resume tokens.
//
// Lock order: Server.mu, then room.mu, then session.mu. The fan-out paths
// (router and rooms) take session.mu last and never block under it.
type session struct {
	srv    *Server
	conn   transport.Conn
	id     string
	user   string
	device string
	claims *auth.Claims
	comp   *transport.Compressor
	rate   *limits.MessageLimiter
	ctl    *limits.MessageLimiter // control frames (see allowControl)
	remote string
	// link holds the connection's TCP counters at the previous Pong
	// (read loop only), for the link report in the next.
	link transport.Stats

	mu      sync.Mutex
	closed  bool
	writing bool
	// starting holds the writer back during the handshake, so the client
	// gets Connected only once every subscription is in the router (a
	// presence query or a message right after Connected sees it).
	starting        bool
	convs           map[string]*convSub
	rooms           map[string]*room
	ctrl            [][]byte
	live            []liveItem
	liveDropped     uint64
	dirty           []*convSub
	closeAfterFlush *closeReq
	closeOnce       sync.Once
	// takenOver is set when a resume on another connection took this
	// session's state: it must not be detached again.
	takenOver atomic.Bool
}

type closeReq struct {
	code    transport.CloseCode
	reason  string
	linger  bool          // close with failLinger (the client may still be sending)
	flushed chan struct{} // closed once the queues are written and the conn closed
}

// close closes the connection as the request says.
func (r *closeReq) close(s *session) {
	if r.linger {
		s.failLinger(r.code, r.reason)
		return
	}
	s.fail(r.code, r.reason)
}

func newSessionID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// closeLinger bounds how long a session closed for bad input keeps reading
// (and discarding) so its close code reaches the client (see
// transport.Lingerer).
const closeLinger = time.Second

// failLinger is fail for closes decided by the read loop because of what
// the client sent (oversized or malformed frames, floods): the client may
// still be writing, and lingering lets it read the close code instead of a
// reset. Only the read loop (or code it waits for) may call it.
func (s *session) failLinger(code transport.CloseCode, reason string) {
	s.shutdown(func() {
		if l, ok := s.conn.(transport.Lingerer); ok {
			_ = l.CloseLinger(code, reason, closeLinger)
			return
		}
		_ = s.conn.Close(code, reason)
	})
}

// fail closes the session's connection with a code. Safe to call more than
// once and from any goroutine; the read loop then cleans up.
func (s *session) fail(code transport.CloseCode, reason string) {
	s.shutdown(func() { _ = s.conn.Close(code, reason) })
}

// shutdown marks the session closed, releases its queued room batches and
// runs closeConn, once whichever of fail and failLinger comes first.
func (s *session) shutdown(closeConn func()) {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		live := s.live
		s.live = nil
		s.mu.Unlock()
		releaseLive(live)
		closeConn()
	})
}

// logger returns a logger with the session's attributes. Built on demand:
// a logger per session would cost memory on every idle connection.
func (s *session) logger() *slog.Logger {
	return s.srv.log.With("session", s.id, "user", s.user, "device", s.device)
}

// sendMsg encodes and queues a control message.
func (s *session) sendMsg(m proto.Message) bool {
	f, err := transport.Encode(nil, m, s.comp)
	if err != nil {
		s.logger().Error("encode failed", "err", err)
		return false
	}
	return s.enqueueCtrl(f)
}

// replyMsg encodes and sends a control message from the read loop (see
// reply).
func (s *session) replyMsg(m proto.Message) bool {
	f, err := transport.Encode(nil, m, s.comp)
	if err != nil {
		s.logger().Error("encode failed", "err", err)
		return false
	}
	return s.reply(f)
}

// sendError queues an Error frame and counts it.
func (s *session) sendError(code pb.ErrorCode, reason string, reqID uint64, clientMsgID string, retryAfter time.Duration) {
	s.srv.m.errors.WithLabelValues(code.String()).Inc()
	if retryAfter < 0 {
		retryAfter = 0
	}
	s.sendMsg(&pb.Error{Code: code, Reason: reason, RequestId: reqID, ClientMsgId: clientMsgID, RetryAfterMs: uint32((retryAfter + time.Millisecond - 1) / time.Millisecond)})
}

// closeWithError writes an Error frame directly and closes with 4000+code.
// Used during the handshake and for fatal errors, before or instead of the
// queued writer.
func closeWithError(srv *Server, conn transport.Conn, code pb.ErrorCode, reason string) {
	srv.m.errors.WithLabelValues(code.String()).Inc()
	if f, err := transport.Encode(nil, &pb.Error{Code: code, Reason: reason}, nil); err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.WriteFrame(ctx, f)
		cancel()
	}
	_ = conn.Close(transport.CloseCodeFor(code), reason)
}

// detachState is what a disconnected session leaves for its resumption.
type detachState struct {
	id      string
	user    string
	device  string
	convs   map[string]uint64 // conversation -> acked position
	rooms   []string
	expires time.Time
	// transport is the one the session was on, to count moves (a client
	// falling back from WebSocket to QUIC resumes on the other).
	transport string
}

// snapshot captures the state to resume from. Positions are the client's
// cumulative acks, never what was merely written: frames in flight when the
// link died may not have arrived.
func (s *session) snapshot() *detachState {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := &detachState{id: s.id, user: s.user, device: s.device, convs: make(map[string]uint64, len(s.convs)), transport: s.conn.Transport()}
	for c, cs := range s.convs {
		d.convs[c] = cs.acked
	}
	for r := range s.rooms {
		d.rooms = append(d.rooms, r)
	}
	return d
}

// isClosedErr reports errors that mean the connection is gone.
func isClosedErr(err error) bool {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, context.Canceled) {
		return true
	}
	_, ok := transport.CloseStatus(err)
	return ok
}
