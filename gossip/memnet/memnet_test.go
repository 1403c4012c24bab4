package memnet

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

func recvPacket(t *testing.T, tr *Transport, d time.Duration) (*memberlist.Packet, bool) {
	t.Helper()
	select {
	case p := <-tr.PacketCh():
		return p, true
	case <-time.After(d):
		return nil, false
	}
}

func TestPacketsAndPartition(t *testing.T) {
	n := New(1)
	a, b, c := n.NewTransport("a"), n.NewTransport("b"), n.NewTransport("c")
	if _, err := a.WriteTo([]byte("hi"), b.Addr()); err != nil {
		t.Fatal(err)
	}
	p, ok := recvPacket(t, b, time.Second)
	if !ok || string(p.Buf) != "hi" || p.From.String() != a.Addr() {
		t.Fatalf("b got %+v", p)
	}

	n.Partition([]string{"a"})
	if _, err := a.WriteToAddress([]byte("x"), memberlist.Address{Addr: b.Addr(), Name: "b"}); err != nil {
		t.Fatalf("a packet across a partition must be lost silently, got %v", err)
	}
	if _, err := a.DialTimeout(c.Addr(), time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("dial across partition: %v", err)
	}
	// b and c, on the same side, still talk.
	if _, err := b.WriteTo([]byte("bc"), c.Addr()); err != nil {
		t.Fatal(err)
	}
	if p, ok := recvPacket(t, c, time.Second); !ok || string(p.Buf) != "bc" {
		t.Fatal("same-side packet lost")
	}
	if _, ok := recvPacket(t, b, 50*time.Millisecond); ok {
		t.Fatal("packet crossed the partition")
	}
	if st := n.Stats(); st.Partitioned != 1 {
		t.Fatalf("stats %+v", st)
	}

	n.Heal()
	conn, err := a.DialTimeout(c.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial after heal: %v", err)
	}
	defer func() { _ = conn.Close() }()
	var peer io.ReadWriteCloser
	select {
	case peer = <-c.StreamCh():
	case <-time.After(time.Second):
		t.Fatal("stream not accepted")
	}
	defer func() { _ = peer.Close() }()
	go func() { _, _ = conn.Write([]byte("stream")) }()
	buf := make([]byte, 6)
	if _, err := io.ReadFull(peer, buf); err != nil || string(buf) != "stream" {
		t.Fatalf("stream read %q %v", buf, err)
	}
}

func TestLossIsSeededAndProportional(t *testing.T) {
	run := func() uint64 {
		n := New(42)
		a, b := n.NewTransport("a"), n.NewTransport("b")
		n.SetLink("a", "b", Link{Drop: 0.3})
		for range 1000 {
			_, _ = a.WriteTo([]byte{1}, b.Addr())
			select {
			case <-b.PacketCh():
			default:
			}
		}
		return n.Stats().Lost
	}
	l1, l2 := run(), run()
	if l1 != l2 {
		t.Fatalf("same seed, same sends: lost %d then %d", l1, l2)
	}
	if l1 < 230 || l1 > 370 {
		t.Fatalf("lost %d of 1000 at p=0.3", l1)
	}
}

func TestDelayAndOverflow(t *testing.T) {
	n := New(1)
	a, b := n.NewTransport("a"), n.NewTransport("b")
	n.SetDefaultLink(Link{Delay: 40 * time.Millisecond})
	sent := time.Now()
	_, _ = a.WriteTo([]byte("late"), b.Addr())
	p, ok := recvPacket(t, b, time.Second)
	if !ok {
		t.Fatal("delayed packet lost")
	}
	if got := p.Timestamp.Sub(sent); got < 40*time.Millisecond {
		t.Fatalf("delivered after %v, want >= 40ms", got)
	}

	n.SetDefaultLink(Link{})
	for range packetQueue + 10 {
		_, _ = a.WriteTo([]byte{1}, b.Addr())
	}
	if st := n.Stats(); st.Overflow != 10 {
		t.Fatalf("overflow %d, want 10 (%+v)", st.Overflow, st)
	}
}

func TestShutdown(t *testing.T) {
	n := New(1)
	a, b := n.NewTransport("a"), n.NewTransport("b")
	if _, err := a.DialTimeout(b.Addr(), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := b.Shutdown(); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	if _, err := a.WriteTo([]byte{1}, b.Addr()); err != nil {
		t.Fatalf("write to a dead node must be silent: %v", err)
	}
	if _, err := a.DialTimeout(b.Addr(), time.Second); !errors.Is(err, ErrUnreachable) {
		t.Fatalf("dial to a dead node: %v", err)
	}
	if _, err := b.WriteTo([]byte{1}, a.Addr()); err == nil {
		t.Fatal("write from a shut down transport succeeded")
	}
	// The name can be reused once its transport is shut down (a restart).
	if r := n.NewTransport("b"); r.Addr() == b.Addr() {
		t.Fatal("restarted node reuses the old address")
	}
	if st := n.Stats(); st.Unroutable != 1 {
		t.Fatalf("stats %+v", st)
	}
}
