package client

import (
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// Stats are a Client's counters.
type Stats struct {
	// State is the connection state.
	State State
	// Transport names the current transport ("ws", "quic-stream", ...),
	// empty while disconnected.
	Transport string
	// URL is where the client connects (changes after a Redirect or a
	// move to an alternate edge).
	URL string
	// EdgeSwitches counts moves to another edge because the current one
	// could not be reached (Config.AlternateURLs).
	EdgeSwitches uint64
	// Reconnects counts sessions established after the first one.
	Reconnects uint64
	// RTT is the last round trip measured with Ping/Pong.
	RTT time.Duration
	// Sent counts Send frames written (resends included); Resent counts
	// sends re-sent after a reconnect; Acked counts successful sends;
	// DuplicateAcks counts acks with duplicate=true.
	Sent, Resent, Acked, DuplicateAcks uint64
	// Delivered counts messages handed to Messages().
	Delivered uint64
	// DuplicatesDropped counts redelivered messages not passed on.
	DuplicatesDropped uint64
	// Gaps counts out-of-order deliveries that started a SyncRequest;
	// Skipped counts messages the server could not supply to fill them.
	Gaps, Skipped uint64
	// LiveDropped counts room comments the server dropped for this client
	// (Deliver.dropped).
	LiveDropped uint64
	// FramesIn and FramesOut count frames on all connections.
	FramesIn, FramesOut uint64
	// TransportSwitches counts moves between WebSocket and QUIC made by
	// Config.Fallback (both directions).
	TransportSwitches uint64
	// Retransmitted counts the transport's retransmissions on every
	// connection so far, as the transport counts them: TCP segments on
	// WebSocket (Linux), lost QUIC packets on quic-stream, frames resent
	// on the stream on quic-fec.
	Retransmitted uint64
	// FECRecovered counts packets quic-fec rebuilt from parity on every
	// connection so far.
	FECRecovered uint64
	// FECDataPackets counts frames quic-fec sent as FEC data packets on
	// every connection so far, and FECUnrecoverable those of them the edge
	// could not rebuild from parity and NACKed: their ratio is the
	// residual loss of the uplink before retransmission.
	FECDataPackets, FECUnrecoverable uint64
	// WarmDials counts QUIC connections Fallback dialled ahead of a move
	// (the link lost its first packet); WarmDialsUsed those a move then
	// resumed the session on.
	WarmDials, WarmDialsUsed uint64
	// ProbeBursts counts the bursts of fast link probes Fallback sent to
	// check a loss (Fallback.BurstEvery).
	ProbeBursts uint64
	// FirstMoveAt is when Fallback first moved the session to QUIC (zero
	// if it never did).
	FirstMoveAt time.Time
	// FirstOnQUICAt is when the session, after that move, first came up
	// on QUIC (zero if it never did): FirstMoveAt plus the QUIC handshake
	// and the resume.
	FirstOnQUICAt time.Time
	// Conn are the current connection's transport counters.
	Conn transport.Stats
}

type counters struct {
	reconnects, sent, resent, acked, duplicateAcks atomic.Uint64
	delivered, duplicatesDropped, gaps, skipped    atomic.Uint64
	liveDropped, framesIn, framesOut, switches     atomic.Uint64
	retransmitted, fecRecovered                    atomic.Uint64 // of closed connections
	fecDataPackets, fecUnrecoverable               atomic.Uint64 // of closed connections
	warmDials, warmUsed, edgeSwitches              atomic.Uint64
	probeBursts                                    atomic.Uint64
	rtt                                            atomic.Int64
	firstMove, firstOnQUIC                         atomic.Int64 // unix ns
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	s := Stats{
		State:             c.State(),
		Reconnects:        c.stats.reconnects.Load(),
		RTT:               time.Duration(c.stats.rtt.Load()),
		TransportSwitches: c.stats.switches.Load(),
		Sent:              c.stats.sent.Load(),
		Resent:            c.stats.resent.Load(),
		Acked:             c.stats.acked.Load(),
		DuplicateAcks:     c.stats.duplicateAcks.Load(),
		Delivered:         c.stats.delivered.Load(),
		DuplicatesDropped: c.stats.duplicatesDropped.Load(),
		Gaps:              c.stats.gaps.Load(),
		Skipped:           c.stats.skipped.Load(),
		LiveDropped:       c.stats.liveDropped.Load(),
		FramesIn:          c.stats.framesIn.Load(),
		FramesOut:         c.stats.framesOut.Load(),
		Retransmitted:     c.stats.retransmitted.Load(),
		FECRecovered:      c.stats.fecRecovered.Load(),
		FECDataPackets:    c.stats.fecDataPackets.Load(),
		FECUnrecoverable:  c.stats.fecUnrecoverable.Load(),
		WarmDials:         c.stats.warmDials.Load(),
		WarmDialsUsed:     c.stats.warmUsed.Load(),
		ProbeBursts:       c.stats.probeBursts.Load(),
		EdgeSwitches:      c.stats.edgeSwitches.Load(),
	}
	if t := c.stats.firstMove.Load(); t != 0 {
		s.FirstMoveAt = time.Unix(0, t)
	}
	if t := c.stats.firstOnQUIC.Load(); t != 0 {
		s.FirstOnQUICAt = time.Unix(0, t)
	}
	c.mu.Lock()
	s.URL = c.url
	cn := c.cur
	c.mu.Unlock()
	if cn != nil {
		s.Transport = cn.conn.Transport()
		s.Conn = cn.conn.Stats()
		if !cn.closed.Load() {
			s.Retransmitted += s.Conn.Retransmits
			s.FECRecovered += s.Conn.Recovered
			s.FECDataPackets += s.Conn.FECDataPackets
			s.FECUnrecoverable += s.Conn.Unrecoverable
		}
	}
	return s
}
