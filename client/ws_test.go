package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// wsServer runs the fake server behind a real WebSocket endpoint on
// loopback.
func wsServer(t *testing.T, cfg transport.WSConfig) (*fakeServer, string) {
	t.Helper()
	srv := newFakeServer(t)
	acc, err := transport.NewWSAcceptor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := acc.Accept(w, r)
		if err != nil {
			return
		}
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if srv.closed {
			_ = conn.Close(transport.CloseGoingAway, "")
			return
		}
		srv.serveLocked(conn)
	}))
	t.Cleanup(func() {
		srv.close()
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/v1/ws"
}

func TestWebSocketEndToEnd(t *testing.T) {
	srv, url := wsServer(t, transport.WSConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, Config{URL: url, Token: "good", MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Subscribe(ctx, "c1"); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 4000) // compressed on the wire
	if ack, err := c.Send(ctx, "c1", big); err != nil || ack.Seq != 1 {
		t.Fatalf("Send = %+v, %v", ack, err)
	}
	if out := c.Stats().Conn.BytesOut; out == 0 || out > 1000 {
		t.Fatalf("%d bytes written for a 4000-byte zero body: not compressed?", out)
	}
	srv.kill(transport.CloseInternal)
	if ack, err := c.Send(ctx, "c1", []byte("after")); err != nil || ack.Seq != 2 {
		t.Fatalf("Send after reconnect = %+v, %v", ack, err)
	}
	got := recv(t, c, 2)
	if !slices.Equal(seqs(got), []uint64{1, 2}) || len(got[0].GetBody()) != 4000 {
		t.Fatalf("got %v", seqs(got))
	}
	if st := c.Stats(); st.Transport != "ws" || st.Reconnects != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWebSocketForbiddenOriginIsFatal(t *testing.T) {
	srv, url := wsServer(t, transport.WSConfig{AllowedOrigins: []string{"https://good.example"}})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err := Dial(ctx, Config{URL: url, Token: "good", Header: http.Header{"Origin": {"https://evil.example"}}})
	if !errors.Is(err, &Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN}) {
		t.Fatalf("Dial = %v, want FORBIDDEN", err)
	}
	if n := srv.numConnects(); n != 0 {
		t.Fatalf("%d sessions", n)
	}
}
