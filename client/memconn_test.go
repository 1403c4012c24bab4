package client

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"

	"github.com/edgegate/edgegate/transport"
)

// memPipe is an in-memory transport.Conn pair: frames written on one end
// are read on the other. Closing one end makes the other end's reads fail
// with a *transport.CloseError (after it drained the frames already
// written) and the closing end's with net.ErrClosed.
type memShared struct {
	once   sync.Once
	closed chan struct{}
	closer int
	code   transport.CloseCode
	reason string
}

type memConn struct {
	side  int
	in    chan []byte
	out   chan []byte
	sh    *memShared
	in0   atomic.Uint64
	out0  atomic.Uint64
	tname string
	// link, when set, fills the TCP figures of Stats (a WebSocket's
	// TCP_INFO).
	link func() transport.Stats
}

func memPipe(buf int) (a, b *memConn) {
	sh := &memShared{closed: make(chan struct{})}
	ab := make(chan []byte, buf)
	ba := make(chan []byte, buf)
	return &memConn{side: 0, in: ba, out: ab, sh: sh, tname: "mem"}, &memConn{side: 1, in: ab, out: ba, sh: sh, tname: "mem"}
}

func (m *memConn) closeErr() error {
	if m.sh.closer == m.side {
		return fmt.Errorf("memconn: %w", net.ErrClosed)
	}
	return &transport.CloseError{Code: m.sh.code, Reason: m.sh.reason}
}

func (m *memConn) ReadFrame(ctx context.Context) ([]byte, error) {
	select {
	case b := <-m.in:
		m.in0.Add(1)
		return b, nil
	default:
	}
	select {
	case b := <-m.in:
		m.in0.Add(1)
		return b, nil
	case <-m.sh.closed:
		return nil, m.closeErr()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (m *memConn) WriteFrame(ctx context.Context, frame []byte) error {
	select {
	case <-m.sh.closed:
		return m.closeErr()
	default:
	}
	cp := append([]byte(nil), frame...)
	select {
	case m.out <- cp:
		m.out0.Add(1)
		return nil
	case <-m.sh.closed:
		return m.closeErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (m *memConn) WriteShared(ctx context.Context, f *transport.SharedFrame) error {
	return m.WriteFrame(ctx, f.Bytes())
}

func (m *memConn) Close(code transport.CloseCode, reason string) error {
	m.sh.once.Do(func() {
		m.sh.closer, m.sh.code, m.sh.reason = m.side, code, reason
		close(m.sh.closed)
	})
	return nil
}

func (m *memConn) Stats() transport.Stats {
	var s transport.Stats
	if m.link != nil {
		s = m.link()
	}
	s.FramesIn, s.FramesOut = m.in0.Load(), m.out0.Load()
	return s
}

func (m *memConn) RemoteAddr() net.Addr { return &net.UnixAddr{Name: "mem", Net: "unix"} }

func (m *memConn) Transport() string { return m.tname }
