package nodelink

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// TestSendAndRequest: two nodes with the region secret link up once (the
// lower id dials), frames flow both ways, and a request gets its reply.
func TestSendAndRequest(t *testing.T) {
	a, b := newNode(t, "a", testSecret), newNode(t, "b", testSecret)
	connect(a, b)
	waitEvent(t, a.ups, "b")
	waitEvent(t, b.ups, "a")
	for _, n := range []*testNode{a, b} {
		other := "b"
		if n == b {
			other = "a"
		}
		if err := n.Send(other, Live, &pb.RoomComments{Room: "r:" + n.NodeID()}); err != nil {
			t.Fatal(err)
		}
	}
	if got := (<-b.comments).GetRoom(); got != "r:a" {
		t.Fatal(got)
	}
	if got := (<-a.comments).GetRoom(); got != "r:b" {
		t.Fatal(got)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Ping(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	b.Handle(transport.TypeRoomInterest, func(from string, m proto.Message) (proto.Message, error) {
		return nil, errors.New("refused by " + from)
	})
	_, err := a.Request(ctx, "b", &pb.RoomInterest{})
	var re *RemoteError
	if !errors.As(err, &re) || re.Peer != "b" || re.Message != "refused by a" {
		t.Fatalf("a failing handler: %v", err)
	}
	if st := a.Stats(); st.PeersUp != 1 || st.DialFailures != 0 || st.AuthFailures != 0 {
		t.Fatalf("%+v", st)
	}
	if st := b.Stats(); st.PeersUp != 1 || st.Refused != 0 {
		t.Fatalf("%+v", st)
	}
}

// TestWrongKey: a node with another secret never links: the dialer finds
// the acceptor's MAC wrong (an auth failure), the acceptor counts a refusal.
func TestWrongKey(t *testing.T) {
	a, b := newNode(t, "a", testSecret), newNode(t, "b", otherSecret)
	connect(a, b)
	waitFor(t, "auth failures and refusals", func() bool {
		return a.Stats().AuthFailures >= 2 && b.Stats().Refused >= 2
	})
	if a.Stats().PeersUp != 0 || b.Stats().PeersUp != 0 || len(a.ups)+len(b.ups) != 0 {
		t.Fatal("a link came up with different secrets")
	}
	if err := a.Send("b", Control, &pb.RoomInterest{}); !errors.Is(err, ErrNotConnected) {
		t.Fatal(err)
	}
}

// TestInsecureAndSecureRefuse: a node without a secret and one with it
// do not link.
func TestInsecureAndSecureRefuse(t *testing.T) {
	a, b := newNode(t, "a", nil), newNode(t, "b", testSecret)
	connect(a, b)
	waitFor(t, "refusals", func() bool { return b.Stats().Refused >= 2 })
	if b.Stats().PeersUp != 0 {
		t.Fatal("linked")
	}
}

// TestReconnect: when the peer restarts on the same address, the dialer
// links again (after its backoff) and OnPeerUp fires again.
func TestReconnect(t *testing.T) {
	a, b := newNode(t, "a", testSecret), newNode(t, "b", testSecret)
	connect(a, b)
	waitEvent(t, a.ups, "b")
	addr := b.Addr()
	b.Close()
	waitEvent(t, a.downs, "b")
	if _, err := a.Ping(context.Background(), "b"); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("ping while down: %v", err)
	}
	waitFor(t, "a failed dial", func() bool { return a.Stats().DialFailures > 0 })
	b2 := newNode(t, "b", testSecret, func(c *Config) { c.Listen = addr })
	b2.SetPeer("a", a.Addr())
	waitEvent(t, a.ups, "b")
	waitEvent(t, b2.ups, "a")
	if err := a.Send("b", Live, &pb.RoomComments{Room: "again"}); err != nil {
		t.Fatal(err)
	}
	if got := (<-b2.comments).GetRoom(); got != "again" {
		t.Fatal(got)
	}
}

// TestRemovePeer: removing a peer closes its link and stops dialing it.
func TestRemovePeer(t *testing.T) {
	a, b := newNode(t, "a", testSecret), newNode(t, "b", testSecret)
	connect(a, b)
	waitEvent(t, a.ups, "b")
	a.RemovePeer("b")
	waitEvent(t, a.downs, "b")
	waitEvent(t, b.downs, "a")
	if len(a.Peers()) != 0 {
		t.Fatal(a.Peers())
	}
}

// TestLiveQueueDropsOldest: with the writer stuck (the peer reads
// nothing), live frames beyond QueueFrames push out the oldest and are
// counted, while control frames are kept.
func TestLiveQueueDropsOldest(t *testing.T) {
	a := newNode(t, "a", nil, func(c *Config) { c.QueueFrames = 4 })
	// A raw peer "b" that never reads: the dial succeeds (insecure), then
	// the writer blocks once the socket buffers are full.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	a.SetPeer("b", ln.Addr().String())
	waitEvent(t, a.ups, "b")
	c := <-accepted
	defer c.Close()
	big := &pb.RoomComments{Room: "r", Messages: []*pb.Message{{Body: make([]byte, 60<<10)}}}
	for range 200 {
		if err := a.Send("b", Live, big); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "drops", func() bool { return a.Stats().Dropped > 0 })
	cn := a.peer("b").current()
	cn.mu.Lock()
	queued := len(cn.live)
	cn.mu.Unlock()
	if queued > 4 {
		t.Fatalf("%d live frames queued, bound 4", queued)
	}
	if err := a.Send("b", Control, &pb.RoomInterest{Snapshot: true}); err != nil {
		t.Fatalf("a control frame refused: %v", err)
	}
}

// TestBadInputClosesLink: a peer sending a malformed, an oversized or an
// unknown frame loses its link, counted with the reason; nothing panics.
func TestBadInputClosesLink(t *testing.T) {
	valid, _ := transport.Encode(nil, &pb.RoomComments{Room: "r"}, nil)
	client, _ := transport.Encode(nil, &pb.Ping{}, nil)
	huge := append([]byte(nil), valid...)
	huge[4], huge[5] = 0x7f, 0xff // length far above MaxFrameBytes
	bad := append([]byte(nil), valid...)
	bad[0] = 9 // version
	garbage, _ := transport.AppendFrame(nil, transport.TypeRoomComments, nil, []byte{0xff, 0xff, 0xff}, nil)
	for _, c := range []struct {
		name, reason string
		frame        []byte
	}{
		{"oversized", "too_large", huge},
		{"client type", "unknown_type", client},
		{"bad version", "malformed", bad},
		{"bad payload", "bad_payload", garbage},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := newNode(t, "b", nil, func(cfg *Config) { cfg.MaxFrameBytes = 1 << 20 })
			conn, err := net.Dial("tcp", b.Addr())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			msg := append(appendPreamble(nil, "a", "b", nil), valid...)
			if _, err := conn.Write(append(msg, c.frame...)); err != nil {
				t.Fatal(err)
			}
			if got := (<-b.comments).GetRoom(); got != "r" {
				t.Fatal(got)
			}
			waitEvent(t, b.downs, "a")
			if st := b.Stats(); st.BadInput != 1 {
				t.Fatalf("%+v", st)
			}
			if n := counterValue(t, b.m.badReasons.WithLabelValues(c.reason)); n != 1 {
				t.Fatalf("reason %s counted %v times", c.reason, n)
			}
		})
	}
}
