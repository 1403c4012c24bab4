package loadgen

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
)

// Percentiles are latency figures in milliseconds.
type Percentiles struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
	// Count is the number of samples.
	Count uint64 `json:"count"`
}

func percentiles(h *hist.Histogram) Percentiles {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Percentiles{
		P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)), P99: ms(h.Quantile(0.99)),
		P999: ms(h.Quantile(0.999)), Max: ms(h.Max()), Count: h.Count(),
	}
}

// optPercentiles is percentiles(h), nil for a histogram without samples.
func optPercentiles(h *hist.Histogram) *Percentiles {
	if h == nil || h.Count() == 0 {
		return nil
	}
	p := percentiles(h)
	return &p
}

// Result is the outcome of one scenario run, printed as one JSON object.
// Fields without omitempty are present for every scenario.
type Result struct {
	Scenario string   `json:"scenario"`
	RunID    string   `json:"run_id"`
	Addrs    []string `json:"addrs"`
	Procs    int      `json:"procs"`

	// Connections counts clients connected; ConnectErrors those that
	// could not connect within the connect timeout; Reconnects sessions
	// re-established during the run (should be 0).
	Connections   int     `json:"connections"`
	ConnectErrors int     `json:"connect_errors"`
	Reconnects    uint64  `json:"reconnects"`
	ConnectS      float64 `json:"connect_s"`

	// Sent counts messages handed to Send, Acked those acknowledged,
	// Delivered distinct messages received, Expected those that should
	// have been received (acked x receivers), Lost = expected messages
	// never received, Duplicates repeated receptions, Reordered receptions
	// below an already received sequence of the same sender.
	Sent  uint64 `json:"sent"`
	Acked uint64 `json:"acked"`
	// AckedBytes is the body bytes of the acked messages (chat).
	AckedBytes uint64 `json:"acked_bytes,omitempty"`
	SendErrors uint64 `json:"send_errors"`
	Delivered  uint64 `json:"delivered"`
	Expected   uint64 `json:"expected"`
	Lost       uint64 `json:"lost"`
	Duplicates uint64 `json:"duplicates"`
	Reordered  uint64 `json:"reordered"`
	// Invalid counts received bodies that were not benchmark bodies.
	Invalid uint64 `json:"invalid"`

	// ThroughputMsgsPerS is acked messages per second of send phase.
	ThroughputMsgsPerS float64 `json:"throughput_msgs_per_s"`
	// Latency is delivery latency (receive time - send time).
	Latency Percentiles `json:"latency_ms"`

	// ServerRSSBytes is the edges' resident memory (summed over edges)
	// at the end of the run; ServerCPUSeconds the CPU they used during
	// the measured phase.
	ServerRSSBytes   uint64  `json:"server_rss_bytes"`
	ServerCPUSeconds float64 `json:"server_cpu_seconds"`
	// ServerConnections is edgegate_connections at the end of the run.
	ServerConnections float64 `json:"server_connections"`
	// DurationS is the measured phase's length (send phase plus drain;
	// for idle, the connect phase plus settling).
	DurationS float64 `json:"duration_s"`

	// idle
	RSSBeforeBytes uint64   `json:"rss_before_bytes,omitempty"`
	RSSAfterBytes  uint64   `json:"rss_after_bytes,omitempty"`
	BytesPerConn   *float64 `json:"bytes_per_conn,omitempty"`

	// rooms
	Viewers       int     `json:"viewers,omitempty"`
	RateTarget    float64 `json:"rate_target,omitempty"`
	BodyBytes     int     `json:"body_bytes,omitempty"`
	DeliveredPerS float64 `json:"delivered_per_s,omitempty"`
	// ServerDropped counts comments the edge dropped for slow viewers
	// (Deliver.dropped); they are part of Lost.
	ServerDropped uint64 `json:"server_dropped,omitempty"`

	// lossy (edgebench lossy: chat over an emulated link)
	Transport     string  `json:"transport,omitempty"`
	LossPct       float64 `json:"loss_pct,omitempty"`
	BurstLen      float64 `json:"burst_len,omitempty"`
	RTTMs         float64 `json:"rtt_ms,omitempty"`
	BytesOnWire   uint64  `json:"bytes_on_wire,omitempty"`
	PayloadBytes  uint64  `json:"payload_bytes,omitempty"`
	OverheadRatio float64 `json:"overhead_ratio,omitempty"`
	// WireSizes splits the link's packets by direction and IP size, to
	// show where the overhead goes (acknowledgements are small packets).
	WireSizes []WireSize `json:"wire_sizes,omitempty"`
	// FECRecovered counts packets quic-fec rebuilt from parity (clients
	// and edge); Retransmitted the transports' retransmissions: on the
	// clients, TCP segments (ws), lost QUIC packets (quic-stream) or
	// frames resent on the stream (quic-fec), plus the edge's quic-fec
	// frames resent (the edge's TCP and QUIC counters are not exported).
	FECRecovered  *uint64 `json:"fec_recovered,omitempty"`
	Retransmitted *uint64 `json:"retransmitted,omitempty"`
	// FECDataPackets counts the frames quic-fec sent as FEC data packets
	// and FECUnrecoverable those of them the receiver could not rebuild
	// from parity and NACKed (both directions: clients and edge);
	// ResidualLoss is their ratio, quic-fec's residual loss before
	// retransmission (nil without FEC data packets). Unlike Retransmitted
	// it leaves out timeout resends of frames that had arrived.
	FECDataPackets   *uint64  `json:"fec_data_packets,omitempty"`
	FECUnrecoverable *uint64  `json:"fec_unrecoverable,omitempty"`
	ResidualLoss     *float64 `json:"residual_loss,omitempty"`
	// Moved counts clients the fallback moved to QUIC (transport auto)
	// whose session then came up there; MoveAfterMaxS is the longest time
	// from the start of traffic until such a session was on QUIC,
	// MoveDecidedMaxS until a client decided to move (the difference is
	// the QUIC handshake and resume over the impaired link).
	// MoveAfterS lists every moved client's time, sorted, and
	// MoveAfterP50S is its median.
	Moved           int       `json:"moved,omitempty"`
	MoveAfterMaxS   float64   `json:"move_after_max_s,omitempty"`
	MoveAfterP50S   float64   `json:"move_after_p50_s,omitempty"`
	MoveAfterS      []float64 `json:"move_after_s,omitempty"`
	MoveDecidedMaxS float64   `json:"move_decided_max_s,omitempty"`
	// Returned counts the moved clients that ended the run back on
	// WebSocket (Options.ReturnAfter).
	Returned int `json:"returned,omitempty"`

	// chat
	Pairs      int          `json:"pairs,omitempty"`
	AckLatency *Percentiles `json:"ack_latency_ms,omitempty"`

	// Outage is, with Options.Failover, how long clients were without a
	// session each time they lost one: from the loss to the next
	// established session, on whichever edge. EdgeSwitches counts moves
	// to another edge because one could not be reached.
	Outage       *Percentiles `json:"outage_ms,omitempty"`
	EdgeSwitches uint64       `json:"edge_switches,omitempty"`

	// cluster (edgebench cluster: chat while an edge is killed)
	// KilledNode is the index of the edge killed with SIGKILL (Fault
	// "kill") or drained with SIGTERM ("drain"), KillAtS when (seconds
	// into the send phase), RestartAtS when it was started again (0: not
	// restarted).
	KilledNode *int    `json:"killed_node,omitempty"`
	Fault      string  `json:"fault,omitempty"` // kill (SIGKILL) or drain (SIGTERM)
	KillAtS    float64 `json:"kill_at_s,omitempty"`
	RestartAtS float64 `json:"restart_at_s,omitempty"`

	// Errors are sample error messages (at most a few).
	Errors []string `json:"errors,omitempty"`

	// LatencySameEdge and LatencyCrossEdge split Latency between
	// conversations whose clients share an edge and those on two edges
	// (chat --placement mixed), or between room viewers on the
	// publisher's edge and on others (rooms with several edges).
	LatencySameEdge  *Percentiles `json:"latency_same_edge_ms,omitempty"`
	LatencyCrossEdge *Percentiles `json:"latency_cross_edge_ms,omitempty"`
	// LatencySteady is Latency without each chat sender's messages of its
	// first steadyAfterSeconds: the latency of warm connections, to tell
	// a tail made at the start (handshakes, quic-fec's FEC before it
	// knows the path is clean) from one that lasts.
	LatencySteady *Percentiles `json:"latency_steady_ms,omitempty"`

	latency, ackLatency, outage, latSame, latCross, latSteady *hist.Histogram
}

const maxErrors = 5

// steadyAfterSeconds is how much of each chat sender's start
// Result.LatencySteady leaves out.
const steadyAfterSeconds = 5

func (r *Result) addError(format string, args ...any) {
	if len(r.Errors) < maxErrors {
		r.Errors = append(r.Errors, fmt.Sprintf(format, args...))
	}
}

// finalize computes the derived fields.
func (r *Result) finalize(sendPhase time.Duration) {
	if r.latency != nil {
		r.Latency = percentiles(r.latency)
	}
	r.AckLatency = optPercentiles(r.ackLatency)
	r.Outage = optPercentiles(r.outage)
	r.LatencySameEdge, r.LatencyCrossEdge = optPercentiles(r.latSame), optPercentiles(r.latCross)
	r.LatencySteady = optPercentiles(r.latSteady)
	if s := sendPhase.Seconds(); s > 0 {
		r.ThroughputMsgsPerS = float64(r.Acked) / s
	}
	if r.Scenario == "rooms" && r.DurationS > 0 {
		r.DeliveredPerS = float64(r.Delivered) / r.DurationS
	}
	r.ResidualLoss = residualLoss(r.FECUnrecoverable, r.FECDataPackets)
}

// residualLoss is unrecoverable / dataPackets, nil without data packets.
func residualLoss(unrecoverable, dataPackets *uint64) *float64 {
	if dataPackets == nil || *dataPackets == 0 {
		return nil
	}
	v := float64(deref(unrecoverable)) / float64(*dataPackets)
	return &v
}

// deref reads an optional counter (nil: 0).
func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// WriteText prints a human-readable summary.
func (r *Result) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s (run %s) against %s, %d process(es)\n", r.Scenario, r.RunID, strings.Join(r.Addrs, ","), r.Procs)
	fmt.Fprintf(&b, "  connections   %d (errors %d, reconnects %d, connect %.1fs)\n", r.Connections, r.ConnectErrors, r.Reconnects, r.ConnectS)
	if r.Scenario != "idle" {
		fmt.Fprintf(&b, "  sent/acked    %d / %d (send errors %d), %.1f msg/s\n", r.Sent, r.Acked, r.SendErrors, r.ThroughputMsgsPerS)
		fmt.Fprintf(&b, "  delivered     %d of %d expected: lost %d, duplicates %d, reordered %d, invalid %d\n",
			r.Delivered, r.Expected, r.Lost, r.Duplicates, r.Reordered, r.Invalid)
		l := r.Latency
		fmt.Fprintf(&b, "  latency ms    p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", l.P50, l.P90, l.P99, l.P999, l.Max)
		if a := r.AckLatency; a != nil {
			fmt.Fprintf(&b, "  ack ms        p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", a.P50, a.P90, a.P99, a.P999, a.Max)
		}
		for _, x := range []struct {
			name string
			p    *Percentiles
		}{{"same edge ms  ", r.LatencySameEdge}, {"cross edge ms ", r.LatencyCrossEdge}} {
			if l := x.p; l != nil {
				fmt.Fprintf(&b, "  %s p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f\n", x.name, l.P50, l.P90, l.P99, l.P999, l.Max)
			}
		}
		if r.KilledNode != nil {
			fmt.Fprintf(&b, "  fault         edge %d %s at %.1fs", *r.KilledNode, r.Fault, r.KillAtS)
			if r.RestartAtS > 0 {
				fmt.Fprintf(&b, ", restarted at %.1fs", r.RestartAtS)
			}
			b.WriteString("\n")
		}
		if o := r.Outage; o != nil {
			fmt.Fprintf(&b, "  outage ms     p50 %.2f  p99 %.2f  max %.2f over %d outages, %d edge switches\n", o.P50, o.P99, o.Max, o.Count, r.EdgeSwitches)
		}
		if r.Scenario == "rooms" {
			fmt.Fprintf(&b, "  rooms         %d viewers, %.0f comments/s of %d B, %.0f deliveries/s, server dropped %d\n",
				r.Viewers, r.RateTarget, r.BodyBytes, r.DeliveredPerS, r.ServerDropped)
		}
	}
	if r.BytesPerConn != nil {
		fmt.Fprintf(&b, "  memory        RSS %d -> %d bytes: %.0f bytes/conn\n", r.RSSBeforeBytes, r.RSSAfterBytes, *r.BytesPerConn)
	}
	fmt.Fprintf(&b, "  server        RSS %.1f MiB, CPU %.2fs over %.1fs, %v connections\n",
		float64(r.ServerRSSBytes)/(1<<20), r.ServerCPUSeconds, r.DurationS, r.ServerConnections)
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "  error: %s\n", e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// setMoves records the moved clients' times (seconds, any order):
// MoveAfterS sorted, its median and its maximum.
func (r *Result) setMoves(moves []float64) {
	r.MoveAfterS = slices.Sorted(slices.Values(moves))
	r.MoveAfterP50S, r.MoveAfterMaxS = 0, 0
	if n := len(r.MoveAfterS); n > 0 {
		r.MoveAfterP50S, r.MoveAfterMaxS = r.MoveAfterS[n/2], r.MoveAfterS[n-1]
	}
}

// WireSize is the packets of one direction ("up": clients to edge,
// "down": edge to clients) at most Max IP bytes long (and longer than the
// previous class).
type WireSize struct {
	Dir     string `json:"dir"`
	Max     int    `json:"max"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}
