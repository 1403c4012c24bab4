package nodelink

import (
	"bufio"
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/edgegate/edgegate/edge/peerauth"
)

// readBuffer is each link's read buffer: a batch of frames is read with
// one syscall.
const readBuffer = 64 << 10

// peer is one other node: its address, its current connection (nil while
// down) and, when this node dials it, the dial loop.
type peer struct {
	l  *Link
	id string

	mu      sync.Mutex
	addr    string
	conn    *conn
	dialing bool
	removed bool
	kick    chan struct{} // wakes the dial loop (new address); cap 1
	// ctx ends when the peer is removed or the Link closed.
	ctx    context.Context
	cancel context.CancelFunc
}

func newPeer(l *Link, id string) *peer {
	ctx, cancel := context.WithCancel(l.ctx)
	return &peer{l: l, id: id, kick: make(chan struct{}, 1), ctx: ctx, cancel: cancel}
}

// current returns the peer's connection, nil while down.
func (p *peer) current() *conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conn
}

// setAddr records the peer's address and, if this node dials it, makes
// sure the dial loop runs and tries the address.
func (p *peer) setAddr(addr string) {
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return
	}
	changed := p.addr != addr
	p.addr = addr
	start := dialsTo(p.l.cfg.NodeID, p.id) && !p.dialing && addr != ""
	if start {
		p.dialing = true
	}
	p.mu.Unlock()
	if start && !p.l.goFunc(p.dialLoop) {
		return
	}
	if changed {
		select {
		case p.kick <- struct{}{}:
		default:
		}
	}
}

// remove closes the peer's connection and stops its dial loop.
func (p *peer) remove() {
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		return
	}
	p.removed = true
	p.cancel()
	c := p.conn
	p.mu.Unlock()
	if c != nil {
		c.close("peer removed")
	}
}

// dialLoop dials the peer until it is removed: at once, after a failure
// with exponential backoff and full jitter, and again after a link ends.
func (p *peer) dialLoop() {
	cfg := &p.l.cfg
	backoff := cfg.MinBackoff
	for {
		p.mu.Lock()
		addr := p.addr
		p.mu.Unlock()
		c, err := p.dial(addr)
		if err == nil {
			backoff = cfg.MinBackoff
			p.run(c, bufio.NewReaderSize(c, readBuffer))
		} else {
			p.l.m.dialFailures.Add(1)
			if errors.Is(err, peerauth.ErrPeerAuth) {
				p.l.m.authFailures.Add(1)
				p.l.logLimited(&p.l.authLog, "nodelink: a peer failed authentication", "peer", p.id, "addr", addr)
			} else {
				p.l.cfg.Logger.Debug("nodelink: dial", "peer", p.id, "addr", addr, "err", err)
			}
			backoff = min(backoff*2, cfg.MaxBackoff)
		}
		// Full jitter: a whole region restarting does not dial in step.
		wait := time.Duration(rand.Int64N(int64(backoff)) + 1)
		select {
		case <-p.ctx.Done():
			return
		case <-p.kick:
		case <-time.After(wait):
		}
	}
}

// dial connects to addr and runs the dialer's handshake, within
// DialTimeout; removing the peer or closing the Link ends it sooner.
func (p *peer) dial(addr string) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(p.ctx, p.l.cfg.DialTimeout)
	defer cancel()
	d := net.Dialer{KeepAlive: keepAlive}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Now()) })
	err = p.l.dialHandshake(c, p.id)
	stop()
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// run makes c the peer's connection and serves it until it ends.
func (p *peer) run(c net.Conn, br *bufio.Reader) {
	l := p.l
	cn := newConn(p, c)
	p.mu.Lock()
	if p.removed {
		p.mu.Unlock()
		c.Close()
		return
	}
	old := p.conn
	p.conn = cn
	p.mu.Unlock()
	if old != nil {
		old.close("replaced by a new link")
	}
	l.m.peersUp.Add(1)
	l.cfg.Logger.Info("nodelink: link up", "peer", p.id, "remote", c.RemoteAddr())
	if !l.goFunc(cn.writeLoop) {
		close(cn.writerDone) // no writer: the Link is closing
		cn.close("closing")
	}
	if l.cfg.OnPeerUp != nil {
		l.cfg.OnPeerUp(p.id)
	}
	reason := cn.readLoop(br)
	cn.close(reason)
	<-cn.writerDone
	p.mu.Lock()
	current := p.conn == cn
	if current {
		p.conn = nil
	}
	p.mu.Unlock()
	l.m.peersUp.Add(-1)
	l.calls.failConn(cn)
	l.cfg.Logger.Info("nodelink: link down", "peer", p.id, "reason", cn.reason)
	if current && l.cfg.OnPeerDown != nil {
		l.cfg.OnPeerDown(p.id)
	}
}
