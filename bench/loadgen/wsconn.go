package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/edgegate/edgegate/transport"
)

// This file holds a small WebSocket transport.Conn whose socket is bound to
// a chosen local address, used only with Options.SourceIPs > 1:
// transport.DialWS has no hook for the local address, and one loopback
// source address gives at most ~28k ports towards one edge (the ephemeral
// range). Everything else uses the SDK's default dialer.

const wsWriteTimeout = 10 * time.Second

// errConnClosed is returned after Close; it matches net.ErrClosed.
var errConnClosed = fmt.Errorf("loadgen: connection closed: %w", net.ErrClosed)

// srcConn is a minimal transport.Conn over gorilla/websocket.
type srcConn struct {
	ws        *websocket.Conn
	closed    atomic.Bool
	closeOnce sync.Once

	framesIn, framesOut, bytesIn, bytesOut atomic.Uint64
}

// dialFrom returns a client.Config.Dial function that connects from local.
func dialFrom(local net.IP, handshake time.Duration, header http.Header) func(ctx context.Context, url string) (transport.Conn, error) {
	nd := &net.Dialer{LocalAddr: &net.TCPAddr{IP: local}, Timeout: handshake}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: handshake,
		ReadBufferSize:   1024,
		WriteBufferSize:  1024,
	}
	return func(ctx context.Context, url string) (transport.Conn, error) {
		ws, resp, err := d.DialContext(ctx, url, header)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			if resp != nil {
				return nil, fmt.Errorf("loadgen: dial %s from %s: %w (HTTP %s)", url, local, err, resp.Status)
			}
			return nil, fmt.Errorf("loadgen: dial %s from %s: %w", url, local, err)
		}
		ws.SetReadLimit(transport.HeaderSize + 16<<20)
		return &srcConn{ws: ws}, nil
	}
}

// ReadFrame implements transport.Conn.
func (c *srcConn) ReadFrame(ctx context.Context) ([]byte, error) {
	if c.closed.Load() {
		return nil, errConnClosed
	}
	stop := context.AfterFunc(ctx, func() { _ = c.ws.NetConn().SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	typ, b, err := c.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		switch {
		case c.closed.Load():
			return nil, errConnClosed
		case errors.As(err, &ce):
			return nil, &transport.CloseError{Code: transport.CloseCode(ce.Code), Reason: ce.Text}
		case ctx.Err() != nil:
			return nil, fmt.Errorf("loadgen: read: %w", ctx.Err())
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("loadgen: connection lost: %w", io.ErrUnexpectedEOF)
		}
		return nil, fmt.Errorf("loadgen: read: %w", err)
	}
	if typ != websocket.BinaryMessage {
		return nil, fmt.Errorf("%w: text WebSocket message", transport.ErrBadFrame)
	}
	c.framesIn.Add(1)
	c.bytesIn.Add(uint64(len(b)))
	return b, nil
}

// WriteFrame implements transport.Conn.
func (c *srcConn) WriteFrame(ctx context.Context, frame []byte) error {
	if c.closed.Load() {
		return errConnClosed
	}
	deadline := time.Now().Add(wsWriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = c.ws.SetWriteDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = c.ws.NetConn().SetWriteDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, frame); err != nil {
		if c.closed.Load() {
			return errConnClosed
		}
		return fmt.Errorf("loadgen: write: %w", err)
	}
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(len(frame)))
	return nil
}

// WriteShared implements transport.Conn.
func (c *srcConn) WriteShared(ctx context.Context, f *transport.SharedFrame) error {
	return c.WriteFrame(ctx, f.Bytes())
}

// Close implements transport.Conn.
func (c *srcConn) Close(code transport.CloseCode, reason string) error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		if code == 0 {
			code = transport.CloseNormal
		}
		if len(reason) > 120 {
			reason = reason[:120]
		}
		msg := websocket.FormatCloseMessage(int(code), reason)
		_ = c.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
		_ = c.ws.Close()
	})
	return nil
}

// Stats implements transport.Conn.
func (c *srcConn) Stats() transport.Stats {
	return transport.Stats{FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load()}
}

// RemoteAddr implements transport.Conn.
func (c *srcConn) RemoteAddr() net.Addr { return c.ws.RemoteAddr() }

// Transport implements transport.Conn.
func (c *srcConn) Transport() string { return "ws" }
