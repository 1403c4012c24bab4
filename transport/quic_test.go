package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// quicPair starts a listener and returns a dialed client conn and the
// server's conn (after the client's first frame).
func startQUIC(t *testing.T) (*QUICListener, *tls.Config) {
	t.Helper()
	return startQUICWith(t, QUICConfig{})
}

// startQUICWith is startQUIC with the listener's settings from cfg (its
// TLS is set here).
func startQUICWith(t *testing.T, cfg QUICConfig) (*QUICListener, *tls.Config) {
	t.Helper()
	cert, err := SelfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	ln, err := ListenQUIC("127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pin, err := PinnedTLSConfig(CertFingerprint(cert))
	if err != nil {
		t.Fatal(err)
	}
	return ln, pin
}

func quicPair(t *testing.T) (client, server Conn) {
	t.Helper()
	ln, pin := startQUIC(t)
	c, s := dialAccept(t, ln, func(ctx context.Context) (Conn, error) {
		return DialQUIC(ctx, ln.Addr().String(), QUICConfig{TLS: pin})
	})
	t.Cleanup(func() {
		c.Close(CloseNormal, "")
		s.Close(CloseNormal, "")
		waitQUICClosed(t, c, s)
	})
	return c, s
}

// dialAccept dials with dial while ln accepts, and returns both ends.
func dialAccept(t *testing.T, ln *QUICListener, dial func(context.Context) (Conn, error)) (client, server Conn) {
	t.Helper()
	ctx := readCtx(t)
	accepted := make(chan Conn, 1)
	go func() {
		c, err := ln.Accept(ctx)
		if err != nil {
			accepted <- nil
			return
		}
		accepted <- c
	}()
	c, err := dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	return c, s
}

// waitQUICClosed waits until the connections' close handshakes are over
// (the goroutine-leak check runs right after the tests).
func waitQUICClosed(t *testing.T, conns ...Conn) {
	t.Helper()
	for _, c := range conns {
		select {
		case <-c.(*quicConn).qc.Context().Done():
		case <-time.After(10 * time.Second):
			t.Errorf("QUIC connection not closed 10 s after Close")
		}
	}
}

func TestQUICRoundTripAndStats(t *testing.T) {
	c, s := quicPair(t)
	ctx := readCtx(t)
	big := make([]byte, 60<<10)
	for i, f := range [][]byte{mustEncode(t, &pb.Ping{Nonce: 7}), mustEncodeFrame(t, big)} {
		if err := c.WriteFrame(ctx, f); err != nil {
			t.Fatal(err)
		}
		got, err := s.ReadFrame(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(f) {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(got), len(f))
		}
	}
	if err := s.WriteFrame(ctx, mustEncode(t, &pb.Pong{Nonce: 7})); err != nil {
		t.Fatal(err)
	}
	b, err := c.ReadFrame(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, m, err := Decode(b, Limits{}); err != nil || m.(*pb.Pong).Nonce != 7 {
		t.Fatalf("pong %v %v", m, err)
	}
	if st := c.Stats(); st.FramesOut != 2 || st.FramesIn != 1 || st.RTT <= 0 {
		t.Fatalf("client stats %+v", st)
	}
	if s.Transport() != "quic-stream" || s.RemoteAddr() == nil {
		t.Fatalf("transport %q addr %v", s.Transport(), s.RemoteAddr())
	}
}

func mustEncodeFrame(t *testing.T, payload []byte) []byte {
	t.Helper()
	b, err := AppendFrame(nil, TypeDeliver, nil, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestQUICCloseDeliversQueuedFramesThenCode: a frame written right before
// Close arrives, then the close code (CONNECTION_CLOSE would otherwise
// discard the undelivered frame).
func TestQUICCloseDeliversQueuedFramesThenCode(t *testing.T) {
	c, s := quicPair(t)
	ctx := readCtx(t)
	if err := c.WriteFrame(ctx, mustEncode(t, &pb.Ping{Nonce: 1})); err != nil { // the client's first frame opens the stream
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); err != nil {
		t.Fatal(err)
	}
	srvDone := make(chan error, 1)
	go func() { // the server's read loop, as in the edge
		for {
			if _, err := s.ReadFrame(ctx); err != nil {
				srvDone <- err
				return
			}
		}
	}()
	redirect := mustEncode(t, &pb.Redirect{Reason: "drain", Urls: []string{"quic://other:443"}})
	if err := s.WriteFrame(ctx, redirect); err != nil {
		t.Fatal(err)
	}
	s.Close(CloseGoingAway, "draining")
	b, err := c.ReadFrame(ctx)
	if err != nil {
		t.Fatalf("frame written before Close lost: %v", err)
	}
	if typ, _, err := Decode(b, Limits{}); err != nil || typ != TypeRedirect {
		t.Fatalf("got %v %v, want the redirect", typ, err)
	}
	_, err = c.ReadFrame(ctx)
	if code, ok := CloseStatus(err); !ok || code != CloseGoingAway {
		t.Fatalf("after the redirect: %v, want close %d", err, CloseGoingAway)
	}
	if err := <-srvDone; err == nil {
		t.Fatal("server read loop did not end")
	}
	if err := s.WriteFrame(ctx, redirect); err == nil {
		t.Fatal("write after Close succeeded")
	}
}

func TestQUICReadFrameHonoursContextAndLimits(t *testing.T) {
	c, s := quicPair(t)
	ctx := readCtx(t)
	if err := c.WriteFrame(ctx, mustEncode(t, &pb.Ping{Nonce: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := s.ReadFrame(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("read past ctx deadline: %v", err)
	}
	// The stream is still usable after a cancelled read.
	if err := c.WriteFrame(ctx, mustEncode(t, &pb.Ping{Nonce: 2})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); err != nil {
		t.Fatalf("read after a cancelled one: %v", err)
	}
	// An oversized frame is refused by its header.
	if err := c.WriteFrame(ctx, mustEncodeFrame(t, make([]byte, DefaultMaxFrameBytes+1))); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
}

func TestQUICRejectsWrongPin(t *testing.T) {
	ln, _ := startQUIC(t)
	other, err := SelfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pin, _ := PinnedTLSConfig(CertFingerprint(other))
	if _, err := DialQUIC(readCtx(t), ln.Addr().String(), QUICConfig{TLS: pin}); err == nil {
		t.Fatal("dial with a wrong pin succeeded")
	}
	if _, err := PinnedTLSConfig("xyz"); err == nil {
		t.Fatal("bad fingerprint accepted")
	}
}

// TestQUICPeerCloseHandshake: only the client closes; the server's read
// loop sees the code and both connections end promptly.
func TestQUICPeerCloseHandshake(t *testing.T) {
	c, s := quicPair(t)
	ctx := readCtx(t)
	if err := c.WriteFrame(ctx, mustEncode(t, &pb.Ping{Nonce: 1})); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReadFrame(ctx); err != nil {
		t.Fatal(err)
	}
	srvErr := make(chan error, 1)
	go func() {
		_, err := s.ReadFrame(ctx)
		srvErr <- err
	}()
	start := time.Now()
	c.Close(4003, "bye")
	err := <-srvErr
	if code, ok := CloseStatus(err); !ok || code != 4003 {
		t.Fatalf("server read: %v, want close 4003", err)
	}
	waitQUICClosed(t, c, s)
	t.Logf("close handshake took %v", time.Since(start))
}
