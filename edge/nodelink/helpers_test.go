package nodelink

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

var (
	testSecret  = []byte("region-secret-0123456789abcdef-0123456789")
	otherSecret = []byte("another-secret-0123456789abcdef-012345678")
)

// testNode is a Link whose received room comments and peer events go to
// channels.
type testNode struct {
	*Link
	comments chan *pb.RoomComments
	ups      chan string
	downs    chan string
}

// newNode starts a Link for id on loopback (insecure without a secret)
// and closes it at the test's end.
func newNode(t *testing.T, id string, secret []byte, tweak ...func(*Config)) *testNode {
	t.Helper()
	n := &testNode{comments: make(chan *pb.RoomComments, 1024), ups: make(chan string, 16), downs: make(chan string, 16)}
	cfg := Config{NodeID: id, Listen: "127.0.0.1:0", Secret: secret, Insecure: secret == nil,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), nil)),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		OnPeerUp: func(p string) { n.ups <- p }, OnPeerDown: func(p string) { n.downs <- p }}
	for _, f := range tweak {
		f(&cfg)
	}
	l, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	n.Link = l
	l.Handle(transport.TypeRoomComments, func(_ string, m proto.Message) (proto.Message, error) {
		n.comments <- m.(*pb.RoomComments)
		return nil, nil
	})
	return n
}

// connect tells a and b about each other.
func connect(a, b *testNode) {
	a.SetPeer(b.NodeID(), b.Addr())
	b.SetPeer(a.NodeID(), a.Addr())
}

// waitEvent waits (5 s at most) for want on ch.
func waitEvent(t *testing.T, ch <-chan string, want string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-timeout:
			t.Fatalf("no event for %q", want)
		}
	}
}

// waitFor polls cond (5 s at most): for counters that have no event.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// quietLogger drops every log.
func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}
