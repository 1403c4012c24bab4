package client

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// fallbackClient starts a fake edge whose WebSocket connections have the
// TCP figures link and whose Pongs report segs segments sent, none lost,
// and dials a client with fb on it; both stop when the test ends.
func fallbackClient(t *testing.T, segs uint32, link func() transport.Stats, fb *Fallback) (*fakeServer, *Client) {
	t.Helper()
	srv := newFakeServer(t)
	t.Cleanup(srv.close)
	srv.tname = "ws"
	srv.hook = linkReport(0, segs, 0, nil)
	srv.link = link
	cfg := testConfig(srv)
	cfg.Fallback = fb
	c := mustDial(t, cfg)
	t.Cleanup(func() { _ = c.Close() })
	return srv, c
}

// holesAt returns a tcpLink counter with one downlink hole from the
// n-th read on for each n in at (each hole one more segment out of
// order).
func holesAt(at ...uint64) func(uint64) uint64 {
	return func(n uint64) uint64 {
		var ooo uint64
		for _, a := range at {
			if n >= a {
				ooo++
			}
		}
		return ooo
	}
}

// TestFallbackWarmDial: the first hole makes the link suspect (the rate
// is above LossAbove, one loss is below LossMinRetrans), so the client
// dials QUIC in the background; the second hole moves the session, which
// resumes on that warm connection without dialling again.
func TestFallbackWarmDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fb := &Fallback{QUICURL: "quic+fec://edge-a:8443"}
		srv, c := fallbackClient(t, 10, tcpLink(10, holesAt(2, 3)), fb)
		srv.waitFor("warm dial", func() bool { return len(srv.urls) == 2 })
		srv.mu.Lock()
		warmAt, warmURL := srv.dialAt[1], srv.urls[1]
		srv.mu.Unlock()
		if warmURL != fb.QUICURL {
			t.Fatalf("second dial to %q", warmURL)
		}
		srv.waitFor("resume on QUIC", func() bool { return len(srv.connects) == 2 })
		st := c.Stats()
		if st.FirstMoveAt.IsZero() || warmAt.After(st.FirstMoveAt) {
			t.Fatalf("warm dial at %v, move at %v: want the dial first", warmAt, st.FirstMoveAt)
		}
		srv.mu.Lock()
		dials := len(srv.urls)
		srv.mu.Unlock()
		if dials != 2 || st.WarmDials != 1 || st.WarmDialsUsed != 1 || st.TransportSwitches != 1 {
			t.Fatalf("%d dials, warm %d used %d, switches %d; want the move on the warm connection", dials, st.WarmDials, st.WarmDialsUsed, st.TransportSwitches)
		}
	})
}

// TestFallbackWarmDialExpires: one hole and no second one within the
// loss window: the warm connection is closed unused after warmMaxAge; a
// later lone hole (the link suspect again, 10 s on) dials nothing, as the
// last warm dial was less than warmEvery ago.
func TestFallbackWarmDialExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The link's 40th look (probe ticks and Pongs, burst ones
		// included) is about 10 s on with a burst of 20 probes.
		fb := &Fallback{QUICURL: "quic+fec://edge-a:8443", BurstEvery: 50 * time.Millisecond, BurstFor: time.Second}
		srv, c := fallbackClient(t, 1, tcpLink(1, holesAt(2, 40)), fb)
		srv.waitFor("warm dial", func() bool { return len(srv.urls) == 2 && len(srv.sessions) == 2 })
		start := time.Now()
		srv.waitFor("warm connection closed", func() bool { return len(srv.sessions) == 1 })
		if d := time.Since(start); d < warmMaxAge {
			t.Fatalf("warm connection closed after %v, before warmMaxAge", d)
		}
		time.Sleep(warmEvery / 2) // fake time: probes run meanwhile
		synctest.Wait()
		st := c.Stats()
		srv.mu.Lock()
		dials := len(srv.urls)
		srv.mu.Unlock()
		if dials != 2 || st.WarmDials != 1 || st.WarmDialsUsed != 0 || st.TransportSwitches != 0 || st.Transport != "ws" {
			t.Fatalf("%d dials, warm %d used %d, switches %d, on %q", dials, st.WarmDials, st.WarmDialsUsed, st.TransportSwitches, st.Transport)
		}
	})
}

// TestFallbackNoWarmDial: with NoWarmDial the suspect link dials nothing;
// the move then dials QUIC itself.
func TestFallbackNoWarmDial(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, c := fallbackClient(t, 10, tcpLink(10, holesAt(2, 3)), &Fallback{QUICURL: "quic+fec://edge-a:8443", NoWarmDial: true})
		srv.waitFor("resume on QUIC", func() bool { return len(srv.connects) == 2 })
		st := c.Stats()
		srv.mu.Lock()
		dialAt := srv.dialAt[1]
		srv.mu.Unlock()
		if st.WarmDials != 0 || dialAt.Before(st.FirstMoveAt) {
			t.Fatalf("warm dials %d, QUIC dialled at %v before the move at %v", st.WarmDials, dialAt, st.FirstMoveAt)
		}
	})
}
