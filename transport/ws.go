package transport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

const (
	// closeWriteTimeout bounds sending the close frame in Close.
	closeWriteTimeout = time.Second
	// keepReadBuf is the largest read buffer a connection keeps between
	// messages; larger messages get a fresh buffer so idle connections do
	// not pin memory.
	keepReadBuf = 1024
	// firstReadBuf is the first read buffer allocated for a message.
	firstReadBuf = 512
)

// errClosed is returned by operations on a locally closed connection.
var errClosed = fmt.Errorf("transport: connection closed: %w", net.ErrClosed)

// aLongTimeAgo is a deadline in the past, used to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// preparedKey keys the *websocket.PreparedMessage cached on a SharedFrame.
// One PreparedMessage serves client and server connections, with and
// without permessage-deflate: it keeps one encoding per variant.
type preparedKey struct{}

// wsConn is the WebSocket Conn. Reader-owned fields are touched only by the
// goroutine calling ReadFrame; writer-owned fields only by the one calling
// WriteFrame/WriteShared; the rest is atomic or guarded by closeOnce.
type wsConn struct {
	ws           *websocket.Conn
	limit        int // largest message accepted: HeaderSize + MaxFrameBytes
	readTimeout  time.Duration
	writeTimeout time.Duration

	// reader-owned
	rbuf    []byte
	readErr error // sticky: gorilla connections cannot be read after an error

	closed    atomic.Bool
	closeOnce sync.Once
	closeErr  error

	framesIn, framesOut atomic.Uint64
	bytesIn, bytesOut   atomic.Uint64
}

func newWSConn(ws *websocket.Conn, maxFrame int, readTimeout, writeTimeout time.Duration) *wsConn {
	c := &wsConn{
		ws:           ws,
		limit:        HeaderSize + orDefault(maxFrame, DefaultMaxFrameBytes),
		readTimeout:  readTimeout,
		writeTimeout: orDefault(writeTimeout, DefaultWSWriteTimeout),
	}
	// gorilla enforces this on the wire length (before permessage-deflate);
	// readMessage enforces it again on the inflated length.
	ws.SetReadLimit(int64(c.limit))
	return c
}

// ReadFrame implements Conn. A read interrupted by ctx (or failed for any
// other reason) leaves the connection unreadable: later calls return the
// same error. A text message fails with an error wrapping ErrBadFrame.
func (c *wsConn) ReadFrame(ctx context.Context) ([]byte, error) {
	if c.closed.Load() {
		return nil, errClosed
	}
	if c.readErr != nil {
		return nil, c.readErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cap(c.rbuf) > keepReadBuf {
		c.rbuf = nil
	}
	var deadline time.Time
	if c.readTimeout > 0 {
		deadline = time.Now().Add(c.readTimeout)
	}
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	if hasCtxDeadline && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	// A zero deadline also clears one left by the HTTP server.
	_ = c.ws.SetReadDeadline(deadline)
	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = c.ws.NetConn().SetReadDeadline(aLongTimeAgo)
			close(fired)
		})
	}
	b, err := c.readMessage()
	interrupted := false
	if stop != nil && !stop() {
		<-fired // the deadline is in the past; the next call resets it
		interrupted = true
	}
	if err != nil {
		if errors.Is(err, errTextMessage) {
			return nil, err
		}
		err = c.readError(err, interrupted, ctx, hasCtxDeadline, ctxDeadline)
		if !c.closed.Load() {
			c.readErr = err
		}
		return nil, err
	}
	c.framesIn.Add(1)
	c.bytesIn.Add(uint64(len(b)))
	return b, nil
}

var errTextMessage = fmt.Errorf("%w: text WebSocket message (frames are binary)", ErrBadFrame)

// readMessage reads the next data message into c.rbuf, enforcing c.limit on
// the (inflated) message length.
func (c *wsConn) readMessage() ([]byte, error) {
	typ, r, err := c.ws.NextReader()
	if err != nil {
		return nil, err
	}
	if typ != websocket.BinaryMessage {
		return nil, errTextMessage
	}
	buf := c.rbuf[:0]
	if cap(buf) == 0 {
		buf = make([]byte, 0, firstReadBuf)
	}
	for {
		if len(buf) == cap(buf) {
			if len(buf) > c.limit {
				return nil, fmt.Errorf("%w: WebSocket message over %d bytes", ErrTooLarge, c.limit)
			}
			buf = append(buf, 0)[:len(buf)] // grow
		}
		n, err := r.Read(buf[len(buf):min(cap(buf), c.limit+1)])
		buf = buf[:len(buf)+n]
		if len(buf) > c.limit {
			return nil, fmt.Errorf("%w: WebSocket message over %d bytes", ErrTooLarge, c.limit)
		}
		if err == io.EOF {
			c.rbuf = buf
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// readError maps a read error to the package's errors.
func (c *wsConn) readError(err error, interrupted bool, ctx context.Context, hasDeadline bool, deadline time.Time) error {
	var ce *websocket.CloseError
	switch {
	case c.closed.Load():
		return errClosed
	case errors.As(err, &ce):
		return &CloseError{Code: CloseCode(ce.Code), Reason: ce.Text}
	case errors.Is(err, websocket.ErrReadLimit):
		return fmt.Errorf("%w: WebSocket message over %d bytes", ErrTooLarge, c.limit)
	case errors.Is(err, ErrTooLarge):
		return err
	case interrupted && ctx.Err() != nil:
		return fmt.Errorf("transport: read: %w", ctx.Err())
	case isTimeout(err):
		if hasDeadline && !time.Now().Before(deadline) {
			return fmt.Errorf("transport: read: %w", context.DeadlineExceeded)
		}
		return fmt.Errorf("%w: nothing received for %v", ErrIdleTimeout, c.readTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("transport: connection lost: %w", io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("transport: read: %w", err)
}

// WriteFrame implements Conn. The write deadline is the earlier of ctx's
// deadline and now+WriteTimeout; cancelling ctx interrupts a blocked write.
// A failed write leaves the connection unwritable.
func (c *wsConn) WriteFrame(ctx context.Context, frame []byte) error {
	return c.write(ctx, len(frame), func() error {
		return c.ws.WriteMessage(websocket.BinaryMessage, frame)
	})
}

// WriteShared implements Conn: the frame is encoded as a WebSocket message
// once (per compression variant) and the bytes reused for every connection.
func (c *wsConn) WriteShared(ctx context.Context, f *SharedFrame) error {
	pm, err := f.Prepared(preparedKey{}, func(b []byte) (any, error) {
		return websocket.NewPreparedMessage(websocket.BinaryMessage, b)
	})
	if err != nil {
		return fmt.Errorf("transport: prepare shared frame: %w", err)
	}
	return c.write(ctx, len(f.Bytes()), func() error {
		return c.ws.WritePreparedMessage(pm.(*websocket.PreparedMessage))
	})
}

func (c *wsConn) write(ctx context.Context, n int, do func() error) error {
	if c.closed.Load() {
		return errClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	deadline := time.Now().Add(c.writeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetWriteDeadline(deadline)
	var stop func() bool
	var fired chan struct{}
	if ctx.Done() != nil {
		fired = make(chan struct{})
		stop = context.AfterFunc(ctx, func() {
			_ = c.ws.NetConn().SetWriteDeadline(aLongTimeAgo)
			close(fired)
		})
	}
	err := do()
	interrupted := false
	if stop != nil && !stop() {
		<-fired
		interrupted = true
	}
	if err != nil {
		switch {
		case c.closed.Load(), errors.Is(err, websocket.ErrCloseSent):
			return errClosed
		case interrupted && ctx.Err() != nil:
			return fmt.Errorf("transport: write: %w", ctx.Err())
		case isTimeout(err):
			if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
				return fmt.Errorf("transport: write: %w", context.DeadlineExceeded)
			}
			return fmt.Errorf("transport: write timeout (%v): %w", err, os.ErrDeadlineExceeded)
		}
		return fmt.Errorf("transport: write: %w", err)
	}
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(n))
	return nil
}

// Close implements Conn: it sends a close frame (best effort, bounded by a
// short deadline), half-closes and closes the socket. Blocked reads and
// writes return errors wrapping net.ErrClosed. Later calls return nil.
func (c *wsConn) Close(code CloseCode, reason string) error {
	return c.closeWith(code, reason, 0)
}

// CloseLinger implements Lingerer: Close, but between the FIN and the
// release of the socket it reads and discards what the peer still sends
// (until the peer closes, d passes or maxLingerBytes were read). Closing a
// socket with unread input makes the kernel reset the connection, and a
// reset destroys the close frame still on its way: a client that was in
// the middle of writing an oversized frame would see "connection reset"
// instead of 1009. It blocks up to d; call it only from the goroutine that
// reads the connection (nothing else may read it).
func (c *wsConn) CloseLinger(code CloseCode, reason string, d time.Duration) error {
	return c.closeWith(code, reason, d)
}

// maxLingerBytes bounds what CloseLinger discards.
const maxLingerBytes = 8 << 20

func (c *wsConn) closeWith(code CloseCode, reason string, linger time.Duration) error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		msg := websocket.FormatCloseMessage(int(sendableCode(code)), truncateReason(reason))
		werr := c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(closeWriteTimeout))
		nc := c.ws.NetConn()
		if cw, ok := nc.(interface{ CloseWrite() error }); ok && werr == nil {
			// FIN right after the close frame, so the peer reads the
			// close frame before it sees the connection go away.
			_ = cw.CloseWrite()
			if linger > 0 {
				_ = nc.SetReadDeadline(time.Now().Add(linger))
				_, _ = io.CopyN(io.Discard, nc, maxLingerBytes)
			}
		}
		c.closeErr = c.ws.Close()
		err = c.closeErr
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// sendableCode returns code when it may be sent in a close frame, else
// CloseInternal. 0 means no status.
func sendableCode(code CloseCode) CloseCode {
	switch {
	case code == 0:
		return websocket.CloseNoStatusReceived // empty close payload
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014, code >= 3000 && code <= 4999:
		return code
	}
	return CloseInternal
}

// truncateReason cuts a close reason to the 123 bytes a close frame holds,
// on a UTF-8 boundary.
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Stats implements Conn. RTT, Retransmits and the packet counts come from
// the kernel's TCP_INFO on Linux and are read when Stats is called.
func (c *wsConn) Stats() Stats {
	s := Stats{
		FramesIn:  c.framesIn.Load(),
		FramesOut: c.framesOut.Load(),
		BytesIn:   c.bytesIn.Load(),
		BytesOut:  c.bytesOut.Load(),
	}
	if !c.closed.Load() {
		if ti, ok := tcpInfo(c.ws.NetConn()); ok {
			s.RTT, s.Retransmits, s.PacketsOut = ti.rtt, ti.retrans, ti.segsOut
			s.PacketsIn, s.OutOfOrderIn = ti.segsIn, ti.oooIn
		}
	}
	return s
}

// RemoteAddr implements Conn.
func (c *wsConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// Transport implements Conn.
func (c *wsConn) Transport() string { return "ws" }

// isTimeout reports whether err is a deadline expiry. gorilla/websocket
// replaces temporary net errors (deadlines among them) with its own type,
// which no longer wraps os.ErrDeadlineExceeded but still says Timeout().
func isTimeout(err error) bool {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
