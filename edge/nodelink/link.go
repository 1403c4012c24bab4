package nodelink

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/edgegate/edgegate/edge/peerauth"
	"github.com/edgegate/edgegate/transport"
)

// keepAlive is the TCP keep-alive period of links: a peer whose machine
// vanished is also removed by gossip, usually sooner.
const keepAlive = 15 * time.Second

// Link is a node's end of the inter-node links: a listener, and one
// connection per peer (dialed by the node with the lower id), each with
// bounded send queues and one writer that coalesces frames.
//
// Lock order: Link.mu, then peer.mu, then conn.mu; handlers and callbacks
// run with none held.
type Link struct {
	cfg Config
	ln  net.Listener
	m   *metrics

	mu       sync.Mutex
	peers    map[string]*peer
	handlers map[transport.FrameType]Handler
	closed   bool
	wg       sync.WaitGroup
	quit     chan struct{}
	// ctx ends at Close; each peer's context derives from it.
	ctx    context.Context
	cancel context.CancelFunc

	calls calls

	refusedLog, authLog peerauth.WarnLimiter
}

// New validates cfg, listens on cfg.Listen and returns the Link. Peers
// are added with SetPeer; handlers with Handle.
func New(cfg Config) (*Link, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("nodelink: invalid config: %w", err)
	}
	lc := net.ListenConfig{KeepAlive: keepAlive}
	ln, err := lc.Listen(context.Background(), "tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("nodelink: %w", err)
	}
	l := &Link{cfg: cfg, ln: ln, m: newMetrics(cfg.Registerer), peers: make(map[string]*peer),
		handlers: make(map[transport.FrameType]Handler), quit: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	l.calls.pending = make(map[uint64]*call)
	l.goFunc(l.acceptLoop)
	return l, nil
}

// Addr is the address the Link listens on.
func (l *Link) Addr() string { return l.ln.Addr().String() }

// NodeID is this node's id.
func (l *Link) NodeID() string { return l.cfg.NodeID }

// goFunc runs f on a goroutine Close waits for; false after Close.
func (l *Link) goFunc(f func()) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		f()
	}()
	return true
}

// Close closes the listener and every link, and waits for the Link's
// goroutines. Pending requests fail with ErrClosed.
func (l *Link) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.quit)
	l.cancel()
	peers := make([]*peer, 0, len(l.peers))
	for _, p := range l.peers {
		peers = append(peers, p)
	}
	l.peers = map[string]*peer{}
	l.mu.Unlock()
	err := l.ln.Close()
	for _, p := range peers {
		p.remove()
	}
	l.wg.Wait()
	return err
}

// SetPeer adds peer id at addr (its link address, host:port), or updates
// its address. If this node dials it (the lower id dials) a dial loop
// starts, retrying with backoff until the link is up and after it goes
// down; otherwise the peer dials this node and addr is only recorded.
func (l *Link) SetPeer(id, addr string) {
	if id == l.cfg.NodeID || id == "" {
		return
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return
	}
	p := l.peers[id]
	if p == nil {
		p = newPeer(l, id)
		l.peers[id] = p
	}
	l.mu.Unlock()
	p.setAddr(addr)
}

// RemovePeer closes the link to peer id and forgets it (it left the
// cluster or died). A later inbound link from it, or SetPeer, adds it again.
func (l *Link) RemovePeer(id string) {
	l.mu.Lock()
	p := l.peers[id]
	delete(l.peers, id)
	l.mu.Unlock()
	if p != nil {
		p.remove()
	}
}

// Peers returns the ids of the peers whose link is up, sorted.
func (l *Link) Peers() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id, p := range l.peers {
		if p.current() != nil {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// peer returns peer id, nil when unknown.
func (l *Link) peer(id string) *peer {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peers[id]
}

// acceptLoop accepts inbound links until Close.
func (l *Link) acceptLoop() {
	for {
		c, err := l.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			l.cfg.Logger.Warn("nodelink: accept", "err", err)
			select {
			case <-l.quit:
				return
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		if !l.goFunc(func() { l.serveInbound(c) }) {
			c.Close()
			return
		}
	}
}

// serveInbound authenticates an inbound connection and runs it as its
// dialer's link.
func (l *Link) serveInbound(c net.Conn) {
	br := bufio.NewReaderSize(c, readBuffer)
	id, err := l.acceptHandshake(c, br)
	if err != nil {
		c.Close()
		select {
		case <-l.quit:
			return
		default:
		}
		l.m.refused.Add(1)
		if errors.Is(err, peerauth.ErrDialerAuth) {
			l.m.authFailures.Add(1)
		}
		l.logLimited(&l.refusedLog, "nodelink: refused a link", "remote", c.RemoteAddr(), "err", err)
		return
	}
	l.mu.Lock()
	p := l.peers[id]
	if p == nil && !l.closed {
		p = newPeer(l, id)
		l.peers[id] = p
	}
	l.mu.Unlock()
	if p == nil {
		c.Close()
		return
	}
	p.run(c, br)
}

// logLimited logs at Warn if lim allows, else at Debug.
func (l *Link) logLimited(lim *peerauth.WarnLimiter, msg string, args ...any) {
	if ok, n := lim.Allow(time.Now()); ok {
		l.cfg.Logger.Warn(msg, append(args, "not_logged_since_last", n)...)
		return
	}
	l.cfg.Logger.Debug(msg, args...)
}
