package edge

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// testEdge is an in-process edge on a real loopback socket and a real
// pebble store in a temp dir, so the race detector sees the server code.
type testEdge struct {
	t      *testing.T
	srv    *Server
	hs     *httptest.Server
	url    string
	secret []byte
	apiKey string
}

const testSecret = "0123456789abcdef0123456789abcdef-test"

func startEdge(t *testing.T, mod func(*Config)) *testEdge {
	t.Helper()
	cfg := Config{
		NodeID:         "test",
		DataDir:        t.TempDir(),
		AuthHMACSecret: []byte(testSecret),
		APIKeys:        []string{"test-api-key-0123456789"},
		DrainTimeout:   5 * time.Second,
		Logger:         discardLogger(),
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	e := &testEdge{t: t, srv: srv, hs: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws", secret: cfg.AuthHMACSecret, apiKey: cfg.APIKeys[0]}
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	return e
}

func (e *testEdge) token(user string, convs, rooms []string, ttl time.Duration) string {
	e.t.Helper()
	tok, err := auth.MintHS256(e.secret, auth.MintClaims{Subject: user, Convs: convs, Rooms: rooms, TTL: ttl})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// rawClient speaks the protocol frame by frame, for precise assertions.
type rawClient struct {
	t      *testing.T
	conn   transport.Conn
	in     chan proto.Message
	done   chan struct{}
	mu     sync.Mutex
	endErr error
	// held keeps frames skipped by expect, for later calls.
	held []proto.Message
	// wait bounds expect's wait for a frame (0: 5 s).
	wait time.Duration
}

func (e *testEdge) dialRaw(t *testing.T) *rawClient {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, _, err := transport.DialWS(ctx, e.url, transport.WSDialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, in: make(chan proto.Message, 4096), done: make(chan struct{})}
	go c.readLoop()
	t.Cleanup(func() {
		c.conn.Close(transport.CloseNormal, "")
		<-c.done
	})
	return c
}

func (c *rawClient) readLoop() {
	defer close(c.done)
	defer close(c.in)
	for {
		b, err := c.conn.ReadFrame(context.Background())
		if err != nil {
			c.mu.Lock()
			c.endErr = err
			c.mu.Unlock()
			return
		}
		_, m, err := transport.Decode(b, transport.Limits{})
		if err != nil {
			c.mu.Lock()
			c.endErr = err
			c.mu.Unlock()
			return
		}
		c.in <- m
	}
}

func (c *rawClient) send(m proto.Message) {
	c.t.Helper()
	b, err := transport.Encode(nil, m, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := c.conn.WriteFrame(context.Background(), b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawClient) sendRaw(b []byte) error {
	return c.conn.WriteFrame(context.Background(), b)
}

// nextMatching returns the first message for which match is true; the
// others are held, in order, for later calls.
func (c *rawClient) nextMatching(match func(proto.Message) bool) proto.Message {
	c.t.Helper()
	for i, m := range c.held {
		if match(m) {
			c.held = append(c.held[:i:i], c.held[i+1:]...)
			return m
		}
	}
	wait := c.wait
	if wait == 0 {
		wait = 5 * time.Second
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		select {
		case m, ok := <-c.in:
			if !ok {
				c.t.Fatalf("connection ended: %v", c.err())
			}
			if _, pong := m.(*pb.Pong); pong {
				continue
			}
			if match(m) {
				return m
			}
			c.held = append(c.held, m)
		case <-timer.C:
			c.t.Fatal("timed out waiting for a frame")
			return nil
		}
	}
}

// expect returns the next message of type T, holding other frames (such as
// deliveries of the client's own messages) for later.
func expect[T proto.Message](c *rawClient) T {
	c.t.Helper()
	m := c.nextMatching(func(m proto.Message) bool {
		_, ok := m.(T)
		_, isErr := m.(*pb.Error)
		return ok || isErr
	})
	v, ok := m.(T)
	if !ok {
		c.t.Fatalf("got %T %v, want %T", m, m, *new(T))
	}
	return v
}

// closed waits for the connection to end and returns the error it ended with.
func (c *rawClient) closed() error {
	c.t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case _, ok := <-c.in:
			if !ok {
				return c.err()
			}
		case <-timer.C:
			c.t.Fatal("connection did not close")
		}
	}
}

func (c *rawClient) err() error {
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.endErr
}

func (c *rawClient) connect(tok string, extra func(*pb.Connect)) *pb.Connected {
	c.t.Helper()
	m := &pb.Connect{Token: tok, DeviceId: "d1"}
	if extra != nil {
		extra(m)
	}
	c.send(m)
	return expect[*pb.Connected](c)
}

// collect reads Deliver frames until n messages of conv arrived.
func (c *rawClient) collect(conv string, n int) []*pb.Message {
	c.t.Helper()
	var out []*pb.Message
	for len(out) < n {
		d := c.nextMatching(func(m proto.Message) bool { _, ok := m.(*pb.Deliver); return ok }).(*pb.Deliver)
		for _, msg := range d.Messages {
			if msg.Conversation == conv || msg.Room == conv {
				out = append(out, msg)
			}
		}
	}
	return out
}

func checkSeqs(t *testing.T, msgs []*pb.Message, first uint64) {
	t.Helper()
	for i, m := range msgs {
		if m.Seq != first+uint64(i) {
			t.Fatalf("message %d has seq %d, want %d (gap or duplicate)", i, m.Seq, first+uint64(i))
		}
	}
}

func sendConv(c *rawClient, conv, id, body string) {
	c.send(&pb.Send{ClientMsgId: id, Target: &pb.Send_Conversation{Conversation: conv}, Body: []byte(body)})
}

func msgID(i int) string { return fmt.Sprintf("m-%04d", i) }
