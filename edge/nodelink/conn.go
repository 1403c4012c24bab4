package nodelink

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// item is one encoded frame waiting in a queue. Its bytes may be shared by
// several peers' queues (Broadcast encodes once) and are never modified.
type item struct {
	b []byte
	t transport.FrameType
}

// conn is one link's connection: two bounded queues (control frames,
// never dropped; live frames, the oldest dropped when full) and a writer
// goroutine that coalesces whatever is queued into one write.
type conn struct {
	p *peer
	c net.Conn

	mu     sync.Mutex
	ctl    []item
	live   []item
	closed bool
	reason string

	wake       chan struct{} // cap 1: frames were queued
	done       chan struct{} // closed by close
	writerDone chan struct{} // closed when writeLoop returns
}

func newConn(p *peer, c net.Conn) *conn {
	return &conn{p: p, c: c, wake: make(chan struct{}, 1), done: make(chan struct{}), writerDone: make(chan struct{})}
}

// close closes the connection once, recording why.
func (cn *conn) close(reason string) {
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return
	}
	cn.closed = true
	cn.reason = reason
	cn.ctl, cn.live = nil, nil
	cn.mu.Unlock()
	close(cn.done)
	_ = cn.c.Close()
}

// enqueue queues a frame. A live frame that finds its queue full pushes
// out the oldest (counted); a control frame that finds its queue full
// closes the link (the peer is stuck) and fails with ErrNotConnected.
func (cn *conn) enqueue(it item, class Class) error {
	cfg := &cn.p.l.cfg
	cn.mu.Lock()
	if cn.closed {
		cn.mu.Unlock()
		return ErrNotConnected
	}
	if class == Control {
		if len(cn.ctl) >= cfg.ControlQueueFrames {
			cn.mu.Unlock()
			cn.p.l.badInput("control_overflow")
			cn.close("the peer let its control queue overflow")
			return ErrNotConnected
		}
		cn.ctl = append(cn.ctl, it)
	} else {
		if len(cn.live) >= cfg.QueueFrames {
			cn.p.l.m.drop(cn.live[0].t, "queue_full")
			cn.live[0] = item{}
			cn.live = cn.live[1:]
		}
		cn.live = append(cn.live, it)
	}
	cn.mu.Unlock()
	select {
	case cn.wake <- struct{}{}:
	default:
	}
	return nil
}

// take moves up to MaxWriteBytes of queued frames (control first, at least
// one frame) into buf and returns it and the frames' kinds.
func (cn *conn) take(buf []byte, kinds []transport.FrameType) ([]byte, []transport.FrameType) {
	limit := cn.p.l.cfg.MaxWriteBytes
	cn.mu.Lock()
	defer cn.mu.Unlock()
	for _, q := range []*[]item{&cn.ctl, &cn.live} {
		n := 0
		for n < len(*q) && (len(buf) == 0 || len(buf)+len((*q)[n].b) <= limit) {
			buf = append(buf, (*q)[n].b...)
			kinds = append(kinds, (*q)[n].t)
			(*q)[n] = item{}
			n++
		}
		*q = (*q)[n:]
		if len(*q) == 0 {
			*q = nil
		}
	}
	return buf, kinds
}

// writeLoop writes queued frames until the connection closes.
func (cn *conn) writeLoop() {
	defer close(cn.writerDone)
	m := cn.p.l.m
	var buf []byte
	var kinds []transport.FrameType
	for {
		select {
		case <-cn.done:
			return
		case <-cn.wake:
		}
		for {
			buf, kinds = cn.take(buf[:0], kinds[:0])
			if len(buf) == 0 {
				break
			}
			_ = cn.c.SetWriteDeadline(time.Now().Add(cn.p.l.cfg.WriteTimeout))
			if _, err := cn.c.Write(buf); err != nil {
				cn.close("write: " + err.Error())
				return
			}
			m.writes.Add(1)
			m.bytes.WithLabelValues("out").Add(float64(len(buf)))
			for _, t := range kinds {
				m.frames.WithLabelValues("out", t.String()).Inc()
			}
			if cap(buf) > 4*cn.p.l.cfg.MaxWriteBytes {
				buf = nil // a huge frame passed: do not keep its buffer
			}
		}
	}
}

// readLoop reads and dispatches frames until the connection fails, and
// returns why. Bad input closes the link: it is counted and logged.
func (cn *conn) readLoop(br *bufio.Reader) string {
	l := cn.p.l
	lim := transport.Limits{MaxFrameBytes: l.cfg.MaxFrameBytes, InterNode: true}
	var buf []byte
	for {
		f, b, err := transport.ReadFrame(br, buf, lim)
		buf = b
		if err == nil {
			l.m.frame("in", f.Type, len(b))
			err = l.dispatch(cn, &f)
		}
		if err != nil {
			if reason := badReason(err); reason != "" {
				l.badInput(reason)
				l.cfg.Logger.Warn("nodelink: bad input from a peer, closing its link", "peer", cn.p.id, "reason", reason, "err", err)
				return "bad input: " + err.Error()
			}
			return "read: " + err.Error()
		}
		if cap(buf) > 4*readBuffer {
			buf = nil
		}
	}
}

// badReason names a bad-input error for the metric's reason label, or ""
// for a connection error (closed, reset, timeout).
func badReason(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return ""
	case errors.Is(err, transport.ErrTooLarge):
		return "too_large"
	case errors.Is(err, transport.ErrUnknownType):
		return "unknown_type"
	case errors.Is(err, transport.ErrBadPayload), errors.Is(err, errBadReply):
		return "bad_payload"
	case errors.Is(err, transport.ErrBadFrame):
		return "malformed"
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return ""
	}
	return "malformed"
}

// badInput counts a link closed for bad input.
func (l *Link) badInput(reason string) {
	l.m.badInput.Add(1)
	l.m.badReasons.WithLabelValues(reason).Inc()
}
