package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// startQUIC serves e on a QUIC listener and returns its quic:// URL and a
// client TLS config pinned to its certificate.
func startQUIC(t *testing.T, e *testEdge) (string, *tls.Config) {
	t.Helper()
	url, pin, _ := startQUICListener(t, e)
	return url, pin
}

// startQUICListener is startQUIC that also returns the listener, for tests
// that close it early (Close is idempotent).
func startQUICListener(t *testing.T, e *testEdge) (string, *tls.Config, *transport.QUICListener) {
	t.Helper()
	cert, err := transport.SelfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := transport.ListenQUIC("127.0.0.1:0", transport.QUICConfig{TLS: &tls.Config{Certificates: []tls.Certificate{cert}}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.srv.ServeQUIC(ln) }()
	t.Cleanup(func() {
		ln.Close()
		if err := <-done; err != nil {
			t.Errorf("ServeQUIC: %v", err)
		}
	})
	pin, err := transport.PinnedTLSConfig(transport.CertFingerprint(cert))
	if err != nil {
		t.Fatal(err)
	}
	return client.QUICScheme + ln.Addr().String(), pin, ln
}

func TestChatBetweenQUICAndWebSocket(t *testing.T) {
	e := startEdge(t, nil)
	qurl, pin := startQUIC(t, e)
	conv := "dm:alice:bob"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	dial := func(user, url string, quic bool) *client.Client {
		cfg := client.Config{URL: url, Token: e.token(user, []string{conv}, nil, time.Hour), DeviceID: user + "-dev"}
		if quic {
			cfg.Dial = client.DialAny(cfg, pin)
		}
		c, err := client.Dial(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: %v", user, err)
		}
		t.Cleanup(func() { c.Close() })
		if _, err := c.Subscribe(ctx, conv); err != nil {
			t.Fatal(err)
		}
		return c
	}
	alice := dial("alice", qurl, true)
	bob := dial("bob", e.url, false)
	if got := testutil.ToFloat64(e.srv.m.connections.WithLabelValues("quic-stream")); got != 1 {
		t.Fatalf("quic-stream connections %v, want 1", got)
	}
	const n = 20
	for i := range n {
		if _, err := alice.Send(ctx, conv, []byte(fmt.Sprint("q", i))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bob.Send(ctx, conv, []byte("ws reply")); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*client.Client{"alice": alice, "bob": bob} {
		var got []*pb.Message
		for len(got) < n+1 {
			select {
			case m := <-c.Messages():
				got = append(got, m)
			case <-ctx.Done():
				t.Fatalf("%s received %d of %d", name, len(got), n+1)
			}
		}
		checkSeqs(t, got, 1)
		if string(got[n].Body) != "ws reply" {
			t.Fatalf("%s: last message %q", name, got[n].Body)
		}
	}
	if st := alice.Stats(); st.Reconnects != 0 {
		t.Fatalf("alice reconnected %d times", st.Reconnects)
	}
}
