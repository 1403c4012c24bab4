package client

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

const (
	edgeA = "ws://edge-a/v1/ws"
	edgeB = "ws://edge-b/v1/ws"
	edgeC = "ws://edge-c/v1/ws"
)

// dropSessions closes every server session as a killed edge would.
func (s *fakeServer) dropSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for sess := range s.sessions {
		_ = sess.conn.Close(transport.CloseGoingAway, "killed")
	}
}

func TestAlternateEdgesAreTriedAtOnceThenBackOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		srv.down = map[string]bool{edgeA: true}
		cfg := testConfig(srv)
		cfg.AlternateURLs = []string{edgeB, "", edgeA, edgeC} // empties and repeats ignored
		cfg.MinBackoff, cfg.MaxBackoff = time.Second, time.Second
		cfg.randN = func(n int64) int64 { return n - 1 }
		c := mustDial(t, cfg)
		defer c.Close()
		srv.mu.Lock()
		if !slices.Equal(srv.urls, []string{edgeA, edgeB}) || srv.dialAt[1] != srv.dialAt[0] {
			t.Fatalf("dials %v at %v: want edge-a, then edge-b at once", srv.urls, srv.dialAt)
		}
		srv.mu.Unlock()
		if st := c.Stats(); st.URL != edgeB || st.EdgeSwitches != 1 {
			t.Fatalf("URL %q, switches %d", st.URL, st.EdgeSwitches)
		}

		// edge-b dies: the client retries it after its backoff, finds it
		// unreachable and moves on to edge-c at once.
		srv.mu.Lock()
		srv.down[edgeB] = true
		srv.mu.Unlock()
		srv.dropSessions()
		srv.waitFor("edge-c", func() bool { return len(srv.connects) == 2 })
		srv.mu.Lock()
		if got := srv.urls[2:]; !slices.Equal(got, []string{edgeB, edgeC}) || srv.dialAt[3] != srv.dialAt[2] {
			t.Fatalf("dials after the loss %v", got)
		}
		srv.mu.Unlock()

		// Every edge down: one round at once, then the backoff.
		srv.mu.Lock()
		srv.down[edgeC] = true
		srv.mu.Unlock()
		srv.dropSessions()
		srv.waitFor("two rounds", func() bool { return len(srv.urls) == 4+6 })
		srv.mu.Lock()
		round := srv.urls[4:]
		var gaps []time.Duration
		for i := 5; i < len(srv.dialAt); i++ {
			gaps = append(gaps, srv.dialAt[i].Sub(srv.dialAt[i-1]))
		}
		srv.mu.Unlock()
		if !slices.Equal(round, []string{edgeC, edgeA, edgeB, edgeC, edgeA, edgeB}) {
			t.Fatalf("rounds %v", round)
		}
		if gaps[0] != 0 || gaps[1] != 0 || gaps[2] == 0 || gaps[3] != 0 || gaps[4] != 0 {
			t.Fatalf("gaps between dials %v: want 0, 0, backoff, 0, 0", gaps)
		}
		if c.State() == StateClosed {
			t.Fatal("client gave up")
		}
	})
}

func TestRedirectReplacesTheEdges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := newFakeServer(t)
		defer srv.close()
		cfg := testConfig(srv)
		cfg.AlternateURLs = []string{edgeB}
		c := mustDial(t, cfg)
		defer c.Close()
		srv.mu.Lock()
		srv.down = map[string]bool{edgeC: true}
		for s := range srv.sessions {
			s.write(&pb.Redirect{Reason: "drain", Urls: []string{edgeC, edgeA}})
			_ = s.conn.Close(transport.CloseGoingAway, "drain")
		}
		srv.mu.Unlock()
		srv.waitFor("redial", func() bool { return len(srv.connects) == 2 })
		srv.mu.Lock()
		defer srv.mu.Unlock()
		if !slices.Equal(srv.urls, []string{edgeA, edgeC, edgeA}) {
			t.Fatalf("dials %v: want the redirect's first URL, then its second", srv.urls)
		}
	})
}
