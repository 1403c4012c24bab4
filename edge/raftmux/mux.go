package raftmux

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/peerauth"
)

// Defaults.
const (
	// DefaultTimeout bounds an RPC without a snapshot (dial included).
	DefaultTimeout = 5 * time.Second
	// DefaultSnapshotTimeout bounds an InstallSnapshot RPC.
	DefaultSnapshotTimeout = 2 * time.Minute
	// DefaultMaxFrame bounds a frame (an AppendEntries of many batched
	// entries, or a whole snapshot).
	DefaultMaxFrame = 256 << 20
	// DefaultEmptyAppendTTL bounds how long after the last real contact
	// with a follower (for a group) a leader's empty AppendEntries may be
	// answered from the cache (see the package doc). It must stay well
	// under the groups' LeaderLeaseTimeout (edge/raftgroup: 1 s) and above
	// their heartbeat interval (HeartbeatTimeout/10 to /5: 200-400 ms) for
	// the cache to bridge heartbeats.
	DefaultEmptyAppendTTL = 500 * time.Millisecond
	// DefaultHeartbeatLinger is how long a heartbeat (or its answer) may
	// wait for other frames to share its write: a few hundredths of the
	// groups' HeartbeatTimeout (2 s).
	DefaultHeartbeatLinger = 20 * time.Millisecond
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("raftmux: closed")

// Options configure a Mux.
type Options struct {
	// Advertise is the address peers dial (default: the listener's).
	Advertise string
	// Timeout, SnapshotTimeout, MaxFrame, EmptyAppendTTL,
	// HeartbeatLinger: see the defaults. A negative EmptyAppendTTL turns
	// the cache of empty AppendEntries answers off; a negative
	// HeartbeatLinger writes heartbeats at once.
	Timeout         time.Duration
	SnapshotTimeout time.Duration
	MaxFrame        int
	EmptyAppendTTL  time.Duration
	HeartbeatLinger time.Duration
	// Logger receives connection errors at debug level. Default
	// slog.Default().
	Logger *slog.Logger
	// Dial replaces the TCP dialer (tests inject faults).
	Dial func(ctx context.Context, addr string) (net.Conn, error)
	// OnPeerDown, if set, is called when a peer is found dead: its
	// connection to this node ended and its Raft port refuses connections
	// (see peerdown.go).
	OnPeerDown func(addr raft.ServerAddress)
	// Secret is the region's shared key, at least MinSecretLen bytes, the
	// same on every node. When set, every connection, both ways, passes a
	// mutual HMAC-SHA256 challenge-response before its first frame
	// (auth.go), and connections from dialers without it are refused.
	// Empty: no authentication (anyone who reaches the port can speak
	// Raft to this node; edge requires a secret for a region of more than
	// one node unless --raft-insecure), and dialers that authenticate are
	// refused.
	Secret []byte
}

// Mux is a node's Raft endpoint: it listens for peers and keeps one
// outbound connection per peer, for all groups.
type Mux struct {
	o    Options
	ln   net.Listener
	addr raft.ServerAddress

	mu      sync.Mutex
	app     AppHandler
	groups  map[uint32]*Transport
	peers   map[raft.ServerAddress]*peer
	inbound map[net.Conn]struct{}
	closed  bool
	quit    chan struct{}
	wg      sync.WaitGroup

	cachedAppends    atomic.Uint64 // empty AppendEntries answered from the cache
	commitNotices    atomic.Uint64 // commit notices sent (commit.go)
	refused          atomic.Uint64 // inbound connections refused at the handshake (auth.go)
	peerAuthFailures atomic.Uint64 // outbound connections whose peer failed the handshake
	refusedLog       peerauth.WarnLimiter
	peerAuthLog      peerauth.WarnLimiter
	isolated         atomic.Bool                 // fault injection: see fault.go
	checking         map[raft.ServerAddress]bool // peers being checked (peerdown.go), guarded by mu
}

// Listen starts a Mux on addr (host:port).
func Listen(addr string, o Options) (*Mux, error) {
	if len(o.Secret) > 0 && len(o.Secret) < MinSecretLen {
		return nil, fmt.Errorf("raftmux: the region secret is %d bytes; use at least %d", len(o.Secret), MinSecretLen)
	}
	o.Secret = bytes.Clone(o.Secret)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raftmux: listen %s: %w", addr, err)
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.SnapshotTimeout <= 0 {
		o.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if o.MaxFrame <= 0 {
		o.MaxFrame = DefaultMaxFrame
	}
	if o.EmptyAppendTTL == 0 {
		o.EmptyAppendTTL = DefaultEmptyAppendTTL
	}
	if o.HeartbeatLinger == 0 {
		o.HeartbeatLinger = DefaultHeartbeatLinger
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Dial == nil {
		o.Dial = func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		}
	}
	if o.Advertise == "" {
		o.Advertise = ln.Addr().String()
	}
	m := &Mux{o: o, ln: ln, addr: raft.ServerAddress(o.Advertise), groups: map[uint32]*Transport{},
		peers: map[raft.ServerAddress]*peer{}, inbound: map[net.Conn]struct{}{}, quit: make(chan struct{}),
		checking: map[raft.ServerAddress]bool{}}
	m.wg.Add(1)
	go m.accept()
	return m, nil
}

// Addr is the address peers reach this node at.
func (m *Mux) Addr() raft.ServerAddress { return m.addr }

// Transport returns group's Transport (the same one for the same group).
func (m *Mux) Transport(group uint32) *Transport {
	m.mu.Lock()
	defer m.mu.Unlock()
	if t, ok := m.groups[group]; ok {
		return t
	}
	t := &Transport{m: m, group: group, consumer: make(chan raft.RPC), closed: make(chan struct{})}
	m.groups[group] = t
	return t
}

// AppHandler answers an application request (Call) for group: the
// answer's body, or an error whose message travels back.
type AppHandler func(group uint32, body []byte) ([]byte, error)

// HandleApp sets the handler of application requests (the edge forwards
// writes to a group's leader this way), on the same connections as Raft.
func (m *Mux) HandleApp(h AppHandler) {
	m.mu.Lock()
	m.app = h
	m.mu.Unlock()
}

// Call sends an application request to the node at addr and returns its
// answer (timeout 0: Options.Timeout). An error the handler returned
// comes back as an *AppError.
func (m *Mux) Call(addr string, group uint32, body []byte, timeout time.Duration) ([]byte, error) {
	if timeout <= 0 {
		timeout = m.o.Timeout
	}
	p, err := m.peerFor(raft.ServerAddress(addr))
	if err != nil {
		return nil, err
	}
	ans, _, err := p.call(kindApp, group, body, timeout, false)
	return ans, err
}

// Close stops listening, closes every connection and fails calls in
// flight.
func (m *Mux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	close(m.quit)
	err := m.ln.Close()
	for c := range m.inbound {
		c.Close()
	}
	peers := m.peerListLocked()
	m.mu.Unlock()
	for _, p := range peers {
		p.close(ErrClosed)
	}
	m.wg.Wait()
	return err
}

// peerListLocked returns the peers. Caller holds m.mu.
func (m *Mux) peerListLocked() []*peer {
	peers := make([]*peer, 0, len(m.peers))
	for _, p := range m.peers {
		peers = append(peers, p)
	}
	return peers
}

// accept serves inbound connections.
func (m *Mux) accept() {
	defer m.wg.Done()
	for {
		c, err := m.ln.Accept()
		if err != nil {
			return
		}
		m.mu.Lock()
		if m.closed {
			m.mu.Unlock()
			c.Close()
			return
		}
		m.inbound[c] = struct{}{}
		m.wg.Add(1)
		m.mu.Unlock()
		go m.serve(c)
	}
}

// serve reads requests from one inbound connection and answers them.
func (m *Mux) serve(c net.Conn) {
	defer m.wg.Done()
	var handlers sync.WaitGroup
	defer func() {
		c.Close()
		handlers.Wait()
		m.mu.Lock()
		delete(m.inbound, c)
		m.mu.Unlock()
	}()
	br := bufio.NewReaderSize(c, 64<<10)
	from, ok := m.acceptConn(c, br) // the handshake, within Options.Timeout (auth.go)
	if !ok {
		return
	}
	w := newFrameWriter(c, &m.o) // answers are written by the handlers
	defer w.stop()               // runs first: the connection is done
	for {
		f, err := readFrame(br, m.o.MaxFrame)
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				m.o.Logger.Debug("raftmux: inbound connection", "remote", c.RemoteAddr(), "err", err)
			}
			if from != "" {
				m.checkPeer(from) // the peer may have died: see peerdown.go
			}
			return
		}
		if m.isolated.Load() {
			continue // a partition: the request never arrived
		}
		handlers.Go(func() {
			var heartbeat bool
			ans := m.handleHB(f, &heartbeat)
			if heartbeat {
				_ = w.sendLazy(f.kind|kindAnswer, f.group, f.id, ans)
			} else {
				_ = w.send(f.kind|kindAnswer, f.group, f.id, ans) // on error, the connection is closed
			}
		})
	}
}
