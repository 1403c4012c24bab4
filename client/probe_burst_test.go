package client

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// burstServer starts a fake WebSocket edge whose link shows one downlink
// hole (a loss that does not call for the move) and counts the client's
// Pings: all of them, and the burst probes among them.
func burstServer(t *testing.T, fb *Fallback, connected func(*pb.Connected)) (srv *fakeServer, c *Client, pings, burst *int) {
	t.Helper()
	srv = newFakeServer(t)
	t.Cleanup(srv.close)
	srv.tname = "ws"
	srv.connected = connected
	pings, burst = new(int), new(int)
	report := linkReport(0, 10, 0, nil)
	srv.hook = func(sess *fakeSession, m proto.Message) bool {
		if p, ok := m.(*pb.Ping); ok {
			*pings++
			if p.GetNonce()&burstNonce != 0 {
				*burst++
			}
		}
		return report(sess, m)
	}
	srv.link = tcpLink(10, holesAt(2))
	cfg := testConfig(srv)
	cfg.Fallback = fb
	c = mustDial(t, cfg)
	t.Cleanup(func() { _ = c.Close() })
	return srv, c, pings, burst
}

// firstBurst waits (in a synctest bubble) for a burst to start and end,
// and returns its probes.
func firstBurst(srv *fakeServer, burst *int) int {
	srv.waitFor("a burst", func() bool { return *burst > 0 })
	time.Sleep(4 * time.Second) // fake time: the burst runs and ends
	synctest.Wait()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return *burst
}

// TestFallbackProbeBurst: a lone loss starts one burst of fast probes
// (BurstEvery for BurstFor, each answered Pong's report counted), which
// ends by itself; the link stays on WebSocket (one loss is not enough) and
// no second burst starts within BurstGap.
func TestFallbackProbeBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := &Fallback{QUICURL: "quic+fec://edge-a:8443", NoWarmDial: true}
		srv, c, _, burst := burstServer(t, fb, nil)
		n := firstBurst(srv, burst)
		// 2 s of 20 ms ticks: 99 or 100 probes.
		if n < 97 || n > 101 {
			t.Fatalf("%d burst probes, want ~100 (2 s every 20 ms)", n)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		srv.mu.Lock()
		after := *burst
		srv.mu.Unlock()
		st := c.Stats()
		if after != n || st.ProbeBursts != 1 {
			t.Fatalf("burst probes %d then %d, bursts %d: want one burst that ends", n, after, st.ProbeBursts)
		}
		// A burst Ping taken for the RTT probe's would leave that probe
		// unanswered: after StallAfter (2 s) the client would move.
		if st.Transport != "ws" || st.TransportSwitches != 0 {
			t.Fatalf("on %q after %d switches: one loss must not move the session, nor a burst stall the RTT probe", st.Transport, st.TransportSwitches)
		}
	})
}

// TestFallbackNoProbeBurst: with BurstEvery negative, or when the edge
// asks for no bursts in Connected, the same loss sends no burst probes.
func TestFallbackNoProbeBurst(t *testing.T) {
	for _, tc := range []struct {
		name      string
		every     time.Duration
		connected func(*pb.Connected)
	}{
		{"client", -1, nil},
		{"edge", 0, func(m *pb.Connected) { m.ProbeBurstsOff = true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := &Fallback{QUICURL: "quic+fec://edge-a:8443", NoWarmDial: true, BurstEvery: tc.every}
				srv, c, pings, burst := burstServer(t, fb, tc.connected)
				srv.waitFor("probes", func() bool { return *pings >= 6 })
				time.Sleep(3 * time.Second)
				synctest.Wait()
				srv.mu.Lock()
				n := *burst
				srv.mu.Unlock()
				if n != 0 || c.Stats().ProbeBursts != 0 {
					t.Fatalf("%d burst probes with bursts off", n)
				}
			})
		})
	}
}

// TestFallbackProbeBurstEdgeInterval: the edge's probe_burst_interval_ms
// slows a burst (100 ms for the 2 s burst: about 20 probes, not 100); an
// interval shorter than the client's own does not speed it up.
func TestFallbackProbeBurstEdgeInterval(t *testing.T) {
	for _, tc := range []struct {
		edgeMs   uint32
		min, max int
	}{{100, 18, 21}, {5, 97, 101}} {
		t.Run(fmt.Sprint(tc.edgeMs), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fb := &Fallback{QUICURL: "quic+fec://edge-a:8443", NoWarmDial: true}
				srv, _, _, burst := burstServer(t, fb, func(m *pb.Connected) { m.ProbeBurstIntervalMs = tc.edgeMs })
				if n := firstBurst(srv, burst); n < tc.min || n > tc.max {
					t.Fatalf("edge interval %d ms: %d burst probes, want %d-%d", tc.edgeMs, n, tc.min, tc.max)
				}
			})
		})
	}
}
