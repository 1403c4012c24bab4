package edge

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport/pb"
)

// slowProxy forwards TCP to target, holding every chunk for delay in each
// direction (a congested, retransmitting mobile link as TCP sees it).
type slowProxy struct {
	ln    net.Listener
	delay time.Duration
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func newSlowProxy(t *testing.T, target string, delay time.Duration) *slowProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &slowProxy{ln: ln, delay: delay}
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(up, c) })
			p.wg.Go(func() { p.pipe(c, up) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// pipe copies src to dst, each chunk leaving delay after it arrived.
func (p *slowProxy) pipe(dst, src net.Conn) {
	type chunk struct {
		b  []byte
		at time.Time
	}
	q := make(chan chunk, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		defer dst.Close()
		for c := range q {
			time.Sleep(time.Until(c.at)) // the emulated delay itself
			if _, err := dst.Write(c.b); err != nil {
				for range q {
				}
				return
			}
		}
	})
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			q <- chunk{b: append([]byte(nil), buf[:n]...), at: time.Now().Add(p.delay)}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			close(q)
			wg.Wait()
			return
		}
	}
}

// TestFallbackMovesSlowWebSocketToQUIC: a client on a WebSocket link that
// turns slow moves its session to QUIC by itself (mode quic-stream or
// quic-fec, as its Fallback says) and receives every message once, in
// order, across the move.
func TestFallbackMovesSlowWebSocketToQUIC(t *testing.T) {
	for _, mode := range []struct{ scheme, transport string }{
		{client.QUICScheme, "quic-stream"}, {client.QUICFECScheme, "quic-fec"},
	} {
		t.Run(mode.transport, func(t *testing.T) {
			e := startEdge(t, nil)
			qurl, pin := startQUIC(t, e)
			qurl = mode.scheme + strings.TrimPrefix(qurl, client.QUICScheme)
			got, st := runFallback(t, e, qurl, pin)
			checkSeqs(t, got, 1)
			if st.TransportSwitches != 1 || st.Transport != mode.transport {
				t.Fatalf("switches %d, transport %q; want 1 move to %s", st.TransportSwitches, st.Transport, mode.transport)
			}
			if moved := testutil.ToFloat64(e.srv.m.transportMoves.WithLabelValues("ws", mode.transport)); moved != 1 {
				t.Fatalf("edge counted %v moves ws->%s, want 1", moved, mode.transport)
			}
			// A quic-fec connection starts with parity (it assumes a
			// lossy link): the client's frames (at least the reply
			// runFallback makes her send) went as FEC data packets.
			if mode.transport == "quic-fec" && (st.FECDataPackets == 0 || st.FECUnrecoverable > st.FECDataPackets) {
				t.Fatalf("%d of %d FEC data packets NACKed; want some sent, at most all NACKed", st.FECUnrecoverable, st.FECDataPackets)
			}
		})
	}
}

// TestFallbackToQUICFECAndBack: a live session moves from a slow
// WebSocket link to quic-fec, then QUIC goes away (the edge's UDP
// listener closes, as when a network starts blocking UDP) and the session
// comes back to WebSocket; bob's messages keep flowing throughout and
// alice gets every one once, in order.
func TestFallbackToQUICFECAndBack(t *testing.T) {
	e := startEdge(t, nil)
	qurl, pin, ln := startQUICListener(t, e)
	qurl = client.QUICFECScheme + strings.TrimPrefix(qurl, client.QUICScheme)
	closed := false
	got, st := runFallbackWith(t, e, qurl, pin, func(i int, alice *client.Client) {
		if !closed && alice.Stats().Transport == "quic-fec" && i >= 10 {
			closed = true
			ln.Close()
		}
	})
	checkSeqs(t, got, 1)
	if !closed {
		t.Fatal("the session never reached quic-fec")
	}
	if st.TransportSwitches != 2 || st.Transport != "ws" {
		t.Fatalf("switches %d, transport %q; want ws -> quic-fec -> ws", st.TransportSwitches, st.Transport)
	}
	if moved := testutil.ToFloat64(e.srv.m.transportMoves.WithLabelValues("quic-fec", "ws")); moved != 1 {
		t.Fatalf("edge counted %v moves quic-fec->ws, want 1", moved)
	}
}

// TestFallbackStaysOnWebSocketWhenUDPIsBlocked: the move fails (nothing
// answers on UDP), the client goes back to WebSocket and loses nothing.
func TestFallbackStaysOnWebSocketWhenUDPIsBlocked(t *testing.T) {
	e := startEdge(t, nil)
	_, pin := startQUIC(t, e)
	udp, err := net.ListenPacket("udp", "127.0.0.1:0") // a black hole
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	got, st := runFallback(t, e, client.QUICScheme+udp.LocalAddr().String(), pin)
	checkSeqs(t, got, 1)
	if st.TransportSwitches != 2 || st.Transport != "ws" {
		t.Fatalf("switches %d, transport %q; want a failed move and a return to ws", st.TransportSwitches, st.Transport)
	}
}

// runFallback runs alice with a Fallback behind a slow WebSocket link while
// bob sends 30 messages, and returns what alice received and her stats.
func runFallback(t *testing.T, e *testEdge, qurl string, pin *tls.Config) ([]*pb.Message, client.Stats) {
	return runFallbackWith(t, e, qurl, pin, nil)
}

// runFallbackWith is runFallback calling during(i, alice) after bob's
// i-th message.
func runFallbackWith(t *testing.T, e *testEdge, qurl string, pin *tls.Config, during func(int, *client.Client)) ([]*pb.Message, client.Stats) {
	t.Helper()
	proxy := newSlowProxy(t, strings.TrimSuffix(strings.TrimPrefix(e.url, "ws://"), "/v1/ws"), 150*time.Millisecond)
	conv := "dm:alice:bob"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := client.Config{
		URL: "ws://" + proxy.ln.Addr().String() + "/v1/ws", Token: e.token("alice", []string{conv}, nil, time.Hour), DeviceID: "phone",
		HandshakeTimeout: time.Second,
		Fallback: &client.Fallback{QUICURL: qurl, ProbeEvery: 50 * time.Millisecond, RTTAbove: 200 * time.Millisecond,
			Samples: 2, RetryQUICAfter: time.Hour},
	}
	cfg.Dial = client.DialAny(cfg, pin)
	alice, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	if _, err := alice.Subscribe(ctx, conv); err != nil {
		t.Fatal(err)
	}
	bob := e.dialRaw(t)
	bob.connect(e.token("bob", []string{conv}, nil, time.Hour), nil)
	const n = 30
	var got []*pb.Message
	for i := range n {
		sendConv(bob, conv, fmt.Sprint("b", i), fmt.Sprint(i))
		expect[*pb.Ack](bob)
		if during != nil {
			during(i, alice)
		}
		// Read what arrived so far (not required to keep up).
		for drained := false; !drained; {
			select {
			case m := <-alice.Messages():
				got = append(got, m)
			default:
				drained = true
			}
		}
		time.Sleep(20 * time.Millisecond) // paced sending, like a chat
	}
	for len(got) < n {
		select {
		case m := <-alice.Messages():
			got = append(got, m)
		case <-ctx.Done():
			t.Fatalf("alice received %d of %d", len(got), n)
		}
	}
	// alice replies once: her delivery acks are timed, so without it a
	// quick move could leave her with no frame of her own on the new
	// connection by the time Stats is read.
	if _, err := alice.Send(ctx, conv, []byte("thanks")); err != nil {
		t.Fatalf("alice's reply: %v", err)
	}
	return got, alice.Stats()
}

// TestConnectedTellsProbeBurstPolicy: Connected carries the edge's
// ProbeBurstInterval: nothing by default (the client's own), the interval
// when positive, bursts off when negative.
func TestConnectedTellsProbeBurstPolicy(t *testing.T) {
	for _, tc := range []struct {
		cfg    time.Duration
		wantMs uint32
		off    bool
	}{{0, 0, false}, {150 * time.Millisecond, 150, false}, {-1, 0, true}} {
		t.Run(fmt.Sprint(tc.cfg), func(t *testing.T) {
			e := startEdge(t, func(c *Config) { c.ProbeBurstInterval = tc.cfg })
			c := e.dialRaw(t)
			hello := c.connect(e.token("u", nil, nil, time.Hour), nil)
			if hello.GetProbeBurstIntervalMs() != tc.wantMs || hello.GetProbeBurstsOff() != tc.off {
				t.Fatalf("Connected probe burst %d ms, off %v; want %d ms, off %v", hello.GetProbeBurstIntervalMs(), hello.GetProbeBurstsOff(), tc.wantMs, tc.off)
			}
		})
	}
}
