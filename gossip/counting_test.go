package gossip

import (
	"net"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// lateTransport is a memberlist.Transport whose Shutdown, like
// memberlist's NetTransport, waits for its listener, which is handing one
// last packet and one last connection to its unbuffered channels.
type lateTransport struct {
	packets chan *memberlist.Packet
	streams chan net.Conn
}

func (l *lateTransport) FinalAdvertiseAddr(string, int) (net.IP, int, error) {
	return net.IPv4(127, 0, 0, 1), 1, nil
}
func (l *lateTransport) WriteTo([]byte, string) (time.Time, error) { return time.Now(), nil }
func (l *lateTransport) PacketCh() <-chan *memberlist.Packet       { return l.packets }
func (l *lateTransport) DialTimeout(string, time.Duration) (net.Conn, error) {
	return nil, net.ErrClosed
}
func (l *lateTransport) StreamCh() <-chan net.Conn { return l.streams }

func (l *lateTransport) Shutdown() error {
	a, b := net.Pipe()
	defer b.Close()
	l.packets <- &memberlist.Packet{Buf: []byte("late")}
	l.streams <- a
	return nil
}

// TestCountingShutdownDrainsLateArrivals: a packet or connection that
// reaches the wrapped transport while it shuts down (nobody reads the
// wrapper any more) is drained and dropped, and Shutdown returns; it used
// to hang forever (the relays had stopped first).
func TestCountingShutdownDrainsLateArrivals(t *testing.T) {
	c := newCountingTransport(&lateTransport{packets: make(chan *memberlist.Packet), streams: make(chan net.Conn)})
	done := make(chan error, 1)
	go func() { done <- c.Shutdown() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown hung on a packet arriving during shutdown")
	}
	if _, in := c.bytes(); in != 4 {
		t.Fatalf("received bytes %d, want the late packet's 4 counted", in)
	}
}
