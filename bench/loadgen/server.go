package loadgen

import (
	"context"
	"errors"
	"math"
	"time"

	"github.com/edgegate/edgegate/bench/metrics"
)

// scrape reads every edge's /metrics and sums the figures.
func (e *env) scrape(ctx context.Context) (metrics.NodeStats, error) {
	each, err := e.scrapeEach(ctx)
	return sumStats(each), err
}

// scrapeEach reads every edge's /metrics: one entry per Addrs, nil for an
// edge that did not answer.
func (e *env) scrapeEach(ctx context.Context) ([]*metrics.NodeStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out := make([]*metrics.NodeStats, len(e.o.Addrs))
	var errs []error
	for i, a := range e.o.Addrs {
		n, err := e.scraper.ScrapeNode(ctx, "http://"+a+"/metrics")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[i] = &n
	}
	return out, errors.Join(errs...)
}

// sameProcesses keeps the edges scraped both before and after a phase by
// the same process (CPU time did not go backwards: not restarted), so
// their differences are what that phase cost; an edge killed or
// restarted in between is left out of both.
func sameProcesses(before, after []*metrics.NodeStats) (b, a metrics.NodeStats) {
	var bs, as []*metrics.NodeStats
	for i := range before {
		if before[i] != nil && after[i] != nil && after[i].CPUSeconds >= before[i].CPUSeconds {
			bs, as = append(bs, before[i]), append(as, after[i])
		}
	}
	return sumStats(bs), sumStats(as)
}

// sumStats adds up edges' figures (nil entries skipped).
func sumStats(nodes []*metrics.NodeStats) metrics.NodeStats {
	var sum metrics.NodeStats
	for _, n := range nodes {
		if n == nil {
			continue
		}
		sum.RSSBytes += n.RSSBytes
		sum.CPUSeconds += n.CPUSeconds
		sum.Connections += n.Connections
		sum.FECRecovered += n.FECRecovered
		sum.FECRetransmitted += n.FECRetransmitted
		sum.FECDataPackets += n.FECDataPackets
		sum.FECUnrecoverable += n.FECUnrecoverable
	}
	return sum
}

// settle polls the edges until their RSS stops moving (three consecutive
// samples within 1% or 256 KiB of each other) and, when the edges export
// edgegate_connections, at least wantConns are open — or until max has
// passed. It returns the last sample.
func (e *env) settle(ctx context.Context, wantConns int, maxWait time.Duration) (metrics.NodeStats, error) {
	deadline := time.Now().Add(maxWait)
	const interval = 500 * time.Millisecond
	var last metrics.NodeStats
	stable := 0
	for i := 0; ; i++ {
		n, err := e.scrape(ctx)
		if err != nil {
			return n, err
		}
		if i > 0 {
			d := math.Abs(float64(n.RSSBytes) - float64(last.RSSBytes))
			if d <= max(0.01*float64(last.RSSBytes), 256<<10) {
				stable++
			} else {
				stable = 0
			}
		}
		last = n
		connsOK := n.Connections == 0 || n.Connections >= float64(wantConns)
		// Stable for 5 s: long enough to span a GC cycle and the edge's
		// post-burst memory release (2 s after the last handshake), so
		// the figure is the steady state a long-lived edge sees.
		if (stable >= 10 && connsOK) || !time.Now().Before(deadline) {
			return last, nil
		}
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-t.C:
		}
	}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
