package edge

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestScoreHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		s       healthSample
		want    int
		reasons int
	}{
		{"idle", healthSample{Capacity: 100}, 100, 0},
		{"no capacity known", healthSample{Connections: 5000}, 100, 0},
		{"connections at the good threshold", healthSample{Connections: 70, Capacity: 100}, 100, 0},
		{"connections half way", healthSample{Connections: 85, Capacity: 100}, 50, 1},
		{"full", healthSample{Connections: 100, Capacity: 100}, 0, 1},
		{"over the cap", healthSample{Connections: 120, Capacity: 100}, 0, 1},
		{"cpu bound", healthSample{CPU: 0.95}, 0, 1},
		{"cpu half way", healthSample{CPU: 0.775}, 50, 1},
		{"lag", healthSample{LagSeconds: 0.130}, 50, 1},
		// The worst capacity input decides, not their sum.
		{"two capacity inputs", healthSample{CPU: 0.775, Connections: 80, Capacity: 100}, 50, 2},
		// Quality inputs take off 30% each at most.
		{"errors at their worst", healthSample{ErrorsPerSec: 500}, 70, 1},
		{"backlog half way", healthSample{BacklogPerSec: 50.5}, 85, 1},
		{"loss at its worst", healthSample{LinkLoss: 0.5}, 70, 1},
		{"all quality inputs at their worst", healthSample{ErrorsPerSec: 500, BacklogPerSec: 500, LinkLoss: 1}, 34, 3},
		{"capacity and quality", healthSample{CPU: 0.775, LinkLoss: 1}, 35, 2},
		{"draining", healthSample{Draining: true}, 0, 1},
		{"NaN input", healthSample{CPU: math.NaN()}, 100, 0},
	} {
		h := scoreHealth(tc.s)
		if h.Score != tc.want || len(h.Reasons) != tc.reasons {
			t.Errorf("%s: scoreHealth(%+v) = %d %q, want %d with %d reasons", tc.name, tc.s, h.Score, h.Reasons, tc.want, tc.reasons)
		}
		if len(h.Loads) != len(healthInputs) {
			t.Errorf("%s: loads %v", tc.name, h.Loads)
		}
	}
}

func TestHistQuantile(t *testing.T) {
	buckets := []float64{math.Inf(-1), 0.001, 0.01, 0.1, math.Inf(1)}
	prev := []uint64{5, 100, 0, 0}
	cur := []uint64{5, 190, 9, 1} // new: 90 in [1 ms, 10 ms), 9 in [10 ms, 100 ms), 1 beyond
	if got := histQuantile(prev, cur, buckets, 0.5); got != 0.01 {
		t.Errorf("p50 = %v, want 0.01", got)
	}
	if got := histQuantile(prev, cur, buckets, 0.95); got != 0.1 {
		t.Errorf("p95 = %v, want 0.1", got)
	}
	if got := histQuantile(prev, cur, buckets, 0.999); got != 0.1 {
		t.Errorf("p99.9 = %v, want 0.1 (the unbounded bucket's lower bound)", got)
	}
	if got := histQuantile(cur, cur, buckets, 0.99); got != 0 {
		t.Errorf("no new observations: %v", got)
	}
	if got := histQuantile(nil, cur, buckets[:2], 0.99); got != 0 {
		t.Errorf("mismatched buckets: %v", got)
	}
}

func TestHealthMonitorRefreshes(t *testing.T) {
	// The connections input is the one that does not depend on the
	// machine: 9 clients of 10 allowed is a load of (0.9-0.7)/0.3. CPU and
	// scheduler lag are the test process's own and vary with the machine's
	// load, so only their presence is checked (their ramps are unit-tested
	// through scoreHealth above).
	e := startEdge(t, func(c *Config) { c.MaxConnections = 10 })
	tok := e.token("alice", nil, nil, time.Hour)
	for range 9 {
		e.dialRaw(t).connect(tok, nil)
	}
	h := e.srv.health.refresh(time.Now())
	if got, want := h.Loads["connections"], (0.9-0.7)/0.3; math.Abs(got-want) > 1e-9 {
		t.Fatalf("connections load %v, want %v (9 of 10): %+v", got, want, h)
	}
	for _, in := range healthInputs {
		if _, ok := h.Loads[in.name]; !ok {
			t.Errorf("no load for input %q", in.name)
		}
	}
	if h.Score > int(math.Round(100*(1-h.Loads["connections"]))) || h.Score < 0 {
		t.Fatalf("score %d above what the connections alone allow: %+v", h.Score, h)
	}
	if got := testutil.ToFloat64(e.srv.health.score); got != float64(h.Score) {
		t.Fatalf("edgegate_health_score %v, refresh returned %d", got, h.Score)
	}
	if got := e.srv.health.current(true); got.Score != 0 || got.Reasons[0] != "draining" {
		t.Fatalf("draining: %+v", got)
	}
}
