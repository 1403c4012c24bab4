package edge

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// gatedConn is an in-memory transport.Conn whose writes block until the
// gate opens: a client that stopped reading.
type gatedConn struct {
	in     chan []byte
	gate   chan struct{}
	out    chan proto.Message
	closed chan struct{}
	once   sync.Once
}

func newGatedConn() *gatedConn {
	return &gatedConn{in: make(chan []byte, 16), gate: make(chan struct{}), out: make(chan proto.Message, 100000), closed: make(chan struct{})}
}

func (c *gatedConn) ReadFrame(ctx context.Context) ([]byte, error) {
	select {
	case b := <-c.in:
		return b, nil
	case <-c.closed:
		return nil, net.ErrClosed
	}
}

func (c *gatedConn) write(b []byte) error {
	select {
	case <-c.gate:
	case <-c.closed:
		return net.ErrClosed
	}
	_, m, err := transport.Decode(b, transport.Limits{})
	if err != nil {
		return err
	}
	c.out <- m
	return nil
}

func (c *gatedConn) WriteFrame(ctx context.Context, b []byte) error { return c.write(b) }
func (c *gatedConn) WriteShared(ctx context.Context, f *transport.SharedFrame) error {
	return c.write(f.Bytes())
}
func (c *gatedConn) Close(code transport.CloseCode, reason string) error {
	c.once.Do(func() { close(c.closed) })
	return nil
}
func (c *gatedConn) Stats() transport.Stats { return transport.Stats{} }
func (c *gatedConn) RemoteAddr() net.Addr   { return &net.TCPAddr{} }
func (c *gatedConn) Transport() string      { return "test" }

func (c *gatedConn) next(t *testing.T) proto.Message {
	t.Helper()
	select {
	case m := <-c.out:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no frame written")
		return nil
	}
}

// startGated runs a session over a gatedConn and returns it once connected.
func startGated(t *testing.T, e *testEdge, tok string) (*gatedConn, func()) {
	t.Helper()
	c := newGatedConn()
	connect, _ := transport.Encode(nil, &pb.Connect{Token: tok, DeviceId: "slow"}, nil)
	c.in <- connect
	if !e.srv.conns.TryAcquire() {
		t.Fatal("no connection slot")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if d := e.srv.serveConn(c, "gated"); d != nil {
			<-d
		}
	}()
	waitFor(t, func() bool {
		e.srv.mu.Lock()
		defer e.srv.mu.Unlock()
		return len(e.srv.sessions) == 1
	})
	return c, func() {
		c.Close(1000, "")
		<-done
	}
}

func TestSlowOrderedReaderLosesNothing(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.ConvQueue = 4 })
	conv := "dm:fast:slow"
	c, stop := startGated(t, e, e.token("slow", []string{conv}, nil, time.Hour))
	defer stop()
	const n = 300
	for i := 1; i <= n; i++ {
		if _, err := e.srv.appendOrdered(context.Background(), ordering.Request{Conv: conv, Sender: "fast", ClientMsgID: fmt.Sprint(i), Body: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if testutil.ToFloat64(e.srv.m.convOverflows) == 0 {
		t.Fatal("the per-conversation queue never overflowed; the test does not exercise the fallback")
	}
	close(c.gate)
	if _, ok := c.next(t).(*pb.Connected); !ok {
		t.Fatal("first frame is not Connected")
	}
	var got []*pb.Message
	for len(got) < n {
		if d, ok := c.next(t).(*pb.Deliver); ok {
			got = append(got, d.Messages...)
		}
	}
	checkSeqs(t, got, 1)
}

func TestSlowViewerDropsOldest(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.ViewerQueue = 3
		c.RoomBatchMax = 1 // one batch per comment, flushed at once
	})
	room := "live:slow"
	c, stop := startGated(t, e, e.token("viewer", nil, []string{room}, time.Hour))
	defer stop()
	sub, _ := transport.Encode(nil, &pb.Subscribe{RequestId: 1, Rooms: []string{room}}, nil)
	c.in <- sub
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == 1 })
	// Fast viewers reach the fan-out quorum (95%) without the slow one, so
	// the room does not wait for it: the slow viewer's ring overflows.
	const fast = 30
	for i := range fast {
		f := e.dialRaw(t)
		f.connect(e.token(fmt.Sprint("fast", i), nil, []string{room}, time.Hour), nil)
		f.send(&pb.Subscribe{RequestId: 1, Rooms: []string{room}})
	}
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == fast+1 })
	r := e.srv.rooms.get(room, false)
	const n = 20
	for i := 0; i < n; i++ {
		e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte(fmt.Sprint(i))})
		// Each comment is its own batch: wait for its fan-out's quorum.
		waitFor(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return len(r.pending) == 0 && (r.inflight == nil || r.inflight.reached())
		})
	}
	// The writer may hold one batch while blocked; the ring keeps 3.
	dropped := testutil.ToFloat64(e.srv.m.liveDropped)
	if dropped < n-3-2 {
		t.Fatalf("dropped %v batches, want at least %d", dropped, n-5)
	}
	close(c.gate)
	var bodies []string
	var reported uint64
	deadline := time.After(5 * time.Second)
	for len(bodies) < n-int(dropped) {
		select {
		case m := <-c.out:
			if d, ok := m.(*pb.Deliver); ok {
				reported += d.Dropped
				for _, msg := range d.Messages {
					bodies = append(bodies, string(msg.Body))
				}
			}
		case <-deadline:
			t.Fatalf("got %d comments, want %d", len(bodies), n-int(dropped))
		}
	}
	// The newest comment survives; the oldest are the ones dropped.
	if bodies[len(bodies)-1] != fmt.Sprint(n-1) {
		t.Fatalf("last comment %q, want %q", bodies[len(bodies)-1], fmt.Sprint(n-1))
	}
	if reported != uint64(dropped) {
		t.Fatalf("viewer told of %d drops, metric says %v", reported, dropped)
	}
}

// TestRoomBatchingAdaptsToSlowFanout checks that a room does not start a
// fan-out while the previous one is below its quorum: comments gather into
// one batch instead of multiplying frames, and nothing is dropped.
func TestRoomBatchingAdaptsToSlowFanout(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.RoomBatchWindow = time.Millisecond
		c.RoomBatchMax = 1
		c.RoomBatchMaxDelay = 10 * time.Second
	})
	room := "live:adaptive"
	c, stop := startGated(t, e, e.token("viewer", nil, []string{room}, time.Hour))
	defer stop()
	sub, _ := transport.Encode(nil, &pb.Subscribe{RequestId: 1, Rooms: []string{room}}, nil)
	c.in <- sub
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == 1 })
	const n = 50
	for i := 0; i < n; i++ {
		e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte(fmt.Sprint(i))})
	}
	if got := testutil.ToFloat64(e.srv.m.liveBatches); got != 1 {
		t.Fatalf("%v batches while the first fan-out is unwritten, want 1", got)
	}
	close(c.gate)
	var bodies []string
	deliveries := 0
	for len(bodies) < n {
		if d, ok := c.next(t).(*pb.Deliver); ok {
			deliveries++
			for _, m := range d.Messages {
				bodies = append(bodies, string(m.Body))
			}
		}
	}
	for i, b := range bodies {
		if b != fmt.Sprint(i) {
			t.Fatalf("comment %d is %q", i, b)
		}
	}
	if deliveries != 2 || testutil.ToFloat64(e.srv.m.liveDropped) != 0 {
		t.Fatalf("%d deliveries, %v dropped; want 2 and 0", deliveries, testutil.ToFloat64(e.srv.m.liveDropped))
	}
}

// TestRoomMaxDelayBoundsAStuckFanout checks that a fan-out that never
// reaches its quorum delays the next batch by RoomBatchMaxDelay only.
func TestRoomMaxDelayBoundsAStuckFanout(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.RoomBatchWindow = time.Millisecond
		c.RoomBatchMax = 1
		c.RoomBatchMaxDelay = 30 * time.Millisecond
	})
	room := "live:stuck"
	c, stop := startGated(t, e, e.token("viewer", nil, []string{room}, time.Hour))
	defer stop()
	sub, _ := transport.Encode(nil, &pb.Subscribe{RequestId: 1, Rooms: []string{room}}, nil)
	c.in <- sub
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == 1 })
	e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte("a")})
	e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte("b")})
	waitFor(t, func() bool { return testutil.ToFloat64(e.srv.m.liveBatches) == 2 })
	if got := testutil.ToFloat64(e.srv.m.liveFanoutTimeouts); got != 1 {
		t.Fatalf("fan-out timeouts %v, want 1", got)
	}
	close(c.gate)
}

func TestQuorumTrigger(t *testing.T) {
	for _, tc := range []struct {
		n    int
		q    float64
		want int64
	}{
		{1, 0.95, 0}, {10, 0.95, 0}, {20, 0.95, 1}, {10000, 0.95, 500}, {10, 1, 0}, {10, 0.5, 5}, {3, 0.01, 2},
	} {
		if got := quorumTrigger(tc.n, tc.q); got != tc.want {
			t.Errorf("quorumTrigger(%d, %v) = %d, want %d", tc.n, tc.q, got, tc.want)
		}
	}
}

// TestReplyQueuesBehindPendingWrites checks that an ack written from the
// read loop never overtakes control frames already queued or being written
// (here Connected and Subscribed, stuck behind a blocked connection), and
// that control frames go before queued live batches (by design: a room
// must not delay a sender's acks).
func TestReplyQueuesBehindPendingWrites(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.RoomBatchMax = 1 })
	room := "live:order"
	c, stop := startGated(t, e, e.token("viewer", nil, []string{room}, time.Hour))
	defer stop()
	sub, _ := transport.Encode(nil, &pb.Subscribe{RequestId: 1, Rooms: []string{room}}, nil)
	c.in <- sub
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == 1 })
	e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte("first")})
	send, _ := transport.Encode(nil, &pb.Send{ClientMsgId: "m1", Target: &pb.Send_Room{Room: room}, Body: []byte("second")}, nil)
	c.in <- send
	// The read loop handled the Send (and queued its ack) once the
	// comment is in the room's sequence.
	waitFor(t, func() bool { return testutil.ToFloat64(e.srv.m.liveComments) == 2 })
	close(c.gate)
	var order []string
	for len(order) < 4 {
		switch m := c.next(t).(type) {
		case *pb.Deliver:
			for _, msg := range m.Messages {
				order = append(order, string(msg.Body))
			}
		case *pb.Ack:
			order = append(order, "ack")
		case *pb.Connected, *pb.Subscribed:
			order = append(order, "hello")
		}
	}
	if got := strings.Join(order, ","); got != "hello,hello,ack,first" {
		t.Fatalf("frames in order %s, want hello,hello,ack,first", got)
	}
}

// TestStaleLiveBatchesAreDropped checks that a batch that waited longer
// than LiveMaxAge for a blocked viewer is dropped, counted and reported to
// the viewer instead of being shown late.
func TestStaleLiveBatchesAreDropped(t *testing.T) {
	const maxAge = 50 * time.Millisecond
	e := startEdge(t, func(c *Config) {
		c.LiveMaxAge = maxAge
		c.RoomBatchMax = 1
	})
	room := "live:stale"
	c, stop := startGated(t, e, e.token("viewer", nil, []string{room}, time.Hour))
	defer stop()
	sub, _ := transport.Encode(nil, &pb.Subscribe{RequestId: 1, Rooms: []string{room}}, nil)
	c.in <- sub
	waitFor(t, func() bool { return e.srv.rooms.viewerCount(room) == 1 })
	e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte("old")})
	// The writer is blocked on the gate; let the comment age past the
	// limit (the behaviour under test is defined by elapsed time).
	time.Sleep(2 * maxAge)
	close(c.gate)
	var dropped uint64
	for dropped == 0 {
		if d, ok := c.next(t).(*pb.Deliver); ok {
			if len(d.Messages) > 0 {
				t.Fatalf("stale comment %q delivered", d.Messages[0].Body)
			}
			dropped = d.Dropped
		}
	}
	if dropped != 1 || testutil.ToFloat64(e.srv.m.liveStale) != 1 || testutil.ToFloat64(e.srv.m.liveDropped) != 1 {
		t.Fatalf("viewer told %d, stale metric %v, dropped metric %v; want 1, 1, 1",
			dropped, testutil.ToFloat64(e.srv.m.liveStale), testutil.ToFloat64(e.srv.m.liveDropped))
	}
	e.srv.rooms.publish(room, &pb.Message{Room: room, Sender: "pub", Body: []byte("fresh")})
	for {
		if d, ok := c.next(t).(*pb.Deliver); ok && len(d.Messages) > 0 {
			if string(d.Messages[0].Body) != "fresh" {
				t.Fatalf("got %q, want the fresh comment", d.Messages[0].Body)
			}
			break
		}
	}
}
