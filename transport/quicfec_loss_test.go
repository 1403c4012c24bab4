package transport

import (
	"math/rand/v2"
	"testing"
)

// feedClean observes loss-free samples of n packets until the estimate is
// bare (below fecBareBelow) and returns the packets it took (or limit).
func feedClean(e *lossEstimator, n, limit int) int {
	sent := 0
	for sent < limit && e.rate() >= fecBareBelow {
		e.observe(0, uint64(n))
		sent += n
	}
	return sent
}

// TestLossEstimatorCleanPathGoesBare: from the 5% start, a clean path is
// bare within about a hundred packets, whatever the report size, and not
// after a few dozen (the start must protect the first seconds).
func TestLossEstimatorCleanPathGoesBare(t *testing.T) {
	for _, n := range []int{1, 8, 20, 40} {
		e := newLossEstimator(fecInitialLoss)
		if e.rate() < 0.04 {
			t.Fatalf("start %.4f, want the 5%% prior", e.rate())
		}
		got := feedClean(&e, n, 10_000)
		if got < 60 || got > 130 {
			t.Errorf("samples of %d: bare after %d clean packets, want 60-130", n, got)
		}
	}
	if e := newLossEstimator(-1); e.rate() != 0 {
		t.Fatalf("negative start gives %.4f, want 0 (bare)", e.rate())
	}
}

// TestLossEstimatorRisesAtOnce: a path known clean for a long time gets
// parity back with the first report that shows a loss.
func TestLossEstimatorRisesAtOnce(t *testing.T) {
	e := newLossEstimator(fecInitialLoss)
	feedClean(&e, 10, 10_000)
	for range 100 {
		e.observe(0, 10) // a long clean history: 1000 more packets
	}
	if e.rate() >= fecBareBelow {
		t.Fatalf("after 1000 clean packets: %.4f", e.rate())
	}
	e.observe(1, 10)
	if e.rate() < 0.01 {
		t.Fatalf("one loss in 10 packets after a clean history: %.4f, want >= 1%%", e.rate())
	}
}

// TestLossEstimatorTracksSteadyLoss: on paths with steady random loss the
// estimate stays near the true rate and, at 5% and above, never bare.
func TestLossEstimatorTracksSteadyLoss(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, p := range []float64{0.05, 0.10} {
		e := newLossEstimator(0)
		var sum float64
		const samples = 2000
		for i := range samples {
			var lost uint64
			for range 8 {
				if rng.Float64() < p {
					lost++
				}
			}
			e.observe(lost, 8)
			if i > 50 && e.rate() < fecBareBelow {
				t.Fatalf("p=%.2f: bare at sample %d", p, i)
			}
			sum += e.rate()
		}
		if mean := sum / samples; mean < 0.8*p || mean > 1.6*p {
			t.Errorf("p=%.2f: mean estimate %.4f", p, mean)
		}
	}
}
