package client

import (
	"errors"
	"time"
)

// Fallback moves a session from WebSocket to QUIC when the WebSocket link
// degrades (weak mobile networks: TCP's head-of-line blocking and
// retransmission timeouts hurt most there): probes slower than RTTAbove,
// a probe stalled for StallAfter, or TCP retransmitting more than
// LossAbove of its segments. The move is a reconnect to
// QUICURL with the session's resume token, so the application sees no
// loss, duplicate or reordering. When QUIC cannot be reached (UDP blocked)
// the client goes back to WebSocket and tries QUIC again only after
// RetryQUICAfter. Each move is logged and counted (Stats.TransportSwitches).
//
// Set Config.Dial to DialAny so both URL schemes can be dialed.
type Fallback struct {
	// QUICURL is where to move: quic+fec://host:port (datagrams with
	// forward error correction: the mode made for lossy links) or
	// quic://host:port (one reliable stream). Required.
	QUICURL string
	// ProbeEvery is how often the client pings while on WebSocket to
	// measure the link. Default 500 ms.
	ProbeEvery time.Duration
	// RTTAbove: this many consecutive probes (Samples) slower than it
	// trigger the move. Default 300 ms.
	RTTAbove time.Duration
	// Samples is the number of consecutive slow probes. Default 3.
	Samples int
	// StallAfter: a probe unanswered this long triggers the move at once
	// (a stalled TCP connection waiting for retransmissions). Default 2 s.
	StallAfter time.Duration
	// RetryQUICAfter is how long the client stays on WebSocket after a
	// failed move before it tries QUIC again. Default 60 s.
	RetryQUICAfter time.Duration
	// LossAbove: TCP losses above this share of the segments sent over
	// the last LossWindow probes, both directions together, trigger the
	// move, if at least LossMinRetrans losses were seen. Each direction's
	// losses are the larger of its sender's retransmissions and the holes
	// (segments received out of order) its receiver saw, read from the
	// kernel's TCP_INFO (Linux): the client's own for its retransmissions
	// and the downlink's holes, the edge's, reported in Pongs, for the
	// others. It is checked at every probe and as soon as a Pong brings the
	// edge's report. Default 0.02: a 1% loss costs TCP little, 5% makes
	// it stall. Negative: off.
	LossAbove float64
	// LossWindow is the number of probes the loss rate is measured over.
	// Default 6 (3 s at the default ProbeEvery).
	LossWindow int
	// LossMinRetrans is the least losses (retransmissions or holes) in
	// the window that can trigger the move (a single unlucky segment must
	// not). Default 2.
	LossMinRetrans uint64
	// BurstEvery is the period of the fast probes the client sends while
	// it checks a loss: when the window shows a loss that does not call
	// for the move yet, the client pings every BurstEvery for BurstFor
	// (at most one burst per BurstGap), so that the link carries more
	// segments and shows its loss rate sooner. A sparse chat link at 5%
	// loss needs seconds to show a second loss (a chat client on a lossy
	// WebSocket sends and receives fewer than 20 data segments a second:
	// one loss a second at 5%); 50 pings a second for 2 s (about 100 data
	// segments a second, 6 KB a second each way) show five more losses a
	// second. Default 20 ms; negative: no bursts.
	//
	// Why 20 ms for 2 s and not 50 ms for 1 s (the earlier default): the
	// time until the slowest of 10 chat clients was on quic-fec at 5%
	// loss and 200 ms RTT (edgebench lossy, 4 runs each, alternating
	// builds) was 3.5-7.6 s (median 4.3) with the weaker burst, 1.7-2.6 s
	// (median 2.4) with this one: a 1 s burst of 20 pings finds no loss
	// one time in seven, and the next burst waits BurstGap.
	BurstEvery time.Duration
	// BurstFor is how long a burst lasts. Default 2 s.
	BurstFor time.Duration
	// BurstGap is the least time between the starts of two bursts.
	// Default 10 s.
	BurstGap time.Duration
	// ReturnAfter, when positive and QUICURL is quic+fec, moves the
	// session back to WebSocket once the quic-fec path has lost nothing,
	// in either direction, for this long (none of this end's datagrams
	// reported lost by the edge, none of the edge's missing here, checked
	// every ProbeEvery). On a clean link WebSocket costs less (the edge
	// spends about three times the CPU per message on quic-fec, and it
	// passes every proxy); if the loss comes back, the client moves
	// again. Default 0: off, since each return and move is a reconnect,
	// and a link whose loss comes and goes would go back and forth at
	// most once per ReturnAfter; 2 minutes is a reasonable value.
	ReturnAfter time.Duration
	// NoWarmDial turns off the warm dial: by default, when the loss rate
	// is above LossAbove but fewer than LossMinRetrans losses back it, the
	// client dials QUIC in the background, so that the move, if it comes,
	// skips the QUIC handshake; unused, the connection is closed after
	// 5 s, and there is at most one such dial per 30 s (see warm.go).
	NoWarmDial bool
}

func (f *Fallback) withDefaults() *Fallback {
	if f == nil {
		return nil
	}
	g := *f
	if g.ProbeEvery <= 0 {
		g.ProbeEvery = 500 * time.Millisecond
	}
	if g.RTTAbove <= 0 {
		g.RTTAbove = 300 * time.Millisecond
	}
	if g.Samples <= 0 {
		g.Samples = 3
	}
	if g.StallAfter <= 0 {
		g.StallAfter = 2 * time.Second
	}
	if g.RetryQUICAfter <= 0 {
		g.RetryQUICAfter = time.Minute
	}
	if g.LossAbove == 0 {
		g.LossAbove = 0.02
	}
	if g.LossWindow <= 0 {
		g.LossWindow = 6
	}
	if g.LossMinRetrans == 0 {
		g.LossMinRetrans = 2
	}
	if g.BurstEvery == 0 {
		g.BurstEvery = 20 * time.Millisecond
	}
	if g.BurstFor <= 0 {
		g.BurstFor = 2 * time.Second
	}
	if g.BurstGap <= 0 {
		g.BurstGap = 10 * time.Second
	}
	return &g
}

// errLinkDegraded ends a WebSocket connection so the session moves to
// QUIC.
var errLinkDegraded = errors.New("client: WebSocket link degraded, moving to QUIC")

// errLinkClean ends a quic-fec connection so the session returns to
// WebSocket (Fallback.ReturnAfter).
var errLinkClean = errors.New("client: quic-fec link clean, returning to WebSocket")

// probe is the connection writer's link check, run every ProbeEvery while
// on WebSocket with a Fallback. It reports whether to move.
func (cn *connection) probe(f *Fallback) (move bool, err error) {
	cn.mu.Lock()
	outstanding := !cn.pingSent.IsZero() && !cn.pongSeen
	sent, slow := cn.pingSent, cn.slowProbes
	cn.mu.Unlock()
	if cn.c.quicBlocked() {
		return false, nil // QUIC failed recently: stay
	}
	cn.c.expireWarm()
	if cn.lossyLink(f, true) {
		return true, nil
	}
	if outstanding {
		if time.Since(sent) > f.StallAfter {
			cn.c.log.Warn("client: link stalled, moving to QUIC", "unanswered", time.Since(sent))
			return true, nil
		}
		return false, nil // wait for this probe's answer
	}
	if slow >= f.Samples {
		cn.c.log.Warn("client: link slow, moving to QUIC", "rtt", time.Duration(cn.c.stats.rtt.Load()), "samples", slow)
		return true, nil
	}
	return false, cn.sendPing()
}

// lossyLink runs the loss check (see linkLoss) and logs the move it
// calls for.
func (cn *connection) lossyLink(f *Fallback, record bool) bool {
	rate, retrans, move, suspect := cn.linkLoss(f, record)
	if move {
		cn.c.log.Warn("client: link lossy, moving to QUIC", "lost", retrans, "rate", rate)
	} else if retrans > 0 {
		cn.probeBurst(f)
	}
	if suspect && !f.NoWarmDial {
		cn.c.warmDial()
	}
	return move
}

// lossSample is the client's TCP counters at one probe: retransmissions
// and data segments sent (uplink), downlink holes seen (see linkLoss) and
// data segments received.
type lossSample struct{ retrans, segsOut, holes, segsIn uint64 }

// linkLoss reports whether the link loses more than LossAbove of what
// crosses it over the last LossWindow probes, both directions counted
// together. Each direction's losses are the larger of two counts: the
// sender's TCP retransmissions, and the holes its receiver saw (segments
// arriving out of order since the previous look, counted once however
// many segments queued behind the missing one). For the uplink: the
// client's own retransmissions, and the Pongs whose report says the edge
// received segments out of order. For the downlink: the edge's
// retransmissions, from its reports in Pongs (the client's counters do
// not show them), and the checks (probe ticks and Pongs) at which the
// client's own TCP had received segments out of order. A hole shows as
// soon as the segment after a lost one arrives, where a retransmission
// waits for the sender's timer (hundreds of ms on a long path). Pooling
// the directions halves the time a sparse chat link needs to show
// LossMinRetrans losses. record (the probe tick) adds the client's
// counters to the window; the check run when a Pong arrives reads them
// without moving the window. Writer goroutine only.
func (cn *connection) linkLoss(f *Fallback, record bool) (rate float64, retrans uint64, move, suspect bool) {
	if f.LossAbove < 0 {
		return 0, 0, false, false
	}
	var segs, holes, segsIn uint64
	if st := cn.conn.Stats(); st.PacketsOut > 0 { // 0: the platform does not tell
		if st.OutOfOrderIn > cn.lastOOO {
			cn.holes++
		}
		cn.lastOOO = st.OutOfOrderIn
		cur := lossSample{st.Retransmits, st.PacketsOut, cn.holes, st.PacketsIn}
		if record || len(cn.lossHist) == 0 {
			cn.lossHist = append(cn.lossHist, cur)
			if len(cn.lossHist) > f.LossWindow+1 {
				cn.lossHist = cn.lossHist[1:]
			}
		}
		first := cn.lossHist[0]
		retrans, segs = cur.retrans-first.retrans, cur.segsOut-first.segsOut
		holes, segsIn = cur.holes-first.holes, cur.segsIn-first.segsIn
	}
	var srvRetrans, srvSegs, upHoles uint64
	cn.mu.Lock()
	cn.srvLoss = trimReports(cn.srvLoss, time.Now().Add(-f.lossSpan()))
	for _, r := range cn.srvLoss {
		srvRetrans += r.retrans
		srvSegs += r.segs
		upHoles += r.hole
	}
	cn.mu.Unlock()
	retrans = max(retrans, upHoles) + max(srvRetrans, holes)
	segs += max(srvSegs, segsIn)
	rate, move, suspect = f.lossy(retrans, segs)
	return rate, retrans, move, suspect
}

// lossy decides on retrans losses of segs segments: the rate; whether it
// calls for the move (rate above LossAbove, at least LossMinRetrans
// losses); and whether the link is suspect (rate above LossAbove, fewer
// losses: the move may follow, and the client dials QUIC ahead).
func (f *Fallback) lossy(retrans, segs uint64) (rate float64, move, suspect bool) {
	if segs == 0 || retrans == 0 {
		return 0, false, false
	}
	rate = float64(retrans) / float64(segs)
	if rate <= f.LossAbove {
		return rate, false, false
	}
	return rate, retrans >= f.LossMinRetrans, retrans < f.LossMinRetrans
}

// quicBlocked reports whether a recent move to QUIC failed.
func (c *Client) quicBlocked() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Before(c.quicBlockedUntil)
}

// moveToQUIC points the next connect at the fallback URL.
func (c *Client) moveToQUIC() {
	c.mu.Lock()
	c.wsURL, c.url, c.onQUIC = c.url, c.fallback.QUICURL, true
	c.mu.Unlock()
	c.stats.switches.Add(1)
	c.stats.firstMove.CompareAndSwap(0, time.Now().UnixNano())
	c.log.Info("client: moving the session to QUIC", "url", c.fallback.QUICURL)
}

// quicFailed goes back to WebSocket after a failed QUIC connect.
func (c *Client) quicFailed(err error) {
	c.mu.Lock()
	c.url, c.onQUIC = c.wsURL, false
	c.quicBlockedUntil = time.Now().Add(c.fallback.RetryQUICAfter)
	c.mu.Unlock()
	c.stats.switches.Add(1)
	c.log.Warn("client: QUIC unreachable, staying on WebSocket", "err", err, "retry_after", c.fallback.RetryQUICAfter)
}

// onQUICNow reports whether the session is on the fallback's QUIC URL.
func (c *Client) onQUICNow() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.onQUIC
}
