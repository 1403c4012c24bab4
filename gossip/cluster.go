package gossip

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Cluster is this node's membership in the gossip cluster: a wrapper around
// one memberlist instance that advertises this node's Meta, keeps a view of
// the other members and publishes membership events.
//
// Lock order: updateMu, then (inside memberlist's callbacks, under its node
// lock) viewMu or subsMu, never both at once. No method holds viewMu or
// subsMu while calling memberlist.
type Cluster struct {
	cfg Config
	log *slog.Logger
	ml  *memberlist.Memberlist

	updateMu sync.Mutex // serialises UpdateMeta; guards meta
	meta     Meta
	metaBuf  atomic.Pointer[[]byte] // encoded meta served to memberlist

	viewMu    sync.Mutex
	view      map[string]viewEntry // every member seen, by ID
	retention time.Duration        // how long dead and left members stay in view

	subsMu     sync.Mutex
	subs       map[*Subscription]struct{}
	subsClosed bool

	transport *countingTransport // counts gossip bytes

	metaErrors    atomic.Uint64
	eventsDropped atomic.Uint64

	quit    chan struct{}  // closed by Shutdown
	leaving atomic.Bool    // set by Leave; stops reconnect attempts
	wg      sync.WaitGroup // the reconnect goroutine

	shutdownMu sync.Mutex // guards ml.Leave against ml.Shutdown
	closed     bool       // guarded by shutdownMu
	closeErr   error
}

type viewEntry struct {
	m     Member
	since time.Time
}

// Stats are counters of a Cluster.
type Stats struct {
	// MetaDecodeErrors counts metadata from other nodes that did not decode
	// (the member is kept with MetaOK false).
	MetaDecodeErrors uint64
	// EventsDropped counts events dropped over all subscriptions because a
	// subscriber's buffer was full.
	EventsDropped uint64
	// BytesSent and BytesReceived count gossip bytes on the wire (UDP
	// packets and TCP streams, after compression and encryption) since
	// New. Presence and room traffic never goes through gossip, so these
	// do not grow with users (bench/README.md has the figures).
	BytesSent, BytesReceived uint64
}

// New starts a node: it validates cfg, starts memberlist (binding the gossip
// port unless cfg.Transport is set) and, if cfg.Join lists seeds, joins them.
// It fails if no seed answers; the node is then shut down.
func New(cfg Config) (*Cluster, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	mc, err := cfg.memberlistConfig()
	if err != nil {
		return nil, err
	}
	if cfg.UpdateWait == 0 {
		cfg.UpdateWait = DefaultUpdateWait
	}
	if cfg.ReconnectInterval == 0 {
		cfg.ReconnectInterval = DefaultReconnectInterval
	}
	if cfg.ReconnectTimeout == 0 {
		cfg.ReconnectTimeout = DefaultReconnectTimeout
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("component", "gossip", "node", cfg.NodeID)
	c := &Cluster{
		cfg:       cfg,
		log:       logger,
		view:      make(map[string]viewEntry),
		retention: mc.GossipToTheDeadTime,
		subs:      make(map[*Subscription]struct{}),
		quit:      make(chan struct{}),
	}
	c.meta = cfg.Meta
	c.meta.NodeID = cfg.NodeID
	buf, err := c.meta.MarshalBinary()
	if err != nil {
		return nil, err // cannot happen after Validate
	}
	c.metaBuf.Store(&buf)

	mc.Logger = newMemberlistLogger(logger)
	mc.Delegate = metaDelegate{c}
	mc.Events = eventDelegate{c}
	base := mc.Transport
	if base == nil {
		nt, err := newNetTransport(mc)
		if err != nil {
			return nil, err
		}
		base = nt
	}
	c.transport = newCountingTransport(base)
	mc.Transport = c.transport
	ml, err := memberlist.Create(mc)
	if err != nil {
		_ = c.transport.Shutdown()
		return nil, fmt.Errorf("gossip: start memberlist: %w", err)
	}
	c.ml = ml
	if cfg.ReconnectInterval > 0 {
		c.wg.Add(1)
		go c.reconnectLoop(cfg.ReconnectInterval)
	}
	if len(cfg.Join) > 0 {
		if _, err := c.Join(cfg.Join); err != nil {
			_ = c.Shutdown()
			return nil, err
		}
	}
	return c, nil
}

// Join contacts the given seeds (host:port) and merges their state. It
// returns how many answered; it fails only if none did. A node that was cut
// off long enough for the others to forget it can call Join again.
func (c *Cluster) Join(seeds []string) (int, error) {
	c.shutdownMu.Lock()
	defer c.shutdownMu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	n, err := c.ml.Join(seeds)
	if n == 0 && err != nil {
		return 0, fmt.Errorf("gossip: join %s: %w", strings.Join(seeds, ","), err)
	}
	if err != nil {
		c.log.Warn("some seeds did not answer", "joined", n, "err", err)
	}
	return n, nil
}

// LocalID returns this node's NodeID.
func (c *Cluster) LocalID() string { return c.cfg.NodeID }

// LocalAddr returns the gossip address (host:port) other nodes reach this
// node at; with BindAddr port 0 it carries the port actually bound.
func (c *Cluster) LocalAddr() string { return c.ml.LocalNode().Address() }

// LocalMeta returns this node's current metadata.
func (c *Cluster) LocalMeta() Meta {
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	return c.meta
}

// UpdateMeta applies fn to a copy of this node's metadata and advertises the
// result (NodeID is kept). If the result does not encode (ErrInvalidMeta,
// ErrMetaTooLarge) nothing changes and the error is returned. It waits up to
// Config.UpdateWait for the update to be handed to a peer; past that the
// update still spreads by gossip and push/pull, and UpdateMeta returns nil.
func (c *Cluster) UpdateMeta(fn func(*Meta)) error {
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	m := c.meta
	fn(&m)
	m.NodeID = c.cfg.NodeID
	m.Leaving = c.meta.Leaving
	buf, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	c.shutdownMu.Lock()
	defer c.shutdownMu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.meta = m
	c.metaBuf.Store(&buf)
	if err := c.ml.UpdateNode(c.cfg.UpdateWait); err != nil {
		c.log.Debug("metadata update not yet sent to a peer; gossip will carry it", "err", err)
	}
	return nil
}

// Members returns every member this node knows, itself included, sorted by
// ID: the alive ones, and the dead or left ones for a while after they went
// (dead ones for Config.ReconnectTimeout, left ones for the preset's
// GossipToTheDeadTime), so a caller can tell a crash from a departure.
func (c *Cluster) Members() []Member {
	now := time.Now()
	c.viewMu.Lock()
	out := make([]Member, 0, len(c.view))
	for id, e := range c.view {
		keep := c.retention
		if e.m.State == StateDead {
			keep = c.cfg.ReconnectTimeout
		}
		if e.m.State != StateAlive && now.Sub(e.since) > keep {
			delete(c.view, id)
			continue
		}
		out = append(out, e.m)
	}
	c.viewMu.Unlock()
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// Member returns the member with the given ID, if known.
func (c *Cluster) Member(id string) (Member, bool) {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	e, ok := c.view[id]
	return e.m, ok
}

// Alive returns the number of alive members, this node included.
func (c *Cluster) Alive() int {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	n := 0
	for _, e := range c.view {
		if e.m.State == StateAlive {
			n++
		}
	}
	return n
}

// Stats returns the cluster's counters.
func (c *Cluster) Stats() Stats {
	sent, recv := c.transport.bytes()
	return Stats{MetaDecodeErrors: c.metaErrors.Load(), EventsDropped: c.eventsDropped.Load(),
		BytesSent: sent, BytesReceived: recv}
}

// setMember records m in the view (called from memberlist callbacks).
func (c *Cluster) setMember(m Member) {
	c.viewMu.Lock()
	defer c.viewMu.Unlock()
	c.view[m.ID] = viewEntry{m: m, since: time.Now()}
}

// Leave announces that this node is leaving and waits up to timeout for the
// announcement to spread; the others then see it as left, not dead. The node
// keeps gossiping until Shutdown, which should follow.
//
// It takes two steps. memberlist's own leave message cannot be told from a
// failure by observers (v0.7.0 does not report the state to its event
// delegate), so Leave first advertises Meta.Leaving and waits up to half the
// timeout for that update to be gossiped, then sends memberlist's leave and
// waits for the rest. An observer that missed the metadata update (it would
// have to miss every retransmission) reports the departure as dead.
func (c *Cluster) Leave(timeout time.Duration) error {
	c.updateMu.Lock()
	defer c.updateMu.Unlock()
	c.shutdownMu.Lock()
	defer c.shutdownMu.Unlock()
	if c.closed {
		return ErrClosed
	}
	start := time.Now()
	c.leaving.Store(true) // no more reconnect attempts
	if !c.meta.Leaving {
		m := c.meta
		m.Leaving = true
		buf, err := m.MarshalBinary()
		if err != nil {
			return err
		}
		c.meta = m
		c.metaBuf.Store(&buf)
		if err := c.ml.UpdateNode(timeout / 2); err != nil {
			c.log.Debug("leaving flag not fully gossiped before leave", "err", err)
		}
	}
	if err := c.ml.Leave(max(timeout-time.Since(start), time.Millisecond)); err != nil {
		return fmt.Errorf("gossip: leave: %w", err)
	}
	return nil
}

// Shutdown stops gossiping and closes the transport and every subscription.
// Without a prior Leave the others see this node as failed (dead). It waits
// for the reconnect goroutine, which may be in a join attempt bounded by the
// preset's TCPTimeout. memberlist itself does not wait for a probe in
// flight: that goroutine ends on its own within the probe interval (scaled
// by memberlist's health awareness). It is idempotent and safe to call concurrently; later
// calls return the first call's result.
func (c *Cluster) Shutdown() error {
	c.shutdownMu.Lock()
	defer c.shutdownMu.Unlock()
	if c.closed {
		return c.closeErr
	}
	c.closed = true
	// Stop the reconnect loop first so it never joins through a memberlist
	// that is shut down (which could advertise this node after it stopped).
	close(c.quit)
	c.wg.Wait()
	if err := c.ml.Shutdown(); err != nil {
		c.closeErr = fmt.Errorf("gossip: shutdown: %w", err)
	}
	c.closeSubs()
	return c.closeErr
}

// Close is Shutdown, for io.Closer.
func (c *Cluster) Close() error { return c.Shutdown() }
