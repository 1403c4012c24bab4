package client

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// returnServer starts a fake edge whose WebSocket link loses packets
// while lossy is set (the client moves to quic-fec) and whose quic-fec
// connections report fec, and dials a client with ReturnAfter.
func returnServer(t *testing.T, lossy *atomic.Bool, fec func() transport.Stats) (*fakeServer, *Client, *Fallback) {
	t.Helper()
	srv := newFakeServer(t)
	t.Cleanup(srv.close)
	srv.tname = "ws"
	srv.hook = linkReport(0, 10, 0, nil)
	var reads, ooo atomic.Uint64
	srv.link = func() transport.Stats {
		n := reads.Add(1)
		if lossy.Load() {
			ooo.Add(3) // a hole at every look
		}
		return transport.Stats{PacketsOut: 10 * n, PacketsIn: 10 * n, OutOfOrderIn: ooo.Load()}
	}
	srv.fecLink = fec
	fb := &Fallback{QUICURL: "quic+fec://edge-a:8443", NoWarmDial: true, ReturnAfter: 5 * time.Second}
	cfg := testConfig(srv)
	cfg.Fallback = fb
	c := mustDial(t, cfg)
	t.Cleanup(func() { _ = c.Close() })
	return srv, c, fb
}

// TestFallbackReturnsToWebSocket: the session moves to quic-fec on a lossy
// WebSocket link; once the quic-fec path has lost nothing (no datagram of
// the client's reported lost, none of the edge's missing) for ReturnAfter,
// it resumes on the
// WebSocket URL it came from, and stays there while that link is clean.
func TestFallbackReturnsToWebSocket(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lossy atomic.Bool
		lossy.Store(true)
		srv, c, fb := returnServer(t, &lossy, func() transport.Stats { return transport.Stats{PacketsIn: 100} })
		srv.waitFor("move to quic-fec", func() bool { return len(srv.connects) == 2 })
		lossy.Store(false)
		moved := time.Now()
		srv.waitFor("return to WebSocket", func() bool { return len(srv.connects) == 3 })
		if d := time.Since(moved); d < fb.ReturnAfter {
			t.Fatalf("returned after %v, before ReturnAfter (%v)", d, fb.ReturnAfter)
		}
		srv.mu.Lock()
		back := srv.urls[len(srv.urls)-1]
		first := srv.urls[0]
		srv.mu.Unlock()
		if back != first {
			t.Fatalf("returned to %q, want the WebSocket URL %q", back, first)
		}
		time.Sleep(3 * fb.ReturnAfter) // fake time: the clean link keeps it on WebSocket
		synctest.Wait()
		if st := c.Stats(); st.TransportSwitches != 2 || st.Transport != "ws" {
			t.Fatalf("switches %d, on %q; want ws -> quic-fec -> ws", st.TransportSwitches, st.Transport)
		}
	})
}

// TestFallbackStaysOnLossyQUICFEC: a quic-fec path that still loses (the
// client's datagrams reported lost, or the edge's going missing) keeps
// the session there.
func TestFallbackStaysOnLossyQUICFEC(t *testing.T) {
	for name, fec := range map[string]func() func() transport.Stats{
		"uplink datagrams lost": func() func() transport.Stats {
			var lost atomic.Uint64
			return func() transport.Stats { return transport.Stats{LostOut: lost.Add(1)} }
		},
		"datagrams missing": func() func() transport.Stats {
			var missing atomic.Uint64
			return func() transport.Stats { return transport.Stats{MissingIn: missing.Add(1)} }
		},
	} {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var lossy atomic.Bool
				lossy.Store(true)
				srv, c, fb := returnServer(t, &lossy, fec())
				srv.waitFor("move to quic-fec", func() bool { return len(srv.connects) == 2 })
				lossy.Store(false)
				time.Sleep(3 * fb.ReturnAfter)
				synctest.Wait()
				if st := c.Stats(); st.TransportSwitches != 1 || st.Transport != "quic-fec" {
					t.Fatalf("switches %d, on %q; want to stay on quic-fec", st.TransportSwitches, st.Transport)
				}
			})
		})
	}
}
