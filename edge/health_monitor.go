package edge

import (
	"math"
	"runtime"
	rtmetrics "runtime/metrics"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/transport/pb"
)

// schedLatencies is the runtime metric the lag input reads.
const schedLatencies = "/sched/latencies:seconds"

// serverErrorCodes are the error frames that count as the node's own
// errors in the health score (the others answer clients' mistakes).
var serverErrorCodes = []string{
	pb.ErrorCode_ERROR_CODE_OVERLOADED.String(),
	pb.ErrorCode_ERROR_CODE_INTERNAL.String(),
	pb.ErrorCode_ERROR_CODE_UNAVAILABLE.String(),
}

// healthMonitor turns the node's counters into a healthSample per
// interval (differences of totals since the previous sample) and keeps
// the last score. Its link counters are fed by the sessions (reportLink).
type healthMonitor struct {
	srv *Server

	linkSegments prometheus.Counter // TCP data segments sent to clients, at Pongs
	linkRetrans  prometheus.Counter // of which retransmitted
	score        prometheus.Gauge
	loads        *prometheus.GaugeVec

	mu     sync.Mutex
	last   health
	prev   healthTotals
	prevAt time.Time
}

// healthTotals are the cumulative figures a sample is the difference of.
type healthTotals struct {
	cpuSeconds, backlog, errors, lossNum, lossDen float64
	sched                                         []uint64 // /sched/latencies bucket counts
	buckets                                       []float64
}

func newHealthMonitor(srv *Server, reg *prometheus.Registry) *healthMonitor {
	h := &healthMonitor{srv: srv, last: scoreHealth(healthSample{})}
	h.linkSegments = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_link_segments_out_total", Help: "TCP data segments sent to WebSocket clients, read from TCP_INFO at every Pong (Linux)."})
	h.linkRetrans = prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_link_retransmits_total", Help: "TCP segments retransmitted to WebSocket clients, read from TCP_INFO at every Pong (Linux)."})
	h.score = prometheus.NewGauge(prometheus.GaugeOpts{Name: "edgegate_health_score", Help: "This node's health score, 0 (send no client here) to 100, as gossiped to the cluster (edge/health.go)."})
	h.loads = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "edgegate_health_load", Help: "Each health score input's load, 0 (fine) to 1 (at its limit), over the last interval."}, []string{"input"})
	reg.MustRegister(h.linkSegments, h.linkRetrans, h.score, h.loads)
	h.publish(h.last)
	h.prev, h.prevAt = h.totals(), time.Now()
	return h
}

// totals reads the cumulative figures now.
func (h *healthMonitor) totals() healthTotals {
	var t healthTotals
	if g, err := gather(h.srv.m.reg); err == nil {
		t.cpuSeconds = g.total("process_cpu_seconds_total")
		t.backlog = g.total("edgegate_live_dropped_total") + g.total("edgegate_conv_queue_overflows_total") +
			g.total("edgegate_slow_consumers_closed_total")
		codes := g.byLabel("edgegate_errors_total", "code")
		t.errors = g.total("edgegate_bad_frames_total") + g.byLabel("edgegate_ordered_messages_total", "result")["error"]
		for _, c := range serverErrorCodes {
			t.errors += codes[c]
		}
		t.lossNum = g.total("edgegate_link_retransmits_total")
		t.lossDen = g.total("edgegate_link_segments_out_total")
	}
	fec := &h.srv.m.fec
	t.lossNum += float64(fec.Lost.Load())
	t.lossDen += float64(fec.DataPackets.Load())
	s := []rtmetrics.Sample{{Name: schedLatencies}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() == rtmetrics.KindFloat64Histogram {
		hist := s[0].Value.Float64Histogram()
		t.sched, t.buckets = hist.Counts, hist.Buckets
	}
	return t
}

// sample reads the totals at now and returns the interval's sample since
// the previous call (or since the monitor was made).
func (h *healthMonitor) sample(now time.Time) healthSample {
	t := h.totals()
	h.mu.Lock()
	prev, prevAt := h.prev, h.prevAt
	h.prev, h.prevAt = t, now
	h.mu.Unlock()
	s := healthSample{
		Draining:    h.srv.draining.Load(),
		Connections: float64(max(h.srv.conns.Load(), 0)),
		Capacity:    float64(h.srv.cfg.MaxConnections),
	}
	secs := now.Sub(prevAt).Seconds()
	if prevAt.IsZero() || secs <= 0 {
		return s
	}
	s.CPU = (t.cpuSeconds - prev.cpuSeconds) / secs / float64(runtime.GOMAXPROCS(0))
	s.BacklogPerSec = (t.backlog - prev.backlog) / secs
	s.ErrorsPerSec = (t.errors - prev.errors) / secs
	if den := t.lossDen - prev.lossDen; den > 0 {
		s.LinkLoss = (t.lossNum - prev.lossNum) / den
	}
	s.LagSeconds = histQuantile(prev.sched, t.sched, t.buckets, 0.99)
	return s
}

// refresh scores a new sample, publishes it and returns the score.
func (h *healthMonitor) refresh(now time.Time) health {
	res := scoreHealth(h.sample(now))
	h.mu.Lock()
	h.last = res
	h.mu.Unlock()
	h.publish(res)
	return res
}

func (h *healthMonitor) publish(res health) {
	h.score.Set(float64(res.Score))
	for name, u := range res.Loads {
		h.loads.WithLabelValues(name).Set(u)
	}
}

// current returns the last score; 0 once the node drains.
func (h *healthMonitor) current(draining bool) health {
	h.mu.Lock()
	res := h.last
	h.mu.Unlock()
	if draining { // also when the score was 0 already: say why first
		res.Score = 0
		res.Reasons = append([]string{"draining"}, res.Reasons...)
	}
	return res
}

// histQuantile returns the q quantile of the observations counted in cur
// but not in prev (runtime/metrics histograms: len(buckets) ==
// len(counts)+1, bucket i is [buckets[i], buckets[i+1])), as the upper
// bound of the bucket it falls in (its lower bound for the last,
// unbounded bucket); 0 without observations.
func histQuantile(prev, cur []uint64, buckets []float64, q float64) float64 {
	var n uint64
	delta := make([]uint64, len(cur))
	for i, c := range cur {
		if i < len(prev) && prev[i] <= c {
			c -= prev[i]
		}
		delta[i] = c
		n += c
	}
	if n == 0 || len(buckets) != len(cur)+1 {
		return 0
	}
	rank := uint64(q * float64(n))
	var seen uint64
	for i, c := range delta {
		seen += c
		if seen > rank {
			if hi := buckets[i+1]; !math.IsInf(hi, 1) {
				return hi
			}
			return max(buckets[i], 0)
		}
	}
	return 0
}
