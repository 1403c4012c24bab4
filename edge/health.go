package edge

import (
	"fmt"
	"math"
)

// The health score: how well this node can take more clients, 0 (do not
// send anyone here) to 100. Each node scores itself every
// metaRefreshEvery from one interval's healthSample, gossips the score
// (gossip.Meta.Health), exports it (edgegate_health_score) and shows it on
// /status; GET /v1/route and the drain redirect skip nodes below
// routeMinHealth and prefer higher scores.
//
// Formula. Every input x becomes a load u = ramp(x, good, bad) in [0, 1]:
// 0 up to good, 1 from bad on, linear between. Then
//
//	capacity = 1 - max(u_connections, u_cpu, u_lag)
//	quality  = (1 - 0.3 u_backlog) (1 - 0.3 u_errors) (1 - 0.3 u_loss)
//	score    = round(100 * capacity * quality), 0 while draining
//
// The capacity inputs are hard limits: the most saturated one alone can
// take the node to 0 (full, CPU-bound or its scheduler far behind). The
// quality inputs are symptoms that may come from clients or their
// networks rather than from the node: each takes off at most 30%, so a
// node with all three at their worst still scores 34 and stays usable if
// nothing better exists. The thresholds are in healthInputs.

// healthSample is one interval's view of the node, the score's only
// input (scoreHealth is a pure function of it).
type healthSample struct {
	// Draining is set while the node sheds its clients.
	Draining bool
	// Connections and Capacity: client connections held and the cap
	// (Config.MaxConnections; 0: unknown, the input is then left out).
	Connections, Capacity float64
	// CPU is the process's CPU time over the interval divided by the
	// interval and the usable cores (0-1).
	CPU float64
	// LagSeconds is the scheduler latency, p99 over the interval: how
	// long runnable goroutines (session readers and writers, fan-outs)
	// waited for a thread (runtime/metrics /sched/latencies:seconds).
	LagSeconds float64
	// BacklogPerSec counts, per second, deliveries that could not keep up:
	// live comments dropped for slow viewers, conversation queues that
	// overflowed to the store and slow consumers closed.
	BacklogPerSec float64
	// ErrorsPerSec counts, per second, malformed frames received and
	// server-side errors sent (OVERLOADED, INTERNAL, UNAVAILABLE) or met
	// while ordering.
	ErrorsPerSec float64
	// LinkLoss is the share of data the node had to send again on its
	// client links over the interval: TCP retransmissions of WebSocket
	// clients (TCP_INFO, read at every Pong) and quic-fec packets lost,
	// over segments and FEC data packets sent (0-1).
	LinkLoss float64
}

// healthInput is one input of the score with its thresholds.
type healthInput struct {
	name      string
	good, bad float64
	capacity  bool // a hard limit (capacity factor), else a quality symptom
	value     func(healthSample) float64
	reason    func(x float64) string
}

// qualityWeight is the share of the score one quality input can take off.
const qualityWeight = 0.3

// healthInputs are the score's inputs, in the order the gauges and the
// reasons list them.
var healthInputs = []healthInput{
	{"connections", 0.7, 1.0, true, func(s healthSample) float64 {
		if s.Capacity <= 0 {
			return 0
		}
		return s.Connections / s.Capacity
	}, func(x float64) string { return fmt.Sprintf("connections at %.0f%% of the cap", 100*x) }},
	{"cpu", 0.6, 0.95, true, func(s healthSample) float64 { return s.CPU },
		func(x float64) string { return fmt.Sprintf("CPU at %.0f%% of the cores", 100*x) }},
	{"lag", 0.010, 0.250, true, func(s healthSample) float64 { return s.LagSeconds },
		func(x float64) string { return fmt.Sprintf("scheduler lag p99 %.0f ms", 1000*x) }},
	{"backlog", 1, 100, false, func(s healthSample) float64 { return s.BacklogPerSec },
		func(x float64) string { return fmt.Sprintf("%.1f deliveries/s falling behind", x) }},
	{"errors", 1, 50, false, func(s healthSample) float64 { return s.ErrorsPerSec },
		func(x float64) string { return fmt.Sprintf("%.1f errors/s", x) }},
	{"loss", 0.02, 0.15, false, func(s healthSample) float64 { return s.LinkLoss },
		func(x float64) string { return fmt.Sprintf("%.1f%% loss on client links", 100*x) }},
}

// health is a scored sample: the score, each input's load u (0-1, by
// healthInputs name) and a reason for every input that took points off.
type health struct {
	Score   int                `json:"score"`
	Reasons []string           `json:"reasons"`
	Loads   map[string]float64 `json:"loads,omitempty"`
}

// scoreHealth scores a sample (see the formula above).
func scoreHealth(s healthSample) health {
	h := health{Reasons: []string{}, Loads: make(map[string]float64, len(healthInputs))}
	worst, quality := 0.0, 1.0
	for _, in := range healthInputs {
		x := in.value(s)
		u := ramp(x, in.good, in.bad)
		h.Loads[in.name] = u
		if u > 0 {
			h.Reasons = append(h.Reasons, in.reason(x))
		}
		if in.capacity {
			worst = max(worst, u)
		} else {
			quality *= 1 - qualityWeight*u
		}
	}
	h.Score = int(math.Round(100 * (1 - worst) * quality))
	if s.Draining {
		h.Score = 0
		h.Reasons = append([]string{"draining"}, h.Reasons...)
	}
	return h
}

// ramp maps x to 0 at or below good, 1 at or above bad, linearly between;
// NaN (a broken input) counts as 0 rather than poisoning the score.
func ramp(x, good, bad float64) float64 {
	switch {
	case math.IsNaN(x) || x <= good:
		return 0
	case x >= bad:
		return 1
	}
	return (x - good) / (bad - good)
}
