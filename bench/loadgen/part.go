package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
)

// A part is one process's share of a scenario's clients: the whole
// scenario in single-process mode, or one child's share with --procs. The
// coordinator connects every part, runs its own phase (settle, publish),
// then finishes every part, which measures, closes its clients and
// returns its partial Result.
type part interface {
	// connect opens the part's clients.
	connect(ctx context.Context) (connected, failed int, err error)
	// finish completes the part (see finishMsg) and closes its clients.
	finish(ctx context.Context, f finishMsg) (*Result, error)
	// abort closes everything after a failure.
	abort()
}

// finishMsg is what the coordinator tells parts at the end.
type finishMsg struct {
	// Acked is how many comments the rooms publisher got acknowledged,
	// Sent how many it sent; Failed lists the seqs of unacknowledged
	// sends (rooms only).
	Acked  uint64   `json:"acked"`
	Sent   uint64   `json:"sent"`
	Failed []uint64 `json:"failed,omitempty"`
}

// newPart builds the part of spec for this process.
type newPartFunc func(e *env, base, n int) part

// connectParts connects every part concurrently.
func connectParts(ctx context.Context, parts []part) (connected, failed int, err error) {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, p := range parts {
		wg.Go(func() {
			c, f, e := p.connect(ctx)
			mu.Lock()
			defer mu.Unlock()
			connected += c
			failed += f
			if e != nil {
				errs = append(errs, e)
			}
		})
	}
	wg.Wait()
	return connected, failed, errors.Join(errs...)
}

// finishParts finishes every part concurrently and merges the results.
func finishParts(ctx context.Context, parts []part, f finishMsg) (*Result, error) {
	res := make([]*Result, len(parts))
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for i, p := range parts {
		wg.Go(func() { res[i], errs[i] = p.finish(ctx, f) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	out := &Result{latency: hist.New(), ackLatency: hist.New(), outage: hist.New(), latSame: hist.New(), latCross: hist.New(), latSteady: hist.New()}
	for _, r := range res {
		out.merge(r)
	}
	return out, nil
}

func abortParts(parts []part) {
	var wg sync.WaitGroup
	for _, p := range parts {
		wg.Go(p.abort)
	}
	wg.Wait()
}

// merge adds a part's counters and histograms to r.
func (r *Result) merge(p *Result) {
	r.Reconnects += p.Reconnects
	r.Sent += p.Sent
	r.Acked += p.Acked
	r.AckedBytes += p.AckedBytes
	r.SendErrors += p.SendErrors
	r.Delivered += p.Delivered
	r.Expected += p.Expected
	r.Lost += p.Lost
	r.Duplicates += p.Duplicates
	r.Reordered += p.Reordered
	r.Invalid += p.Invalid
	r.ServerDropped += p.ServerDropped
	r.FECRecovered = addCount(r.FECRecovered, p.FECRecovered)
	r.Moved += p.Moved
	r.Returned += p.Returned
	r.MoveDecidedMaxS = max(r.MoveDecidedMaxS, p.MoveDecidedMaxS)
	r.setMoves(append(r.MoveAfterS, p.MoveAfterS...))
	r.Retransmitted = addCount(r.Retransmitted, p.Retransmitted)
	r.FECDataPackets = addCount(r.FECDataPackets, p.FECDataPackets)
	r.FECUnrecoverable = addCount(r.FECUnrecoverable, p.FECUnrecoverable)
	r.latency.Merge(p.latency)
	r.ackLatency.Merge(p.ackLatency)
	for _, h := range [][2]*hist.Histogram{{r.outage, p.outage}, {r.latSame, p.latSame}, {r.latCross, p.latCross}, {r.latSteady, p.latSteady}} {
		if h[1] != nil {
			h[0].Merge(h[1])
		}
	}
	r.EdgeSwitches += p.EdgeSwitches
	for _, e := range p.Errors {
		r.addError("%s", e)
	}
}

// addCount adds optional counters (nil: not measured).
func addCount(a, b *uint64) *uint64 {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	sum := *a + *b
	return &sum
}

// splitN splits n into k near-equal shares.
func splitN(n, k int) []int {
	k = max(1, min(k, n))
	out := make([]int, k)
	for i := range out {
		out[i] = n / k
		if i < n%k {
			out[i]++
		}
	}
	return out
}

// buildParts returns in-process parts (procs <= 1) or child-process parts.
func buildParts(e *env, scenario string, n, procs int, spawn Spawner, spec childSpec, local newPartFunc) ([]part, error) {
	if procs <= 1 {
		return []part{local(e, 0, n)}, nil
	}
	if spawn == nil {
		return nil, fmt.Errorf("%w: --procs needs a way to start child processes", ErrConfig)
	}
	var parts []part
	base := 0
	for _, share := range splitN(n, procs) {
		s := spec
		s.Scenario, s.Base, s.N = scenario, base, share
		s.Options = e.o
		parts = append(parts, &remotePart{spawn: spawn, spec: s, log: e.o.Logger})
		base += share
	}
	return parts, nil
}

// since returns seconds since t.
func since(t time.Time) float64 { return time.Since(t).Seconds() }

// started is a scenario whose clients are connected.
type started struct {
	e                 *env
	parts             []part
	connected, failed int
	connectErr        error
	connectS          float64
}

// startScenario builds the scenario's parts (n clients over procs
// processes) and connects them; it fails when no client connected.
func startScenario(ctx context.Context, o Options, scenario, what string, n, procs int, spawn Spawner,
	spec childSpec, local newPartFunc) (*started, error) {
	e, err := newEnv(o)
	if err != nil {
		return nil, err
	}
	parts, err := buildParts(e, scenario, n, procs, spawn, spec, local)
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	st := &started{e: e, parts: parts}
	st.connected, st.failed, st.connectErr = connectParts(ctx, parts)
	st.connectS = since(t0)
	if st.connected == 0 {
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: %s: no %s connected: %w", scenario, what, st.connectErr)
	}
	return st, nil
}
