package transport

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// wsServer is an httptest server whose handler accepts WebSocket Conns.
type wsServer struct {
	srv   *httptest.Server
	url   string
	conns chan Conn
	errs  chan error
	done  chan struct{}
}

func startWS(t testing.TB, cfg WSConfig) *wsServer {
	t.Helper()
	acc, err := NewWSAcceptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := &wsServer{conns: make(chan Conn, 1024), errs: make(chan error, 16), done: make(chan struct{})}
	var handlers sync.WaitGroup
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hijacked handlers outlive srv.Close; count them ourselves.
		handlers.Add(1)
		defer handlers.Done()
		c, err := acc.Accept(w, r)
		if err != nil {
			select {
			case s.errs <- err:
			case <-s.done:
			}
			return
		}
		select {
		case s.conns <- c:
		case <-s.done:
			c.Close(CloseGoingAway, "")
		}
	}))
	s.url = "ws" + strings.TrimPrefix(s.srv.URL, "http") + "/v1/ws"
	t.Cleanup(func() {
		close(s.done)
		s.srv.Close()
		handlers.Wait()
		for {
			select {
			case c := <-s.conns:
				c.Close(CloseGoingAway, "")
			default:
				return
			}
		}
	})
	return s
}

// dial connects a client and returns it with the server's side.
func (s *wsServer) dial(t testing.TB, opts WSDialOptions) (client, server Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := DialWS(ctx, s.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	t.Cleanup(func() { c.Close(CloseNormal, "") })
	select {
	case sc := <-s.conns:
		t.Cleanup(func() { sc.Close(CloseNormal, "") })
		return c, sc
	case err := <-s.errs:
		t.Fatal(err)
	case <-ctx.Done():
		t.Fatal("server did not accept")
	}
	return nil, nil
}

func mustEncode(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := Encode(nil, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestWSRoundTrip(t *testing.T) {
	s := startWS(t, WSConfig{})
	client, server := s.dial(t, WSDialOptions{})
	ctx := readCtx(t)
	for _, m := range sampleMessages() {
		if err := client.WriteFrame(ctx, mustEncode(t, m)); err != nil {
			t.Fatal(err)
		}
		b, err := server.ReadFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := Decode(b, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, m) {
			t.Fatalf("got %v want %v", got, m)
		}
		// And back.
		if err := server.WriteFrame(ctx, b); err != nil {
			t.Fatal(err)
		}
		echo, err := client.ReadFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(echo, b) {
			t.Fatal("echo differs")
		}
	}
	n := uint64(len(sampleMessages()))
	cs, ss := client.Stats(), server.Stats()
	if cs.FramesOut != n || cs.FramesIn != n || ss.FramesIn != n || ss.FramesOut != n {
		t.Fatalf("frame counters: client %+v server %+v", cs, ss)
	}
	if cs.BytesOut != ss.BytesIn || ss.BytesOut != cs.BytesIn || cs.BytesOut == 0 {
		t.Fatalf("byte counters: client %+v server %+v", cs, ss)
	}
	if runtime.GOOS == "linux" && ss.RTT <= 0 {
		t.Fatalf("no RTT from TCP_INFO: %+v", ss)
	}
	if server.Transport() != "ws" || server.RemoteAddr() == nil {
		t.Fatal("Transport/RemoteAddr")
	}
}

func TestWSOrigins(t *testing.T) {
	tests := []struct {
		name   string
		cfg    WSConfig
		origin string // "SAME" means the server's own origin
		ok     bool
	}{
		{"no origin (non-browser)", WSConfig{AllowedOrigins: []string{"https://chat.example.com"}}, "", true},
		{"allowed", WSConfig{AllowedOrigins: []string{"https://chat.example.com"}}, "https://chat.example.com", true},
		{"allowed wildcard", WSConfig{AllowedOrigins: []string{"https://*.example.com"}}, "https://a.example.com", true},
		{"rejected", WSConfig{AllowedOrigins: []string{"https://chat.example.com"}}, "https://evil.example", false},
		{"empty list: same host", WSConfig{}, "SAME", true},
		{"empty list: other host", WSConfig{}, "https://chat.example.com", false},
		{"allow all", WSConfig{AllowAllOrigins: true}, "https://evil.example", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startWS(t, tt.cfg)
			origin := tt.origin
			if origin == "SAME" {
				origin = s.srv.URL
			}
			c, resp, err := DialWS(readCtx(t), s.url, WSDialOptions{Origin: origin})
			if tt.ok {
				if err != nil {
					t.Fatal(err)
				}
				c.Close(CloseNormal, "")
				return
			}
			if err == nil {
				c.Close(CloseNormal, "")
				t.Fatal("dial succeeded, want 403")
			}
			if resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Fatalf("want 403, got %v (%v)", resp, err)
			}
			if aerr := <-s.errs; !errors.Is(aerr, ErrOriginNotAllowed) {
				t.Fatalf("Accept error %v", aerr)
			}
		})
	}
}

func TestWSReadLimit(t *testing.T) {
	s := startWS(t, WSConfig{MaxFrameBytes: 1000})
	client, server := s.dial(t, WSDialOptions{})
	ctx := readCtx(t)
	// A frame of exactly the limit passes.
	ok, err := AppendFrame(nil, TypePing, nil, make([]byte, 1000), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.WriteFrame(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if b, err := server.ReadFrame(ctx); err != nil || len(b) != len(ok) {
		t.Fatalf("frame at limit: %d bytes, %v", len(b), err)
	}
	big, _ := AppendFrame(nil, TypePing, nil, make([]byte, 1001), nil)
	if err := client.WriteFrame(ctx, big); err != nil {
		t.Fatal(err)
	}
	_, err = server.ReadFrame(ctx)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("server read: %v, want ErrTooLarge", err)
	}
	if _, err2 := server.ReadFrame(ctx); !errors.Is(err2, ErrTooLarge) {
		t.Fatalf("second read: %v, want the same sticky error", err2)
	}
	server.Close(CloseTooLarge, "frame too large")
	_, err = client.ReadFrame(ctx)
	if code, ok := CloseStatus(err); !ok || code != CloseTooLarge {
		t.Fatalf("client sees %v, want close 1009", err)
	}
}

func TestWSDeflateBombLimited(t *testing.T) {
	s := startWS(t, WSConfig{MaxFrameBytes: 1000, EnableCompression: true})
	client, server := s.dial(t, WSDialOptions{EnableCompression: true})
	ctx := readCtx(t)
	// 1 MB of zeros deflates to ~1 KB on the wire; the inflated size must
	// still be held to the limit.
	big, _ := AppendFrame(nil, TypePing, nil, make([]byte, 1<<20), nil)
	if err := client.WriteFrame(ctx, big); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ReadFrame(ctx); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("server read: %v, want ErrTooLarge", err)
	}
}

func TestWSCloseCodes(t *testing.T) {
	s := startWS(t, WSConfig{})
	ctx := readCtx(t)

	client, server := s.dial(t, WSDialOptions{})
	reason := "token invalid"
	if err := server.Close(CloseCodeFor(pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED), reason); err != nil {
		t.Fatal(err)
	}
	_, err := client.ReadFrame(ctx)
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4003 || ce.Reason != reason {
		t.Fatalf("client sees %v, want close 4003 %q", err, reason)
	}
	if ec, ok := ce.Code.ErrorCode(); !ok || ec != pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED {
		t.Fatalf("ErrorCode %v", ec)
	}
	// After a local Close: net.ErrClosed, and Close is idempotent.
	if _, err := server.ReadFrame(ctx); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := server.WriteFrame(ctx, []byte{1}); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
	if err := server.Close(CloseNormal, ""); err != nil {
		t.Fatalf("second Close: %v", err)
	}

	// Client-initiated, with a long reason and a code that may not be sent.
	client, server = s.dial(t, WSDialOptions{})
	client.Close(CloseGoingAway, strings.Repeat("é", 100))
	_, err = server.ReadFrame(ctx)
	if !errors.As(err, &ce) || ce.Code != CloseGoingAway || len(ce.Reason) > 123 || !strings.HasPrefix(ce.Reason, "éé") {
		t.Fatalf("server sees %v", err)
	}
	client, server = s.dial(t, WSDialOptions{})
	client.Close(1006, "")
	if _, err := server.ReadFrame(ctx); !errors.As(err, &ce) || ce.Code != CloseInternal {
		t.Fatalf("server sees %v, want 1011 for an unsendable code", err)
	}
}

func TestWSTextMessageRejected(t *testing.T) {
	s := startWS(t, WSConfig{})
	ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	server := <-s.conns
	defer server.Close(CloseNormal, "")
	if err := ws.WriteMessage(websocket.TextMessage, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if _, err := server.ReadFrame(readCtx(t)); !errors.Is(err, ErrBadFrame) {
		t.Fatalf("text message: %v, want ErrBadFrame", err)
	}
}

func TestWSWriteShared(t *testing.T) {
	s := startWS(t, WSConfig{EnableCompression: true})
	ctx := readCtx(t)
	var clients, servers []Conn
	for i := range 4 {
		c, sc := s.dial(t, WSDialOptions{EnableCompression: i%2 == 0})
		clients = append(clients, c)
		servers = append(servers, sc)
	}
	corpus := chatCorpus(1, 7)[0]
	frame, err := AppendFrame(nil, TypeDeliver, nil, corpus, nil)
	if err != nil {
		t.Fatal(err)
	}
	sf := NewSharedFrame(frame)
	for round := range 2 {
		for _, sc := range servers {
			if err := sc.WriteShared(ctx, sf); err != nil {
				t.Fatal(err)
			}
		}
		for i, c := range clients {
			got, err := c.ReadFrame(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, frame) {
				t.Fatalf("round %d client %d: frame differs", round, i)
			}
		}
	}
	if len(sf.cache) != 1 {
		t.Fatalf("shared frame prepared %d times, want one cached PreparedMessage", len(sf.cache))
	}
	if st := servers[0].Stats(); st.FramesOut != 2 || st.BytesOut != uint64(2*len(frame)) {
		t.Fatalf("stats %+v", st)
	}
}

func TestWSCloseWhileReading(t *testing.T) {
	s := startWS(t, WSConfig{})
	_, server := s.dial(t, WSDialOptions{})
	errc := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		close(started)
		_, err := server.ReadFrame(context.Background())
		errc <- err
	}()
	<-started
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			server.Close(CloseGoingAway, "drain")
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("blocked read returned %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock ReadFrame")
	}
}

func TestWSContextUnblocksRead(t *testing.T) {
	s := startWS(t, WSConfig{})
	_, server := s.dial(t, WSDialOptions{})
	base, cancel := context.WithCancel(context.Background())
	ctx := &doneSignalCtx{Context: base, asked: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := server.ReadFrame(ctx)
		errc <- err
	}()
	<-ctx.asked // ReadFrame is past its early checks and about to block
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("ReadFrame after cancel: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("cancel did not unblock ReadFrame")
	}
	if _, err := server.ReadFrame(context.Background()); !errors.Is(err, context.Canceled) {
		t.Fatalf("read after interrupted read: %v, want the sticky error", err)
	}

	_, server = s.dial(t, WSDialOptions{})
	dctx, dcancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer dcancel()
	if _, err := server.ReadFrame(dctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("ReadFrame past ctx deadline: %v", err)
	}
}

func TestWSIdleTimeout(t *testing.T) {
	s := startWS(t, WSConfig{ReadTimeout: 100 * time.Millisecond})
	client, server := s.dial(t, WSDialOptions{})
	ctx := readCtx(t)
	// Messages within the timeout keep the connection alive.
	for range 3 {
		if err := client.WriteFrame(ctx, mustEncode(t, &pb.Ping{Nonce: 1})); err != nil {
			t.Fatal(err)
		}
		if _, err := server.ReadFrame(ctx); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	_, err := server.ReadFrame(ctx)
	if !errors.Is(err, ErrIdleTimeout) {
		t.Fatalf("silent peer: %v, want ErrIdleTimeout", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("idle timeout after %v", d)
	}
}

func TestWSWriteTimeout(t *testing.T) {
	s := startWS(t, WSConfig{WriteTimeout: 100 * time.Millisecond})
	_, server := s.dial(t, WSDialOptions{}) // the client never reads
	frame, _ := AppendFrame(nil, TypeDeliver, nil, make([]byte, 60<<10), nil)
	var err error
	for i := 0; i < 10000 && err == nil; i++ {
		err = server.WriteFrame(context.Background(), frame)
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a stalled peer: %v, want a deadline error", err)
	}

	_, server = s.dial(t, WSDialOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err = nil
	for i := 0; i < 10000 && err == nil; i++ {
		err = server.WriteFrame(ctx, frame)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write past ctx deadline: %v", err)
	}
}

// BenchmarkWSIdleConnMemory reports the heap and stack held per idle
// connection pair (client and server side, with the server's parked reader).
// It is a benchmark, not a test: memory targets are measured, never asserted
// in unit tests (the edge-level figure comes from `edgebench idle`).
func BenchmarkWSIdleConnMemory(b *testing.B) {
	const n = 300
	s := startWS(b, WSConfig{})
	measure := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse + ms.StackInuse
	}
	s.dial(b, WSDialOptions{}) // warm up pools and the HTTP server
	ctx := readCtx(b)
	for b.Loop() {
		var wg sync.WaitGroup
		var conns []Conn
		before := measure()
		for range n {
			c, sc := s.dial(b, WSDialOptions{ReadBufferSize: 1024, WriteBufferSize: 1024})
			if err := c.WriteFrame(ctx, mustEncode(b, &pb.Ping{Nonce: 1})); err != nil {
				b.Fatal(err)
			}
			if _, err := sc.ReadFrame(ctx); err != nil {
				b.Fatal(err)
			}
			conns = append(conns, c, sc)
			wg.Add(1)
			go func() { // the edge's per-connection reader, parked
				defer wg.Done()
				_, _ = sc.ReadFrame(context.Background())
			}()
		}
		b.ReportMetric(float64(measure()-before)/n, "B/idle-pair")
		for _, c := range conns {
			c.Close(CloseNormal, "")
		}
		wg.Wait()
	}
}

// doneSignalCtx closes asked the first time Done is called, which ReadFrame
// does right before it blocks.
type doneSignalCtx struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (c *doneSignalCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}
