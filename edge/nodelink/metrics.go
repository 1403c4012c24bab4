package nodelink

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/transport"
)

// metrics are one Link's counters: Prometheus vectors for what has labels,
// atomics (exported through Stats and as CounterFuncs) for the rest.
type metrics struct {
	frames *prometheus.CounterVec // dir, kind
	bytes  *prometheus.CounterVec // dir
	drops  *prometheus.CounterVec // kind, reason

	peersUp      atomic.Int64
	dialFailures atomic.Uint64
	authFailures atomic.Uint64
	refused      atomic.Uint64
	badInput     atomic.Uint64
	dropped      atomic.Uint64
	writes       atomic.Uint64
	// badReasons counts links closed for bad input, by reason.
	badReasons *prometheus.CounterVec
}

// Stats is a snapshot of a Link's counters.
type Stats struct {
	// PeersUp is the number of links up now.
	PeersUp int
	// DialFailures counts dials (and their handshakes) that failed.
	DialFailures uint64
	// AuthFailures counts handshakes that failed authentication, on either side.
	AuthFailures uint64
	// Refused counts inbound connections refused before their first frame.
	Refused uint64
	// BadInput counts links closed for a malformed, oversized or unknown frame.
	BadInput uint64
	// Dropped counts live frames dropped (queue full, or no link).
	Dropped uint64
	// Writes counts write calls: frames per write shows the batching.
	Writes uint64
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_nodelink_frames_total",
			Help: "Inter-node link frames, by direction (in, out) and kind."}, []string{"dir", "kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_nodelink_bytes_total",
			Help: "Inter-node link bytes (frames), by direction."}, []string{"dir"}),
		drops: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_nodelink_dropped_frames_total",
			Help: "Live frames not sent: the peer's queue was full (the oldest goes) or it had no link."}, []string{"kind", "reason"}),
		badReasons: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_nodelink_bad_input_total",
			Help: "Links closed because the peer sent a malformed, oversized or unknown frame, or let its control queue overflow."}, []string{"reason"}),
	}
	if reg == nil {
		return m
	}
	counter := func(name, help string, v *atomic.Uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	reg.MustRegister(m.frames, m.bytes, m.drops, m.badReasons,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_nodelink_peers_connected", Help: "Inter-node links up."},
			func() float64 { return float64(m.peersUp.Load()) }),
		counter("edgegate_nodelink_dial_failures_total", "Dials of a peer (with their handshake) that failed.", &m.dialFailures),
		counter("edgegate_nodelink_auth_failures_total", "Link handshakes that failed authentication (either side).", &m.authFailures),
		counter("edgegate_nodelink_refused_total", "Inbound link connections refused before their first frame.", &m.refused),
		counter("edgegate_nodelink_writes_total", "Write calls on inter-node links (each carries one or more frames).", &m.writes),
	)
	return m
}

// frame counts one frame of type t in direction dir.
func (m *metrics) frame(dir string, t transport.FrameType, n int) {
	m.frames.WithLabelValues(dir, t.String()).Inc()
	m.bytes.WithLabelValues(dir).Add(float64(n))
}

// drop counts a live frame not sent.
func (m *metrics) drop(t transport.FrameType, reason string) {
	m.dropped.Add(1)
	m.drops.WithLabelValues(t.String(), reason).Inc()
}

// Stats returns the Link's counters.
func (l *Link) Stats() Stats {
	m := l.m
	return Stats{PeersUp: int(m.peersUp.Load()), DialFailures: m.dialFailures.Load(), AuthFailures: m.authFailures.Load(),
		Refused: m.refused.Load(), BadInput: m.badInput.Load(), Dropped: m.dropped.Load(), Writes: m.writes.Load()}
}
