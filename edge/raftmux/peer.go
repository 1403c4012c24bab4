package raftmux

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// peer is the outbound connection to one peer, shared by all groups.
type peer struct {
	m    *Mux
	addr raft.ServerAddress

	mu          sync.Mutex // all below
	conn        net.Conn
	w           *frameWriter  // conn's
	dialing     chan struct{} // a call is dialing: closed when it is done
	handshaking net.Conn      // the connection being dialed, for close
	pending     map[uint64]chan result
	next        uint64
	done        bool
	appends     map[uint32]*appendAnswer // per group: see cache.go
	// refusedUntil: a dial failed; until then calls fail at once instead
	// of dialing again (see downRetry).
	refusedUntil time.Time
	replicas     map[uint32]*replica // per group: see commit.go
}

type result struct {
	f   frame
	err error
}

// AppError is an error an application handler returned on the peer.
type AppError struct{ Msg string }

func (e *AppError) Error() string { return e.Msg }

// peerFor returns the peer at addr.
func (m *Mux) peerFor(addr raft.ServerAddress) (*peer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	p, ok := m.peers[addr]
	if !ok {
		p = &peer{m: m, addr: addr, pending: map[uint64]chan result{}, appends: map[uint32]*appendAnswer{}, replicas: map[uint32]*replica{}}
		m.peers[addr] = p
	}
	return p, nil
}

// call sends one request (lazy: a heartbeat, which may wait for company,
// see frameWriter.sendLazy) and waits for its answer's body; it also
// returns the connection the answer came on.
func (p *peer) call(kind byte, group uint32, body []byte, timeout time.Duration, lazy bool) ([]byte, net.Conn, error) {
	deadline := time.Now().Add(timeout)
	conn, w, id, ch, err := p.register(deadline)
	if err != nil {
		return nil, nil, err
	}
	send := w.send
	if lazy {
		send = w.sendLazy
	}
	// Isolated (fault.go), the request is lost: wait out the timeout.
	if !p.m.isolated.Load() {
		if err := send(kind, group, id, body); err != nil {
			p.broken(conn, err)
		}
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, nil, r.err
		}
		if len(r.f.body) == 0 {
			return nil, nil, errBadFrame
		}
		if r.f.body[0] == answerErr {
			if kind == kindApp {
				return nil, nil, &AppError{Msg: string(r.f.body[1:])}
			}
			return nil, nil, fmt.Errorf("raftmux: %s: %s", p.addr, r.f.body[1:])
		}
		return r.f.body[1:], conn, nil
	case <-timer.C:
		p.forget(id)
		return nil, nil, fmt.Errorf("raftmux: %s: no answer within %v", p.addr, timeout)
	}
}

// register connects if needed and reserves a request id. Dialing and the
// handshake run outside p.mu: one caller dials while the others wait for
// it, each until its own deadline, so a peer that accepts connections but
// never answers (a stopped process) holds no call past its deadline.
func (p *peer) register(deadline time.Time) (net.Conn, *frameWriter, uint64, chan result, error) {
	for {
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			return nil, nil, 0, nil, ErrClosed
		}
		if p.conn != nil {
			p.next++
			ch := make(chan result, 1)
			p.pending[p.next] = ch
			conn, w, id := p.conn, p.w, p.next
			p.mu.Unlock()
			return conn, w, id, ch, nil
		}
		if p.dialing == nil && time.Now().Before(p.refusedUntil) {
			p.mu.Unlock()
			return nil, nil, 0, nil, fmt.Errorf("raftmux: dial %s: %w (a dial failed under %v ago)", p.addr, errUnreachable, refusedFor)
		}
		if wait := p.dialing; wait != nil {
			p.mu.Unlock()
			timer := time.NewTimer(time.Until(deadline))
			select {
			case <-wait:
				timer.Stop()
				continue
			case <-timer.C:
				return nil, nil, 0, nil, fmt.Errorf("raftmux: dial %s: not connected within the timeout", p.addr)
			}
		}
		p.dialing = make(chan struct{})
		p.mu.Unlock()
		if err := p.dial(deadline); err != nil {
			return nil, nil, 0, nil, err
		}
	}
}

// dial connects to the peer and runs the handshake (auth.go) before
// deadline, then makes the connection the peer's, unless the peer was
// closed meanwhile; it ends p.dialing either way. Caller set p.dialing.
func (p *peer) dial(deadline time.Time) error {
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	c, err := p.m.o.Dial(ctx, string(p.addr))
	cancel()
	if err == nil {
		p.mu.Lock()
		p.handshaking = c // close interrupts the handshake
		done := p.done
		p.mu.Unlock()
		if done {
			err = ErrClosed
		} else {
			err = p.m.dialConn(c, p.addr, deadline)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.dialing)
	p.dialing, p.handshaking = nil, nil
	if p.done {
		err = ErrClosed
	}
	if err != nil {
		if c != nil {
			c.Close()
		}
		if p.done {
			return ErrClosed
		}
		p.refusedUntil = time.Now().Add(refusedFor)
		return fmt.Errorf("raftmux: dial %s: %w: %w", p.addr, errUnreachable, err)
	}
	p.conn, p.w = c, newFrameWriter(c, &p.m.o)
	p.m.wg.Add(1)
	go p.read(c)
	return nil
}

// read delivers answers until the connection fails.
func (p *peer) read(c net.Conn) {
	defer p.m.wg.Done()
	br := bufio.NewReaderSize(c, 64<<10)
	for {
		f, err := readFrame(br, p.m.o.MaxFrame)
		if err == nil && f.kind&kindAnswer == 0 {
			err = fmt.Errorf("%w: a request on an outbound connection", errBadFrame)
		}
		if err != nil {
			p.broken(c, err)
			return
		}
		if p.m.isolated.Load() {
			continue // a partition: the answer is lost (the call times out)
		}
		p.mu.Lock()
		ch, ok := p.pending[f.id]
		delete(p.pending, f.id)
		p.mu.Unlock()
		if ok {
			ch <- result{f: f}
		}
	}
}

// broken drops a failed connection and fails the calls waiting on it; the
// next call dials again.
func (p *peer) broken(c net.Conn, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conn != c {
		return
	}
	c.Close()
	p.w.stop()
	p.conn, p.w = nil, nil
	clear(p.appends)
	if p.done {
		err = ErrClosed
	} else if !errors.Is(err, net.ErrClosed) {
		p.m.o.Logger.Debug("raftmux: connection to peer failed", "peer", p.addr, "err", err)
	}
	for id, ch := range p.pending {
		ch <- result{err: fmt.Errorf("raftmux: %s: %w", p.addr, err)}
		delete(p.pending, id)
	}
}

// forget drops a request that timed out (a late answer is ignored).
func (p *peer) forget(id uint64) {
	p.mu.Lock()
	delete(p.pending, id)
	p.mu.Unlock()
}

// close ends the peer for good.
func (p *peer) close(err error) {
	p.mu.Lock()
	p.done = true
	c, hs := p.conn, p.handshaking
	p.mu.Unlock()
	if hs != nil {
		hs.Close() // the dialing call returns ErrClosed
	}
	if c != nil {
		p.broken(c, err)
	}
}
