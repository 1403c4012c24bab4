package gossip

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// countingTransport wraps the memberlist transport and counts the bytes of
// every gossip packet (UDP) and stream (TCP push/pull, joins) in each
// direction: Cluster.Stats reports them and edge exports them as
// edgegate_gossip_bytes_total{dir}. Counting at the transport sees exactly
// what goes on the wire (after memberlist's compression and encryption),
// without memberlist's global metrics sink.
//
// Received packets and accepted streams pass through one relay goroutine
// each. Shutdown first stops forwarding (quit), but the relays keep
// draining the wrapped transport, dropping what arrives, until it has shut
// down (stopped): memberlist's NetTransport hands packets and connections
// to unbuffered channels and waits for its listeners on shutdown, so a
// packet arriving while nobody drains would hang Shutdown forever (seen:
// TestLoopbackThreeNodes and an edge's drain under load).
type countingTransport struct {
	inner memberlist.NodeAwareTransport

	packetsOut, packetsIn atomic.Uint64 // bytes
	streamOut, streamIn   atomic.Uint64 // bytes

	packetCh chan *memberlist.Packet
	streamCh chan net.Conn
	quit     chan struct{} // stop forwarding: Shutdown began
	stopped  chan struct{} // the wrapped transport has shut down
	wg       sync.WaitGroup
	once     sync.Once
	err      error // of the first Shutdown
}

// shimTransport makes a plain Transport node-aware, as memberlist does.
type shimTransport struct{ memberlist.Transport }

func (s shimTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	return s.WriteTo(b, a.Addr)
}

func (s shimTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	return s.DialTimeout(a.Addr, d)
}

func newCountingTransport(t memberlist.Transport) *countingTransport {
	na, ok := t.(memberlist.NodeAwareTransport)
	if !ok {
		na = shimTransport{t}
	}
	c := &countingTransport{inner: na, packetCh: make(chan *memberlist.Packet), streamCh: make(chan net.Conn),
		quit: make(chan struct{}), stopped: make(chan struct{})}
	c.wg.Add(2)
	go c.relayPackets()
	go c.relayStreams()
	return c
}

func (c *countingTransport) relayPackets() {
	defer c.wg.Done()
	in := c.inner.PacketCh()
	for {
		select {
		case p := <-in:
			c.packetsIn.Add(uint64(len(p.Buf)))
			select {
			case c.packetCh <- p:
			case <-c.quit: // shutting down: dropped
			}
		case <-c.stopped:
			return
		}
	}
}

func (c *countingTransport) relayStreams() {
	defer c.wg.Done()
	in := c.inner.StreamCh()
	for {
		select {
		case conn := <-in:
			select {
			case c.streamCh <- &countingConn{Conn: conn, t: c}:
			case <-c.quit: // shutting down: refused
				conn.Close()
			}
		case <-c.stopped:
			return
		}
	}
}

// FinalAdvertiseAddr implements memberlist.Transport.
func (c *countingTransport) FinalAdvertiseAddr(ip string, port int) (net.IP, int, error) {
	return c.inner.FinalAdvertiseAddr(ip, port)
}

// WriteTo implements memberlist.Transport.
func (c *countingTransport) WriteTo(b []byte, addr string) (time.Time, error) {
	t, err := c.inner.WriteTo(b, addr)
	if err == nil {
		c.packetsOut.Add(uint64(len(b)))
	}
	return t, err
}

// WriteToAddress implements memberlist.NodeAwareTransport.
func (c *countingTransport) WriteToAddress(b []byte, a memberlist.Address) (time.Time, error) {
	t, err := c.inner.WriteToAddress(b, a)
	if err == nil {
		c.packetsOut.Add(uint64(len(b)))
	}
	return t, err
}

// PacketCh implements memberlist.Transport.
func (c *countingTransport) PacketCh() <-chan *memberlist.Packet { return c.packetCh }

// DialTimeout implements memberlist.Transport.
func (c *countingTransport) DialTimeout(addr string, d time.Duration) (net.Conn, error) {
	conn, err := c.inner.DialTimeout(addr, d)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, t: c}, nil
}

// DialAddressTimeout implements memberlist.NodeAwareTransport.
func (c *countingTransport) DialAddressTimeout(a memberlist.Address, d time.Duration) (net.Conn, error) {
	conn, err := c.inner.DialAddressTimeout(a, d)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, t: c}, nil
}

// StreamCh implements memberlist.Transport.
func (c *countingTransport) StreamCh() <-chan net.Conn { return c.streamCh }

// Shutdown stops the relays and shuts the wrapped transport down.
// Only the first call does anything.
func (c *countingTransport) Shutdown() error {
	c.once.Do(func() {
		close(c.quit)
		c.err = c.inner.Shutdown() // the relays drain it meanwhile
		close(c.stopped)
		c.wg.Wait()
	})
	return c.err
}

// bytes returns the counts (packets and streams) sent and received.
func (c *countingTransport) bytes() (sent, received uint64) {
	return c.packetsOut.Load() + c.streamOut.Load(), c.packetsIn.Load() + c.streamIn.Load()
}

// countingConn counts a stream's bytes into its transport.
type countingConn struct {
	net.Conn
	t *countingTransport
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.t.streamIn.Add(uint64(n))
	return n, err
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.t.streamOut.Add(uint64(n))
	return n, err
}

// newNetTransport builds memberlist's UDP/TCP transport as memberlist.Create
// would (retrying a few times for port 0, whose UDP and TCP binds can race
// with other processes), so that it can be wrapped.
func newNetTransport(mc *memberlist.Config) (*memberlist.NetTransport, error) {
	nc := &memberlist.NetTransportConfig{BindAddrs: []string{mc.BindAddr}, BindPort: mc.BindPort, Logger: mc.Logger}
	tries := 1
	if mc.BindPort == 0 {
		tries = 10
	}
	var err error
	for range tries {
		var nt *memberlist.NetTransport
		if nt, err = memberlist.NewNetTransport(nc); err == nil {
			if mc.BindPort == 0 {
				mc.BindPort = nt.GetAutoBindPort()
				if mc.AdvertiseAddr == "" {
					mc.AdvertisePort = mc.BindPort
				}
			}
			return nt, nil
		}
	}
	return nil, fmt.Errorf("gossip: listen on %s:%d: %w", mc.BindAddr, mc.BindPort, err)
}
