// Package memnet is an in-memory network for gossip tests: every Transport
// it makes implements memberlist.NodeAwareTransport, so a gossip.Cluster (or
// a bare memberlist) runs on it unchanged, and the test controls the links.
//
// Compared with memberlist.MockNetwork, which it is modelled on, it is safe
// for concurrent use, never blocks a sender (a full receive queue drops the
// packet, like a UDP socket buffer), lets a transport be shut down so its
// node looks crashed to the others, and adds:
//
//   - partitions: Partition(sides...) splits nodes into sides that cannot
//     exchange packets or open streams; Heal removes it;
//   - per-link packet loss and delay (SetLink, SetDefaultLink), drawn from a
//     seeded random source so a run is reproducible up to goroutine
//     scheduling.
//
// Streams (memberlist's TCP: push/pull, fallback pings) are net.Pipe pairs.
// They are reliable: loss applies to packets only; a link's delay is paid
// once when the stream is opened; a dial across a partition fails at once
// (like a refused connection rather than a SYN timeout, which keeps tests
// short). Streams already open when a partition starts are left alone; they
// are short-lived in memberlist.
package memnet

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Port is the port of every memnet address.
const Port = 7946

// Queue sizes of each transport. A packet arriving at a full queue is dropped.
const (
	packetQueue = 1024
	streamQueue = 64
)

// ErrUnreachable is returned when dialing an unknown, shut down or
// partitioned-away node.
var ErrUnreachable = errors.New("memnet: host unreachable")

// Link is the behaviour of a one-way link between two nodes.
type Link struct {
	// Drop is the probability (0 to 1) that a packet is lost.
	Drop float64
	// Delay is added to every packet, and once to every stream dial.
	Delay time.Duration
}

// Stats counts packets over the whole network.
type Stats struct {
	Sent        uint64 // packets written
	Delivered   uint64 // packets queued at their destination
	Lost        uint64 // dropped by a link's Drop
	Partitioned uint64 // dropped by a partition
	Overflow    uint64 // dropped at a full receive queue
	Unroutable  uint64 // sent to an unknown or shut down node
}

// Network connects the transports made by NewTransport. The zero value is
// not usable; call New.
type Network struct {
	mu     sync.Mutex
	rng    *rand.Rand
	byName map[string]*Transport
	byAddr map[string]*Transport
	side   map[string]int // partition side by node name; empty when healed
	links  map[[2]string]Link
	def    Link
	next   int

	sent, delivered, lost, partitioned, overflow, unroutable atomic.Uint64
}

// New returns an empty network whose loss decisions come from seed.
func New(seed uint64) *Network {
	return &Network{
		rng:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		byName: make(map[string]*Transport),
		byAddr: make(map[string]*Transport),
		side:   make(map[string]int),
		links:  make(map[[2]string]Link),
	}
}

// NewTransport adds a node named name (the gossip NodeID, used by Partition
// and SetLink) with a fresh address 10.a.b.c:7946. It panics if the name is
// taken by a transport that is not shut down.
func (n *Network) NewTransport(name string) *Transport {
	n.mu.Lock()
	defer n.mu.Unlock()
	if old, ok := n.byName[name]; ok && !old.isClosed() {
		panic("memnet: duplicate node name " + name)
	}
	n.next++
	i := n.next
	ip := net.IPv4(10, byte(i>>16), byte(i>>8), byte(i))
	t := &Transport{
		net:      n,
		self:     Addr{Name: name, Addr: net.JoinHostPort(ip.String(), strconv.Itoa(Port))},
		ip:       ip,
		packetCh: make(chan *memberlist.Packet, packetQueue),
		streamCh: make(chan net.Conn, streamQueue),
		done:     make(chan struct{}),
	}
	n.byName[name] = t
	n.byAddr[t.self.Addr] = t
	return t
}

// Partition splits the network: nodes named in different sides cannot
// reach each other; nodes named in no side form one more side together. It
// replaces any earlier partition.
func (n *Network) Partition(sides ...[]string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.side)
	for i, s := range sides {
		for _, name := range s {
			n.side[name] = i + 1
		}
	}
}

// Heal removes the partition.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.side)
}

// SetLink sets the behaviour of the one-way link from -> to (node names).
func (n *Network) SetLink(from, to string, l Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.links[[2]string{from, to}] = l
}

// SetDefaultLink sets the behaviour of every link without its own SetLink.
func (n *Network) SetDefaultLink(l Link) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.def = l
}

// Stats returns the packet counters.
func (n *Network) Stats() Stats {
	return Stats{
		Sent: n.sent.Load(), Delivered: n.delivered.Load(), Lost: n.lost.Load(),
		Partitioned: n.partitioned.Load(), Overflow: n.overflow.Load(), Unroutable: n.unroutable.Load(),
	}
}

// verdict says what happens to a packet or a dial.
type verdict int

const (
	pass verdict = iota
	unroutable
	partitioned
	lost
)

// route looks up the destination of a packet or dial and decides its fate.
func (n *Network) route(from string, to memberlist.Address, packet bool) (*Transport, time.Duration, verdict) {
	n.mu.Lock()
	defer n.mu.Unlock()
	var dst *Transport
	if to.Name != "" {
		dst = n.byName[to.Name]
	}
	if dst == nil {
		dst = n.byAddr[to.Addr]
	}
	if dst == nil || dst.isClosed() {
		return nil, 0, unroutable
	}
	if n.side[from] != n.side[dst.self.Name] {
		return nil, 0, partitioned
	}
	l, ok := n.links[[2]string{from, dst.self.Name}]
	if !ok {
		l = n.def
	}
	if packet && l.Drop > 0 && n.rng.Float64() < l.Drop {
		return nil, 0, lost
	}
	return dst, l.Delay, pass
}

// Addr is a memnet address; it implements net.Addr.
type Addr struct {
	Name string // node name
	Addr string // host:port
}

// Network returns "memnet".
func (a Addr) Network() string { return "memnet" }

// String returns host:port.
func (a Addr) String() string { return a.Addr }

// Transport is one node's attachment to a Network. It implements
// memberlist.NodeAwareTransport.
type Transport struct {
	net      *Network
	self     Addr
	ip       net.IP
	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	done     chan struct{}
	once     sync.Once
}

var _ memberlist.NodeAwareTransport = (*Transport)(nil)

// Addr returns the transport's host:port.
func (t *Transport) Addr() string { return t.self.Addr }

// Name returns the node name the transport was made for.
func (t *Transport) Name() string { return t.self.Name }

func (t *Transport) isClosed() bool {
	select {
	case <-t.done:
		return true
	default:
		return false
	}
}

// FinalAdvertiseAddr returns the transport's own address; the arguments
// are ignored.
func (t *Transport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return t.ip, Port, nil
}

// WriteTo sends a packet to addr (host:port).
func (t *Transport) WriteTo(b []byte, addr string) (time.Time, error) {
	return t.WriteToAddress(b, memberlist.Address{Addr: addr})
}

// WriteToAddress sends a packet. Like UDP it reports no error for a packet
// that is lost, partitioned away or sent to a node that is gone.
func (t *Transport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	now := time.Now()
	if t.isClosed() {
		return now, net.ErrClosed
	}
	n := t.net
	n.sent.Add(1)
	dst, delay, v := n.route(t.self.Name, a, true)
	switch v {
	case unroutable:
		n.unroutable.Add(1)
		return now, nil
	case partitioned:
		n.partitioned.Add(1)
		return now, nil
	case lost:
		n.lost.Add(1)
		return now, nil
	}
	p := &memberlist.Packet{Buf: append([]byte(nil), b...), From: t.self}
	if delay <= 0 {
		dst.deliver(p)
	} else {
		time.AfterFunc(delay, func() { dst.deliver(p) })
	}
	return now, nil
}

// deliver queues a packet without blocking.
func (t *Transport) deliver(p *memberlist.Packet) {
	if t.isClosed() {
		t.net.unroutable.Add(1)
		return
	}
	p.Timestamp = time.Now()
	select {
	case t.packetCh <- p:
		t.net.delivered.Add(1)
	default:
		t.net.overflow.Add(1)
	}
}

// PacketCh returns the channel of received packets.
func (t *Transport) PacketCh() <-chan *memberlist.Packet { return t.packetCh }

// DialTimeout opens a stream to addr (host:port).
func (t *Transport) DialTimeout(addr string, timeout time.Duration) (net.Conn, error) {
	return t.DialAddressTimeout(memberlist.Address{Addr: addr}, timeout)
}

// DialAddressTimeout opens a stream: a net.Pipe whose other end is queued
// on the destination's StreamCh. It fails at once with ErrUnreachable across
// a partition or to a node that is gone.
func (t *Transport) DialAddressTimeout(a memberlist.Address, timeout time.Duration) (net.Conn, error) {
	if t.isClosed() {
		return nil, net.ErrClosed
	}
	dst, delay, v := t.net.route(t.self.Name, a, false)
	if v != pass {
		return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrUnreachable)
	}
	var expire <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(timeout)
		defer tm.Stop()
		expire = tm.C
	}
	if delay > 0 {
		d := time.NewTimer(delay)
		defer d.Stop()
		select {
		case <-d.C:
		case <-expire:
			return nil, fmt.Errorf("dial %s: %w", a.Addr, errTimeout)
		case <-t.done:
			return nil, net.ErrClosed
		}
	}
	local, remote := net.Pipe()
	select {
	case dst.streamCh <- remote:
		return local, nil
	case <-dst.done:
	case <-t.done:
	case <-expire:
	}
	_ = local.Close()
	_ = remote.Close()
	return nil, fmt.Errorf("dial %s: %w", a.Addr, ErrUnreachable)
}

var errTimeout = errors.New("memnet: dial timeout")

// StreamCh returns the channel of accepted streams.
func (t *Transport) StreamCh() <-chan net.Conn { return t.streamCh }

// Shutdown detaches the transport: its node stops sending and receiving, so
// to the others it looks crashed. Streams queued but not accepted are
// closed. It is idempotent.
func (t *Transport) Shutdown() error {
	t.once.Do(func() {
		close(t.done)
		for {
			select {
			case c := <-t.streamCh:
				_ = c.Close()
			default:
				return
			}
		}
	})
	return nil
}
