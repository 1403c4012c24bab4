package loadgen

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/bench/hist"
	"github.com/edgegate/edgegate/bench/metrics"
)

func count(n uint64) *uint64 { return &n }

// TestFECCountsMergeAndResidualLoss: the quic-fec counts of two client
// processes and the edge's add up; the residual loss is computed from
// the totals, and left out when no FEC data packet was sent.
func TestFECCountsMergeAndResidualLoss(t *testing.T) {
	res := &Result{latency: hist.New(), ackLatency: hist.New()}
	for _, p := range []*Result{
		{FECRecovered: count(10), Retransmitted: count(2), FECDataPackets: count(400), FECUnrecoverable: count(1)},
		{FECRecovered: count(5), Retransmitted: count(0), FECDataPackets: count(100), FECUnrecoverable: count(0)},
	} {
		res.merge(p)
	}
	before := metrics.NodeStats{FECRecovered: 3, FECRetransmitted: 1, FECDataPackets: 50, FECUnrecoverable: 0}
	after := metrics.NodeStats{FECRecovered: 8, FECRetransmitted: 4, FECDataPackets: 550, FECUnrecoverable: 3}
	addEdgeFEC(res, before, after)
	res.finalize(0)
	if *res.FECRecovered != 20 || *res.Retransmitted != 5 || *res.FECDataPackets != 1000 || *res.FECUnrecoverable != 4 {
		t.Fatalf("recovered %d retransmitted %d data packets %d unrecoverable %d; want 20 5 1000 4",
			*res.FECRecovered, *res.Retransmitted, *res.FECDataPackets, *res.FECUnrecoverable)
	}
	if res.ResidualLoss == nil || *res.ResidualLoss != 0.004 {
		t.Fatalf("residual loss %v, want 0.004", res.ResidualLoss)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"fec_data_packets":1000`, `"fec_unrecoverable":4`, `"residual_loss":0.004`} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("JSON lacks %s: %s", want, b)
		}
	}

	// WebSocket: no FEC data packets, no residual loss; a failed scrape
	// (read as zeros) adds nothing.
	ws := &Result{FECDataPackets: count(0), FECUnrecoverable: count(0)}
	addEdgeFEC(ws, after, metrics.NodeStats{})
	ws.finalize(0)
	if ws.ResidualLoss != nil || *ws.FECDataPackets != 0 || *ws.FECUnrecoverable != 0 {
		t.Fatalf("residual loss %v, counts %d %d; want none", ws.ResidualLoss, *ws.FECDataPackets, *ws.FECUnrecoverable)
	}
}

// TestLatencySteadyMerges: the steady-state latency of two client
// processes adds up into latency_steady_ms, which is left out when no
// message was past its sender's start.
func TestLatencySteadyMerges(t *testing.T) {
	res := &Result{latency: hist.New(), ackLatency: hist.New(), latSteady: hist.New()}
	for _, ms := range []int64{10, 30} {
		p := &Result{latency: hist.New(), ackLatency: hist.New(), latSteady: hist.New()}
		p.latency.Record(ms * 1e6)
		p.latSteady.Record(ms * 1e6)
		res.merge(p)
	}
	res.finalize(0)
	if res.LatencySteady == nil || res.LatencySteady.Count != 2 || res.LatencySteady.Max < 29 {
		t.Fatalf("steady latency %+v, want 2 samples up to 30 ms", res.LatencySteady)
	}
	early := &Result{latency: hist.New(), ackLatency: hist.New(), latSteady: hist.New()}
	early.latency.Record(5e6)
	early.finalize(0)
	b, err := json.Marshal(early)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "latency_steady_ms") {
		t.Fatalf("latency_steady_ms without a steady sample: %s", b)
	}
}
