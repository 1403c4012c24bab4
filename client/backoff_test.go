package client

import (
	"testing"
	"time"
)

func TestBackoffFullJitterBounds(t *testing.T) {
	ms := time.Millisecond
	b := backoff{min: 100 * ms, max: 10 * time.Second}
	wantCeil := []time.Duration{100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms, 10 * time.Second, 10 * time.Second}
	for i, w := range wantCeil {
		if got := b.ceiling(i); got != w {
			t.Errorf("ceiling(%d) = %v, want %v", i, got, w)
		}
	}
	if got := b.ceiling(1000); got != 10*time.Second {
		t.Errorf("ceiling(1000) = %v (overflow?)", got)
	}
	// The injected source sees the full range [0, ceiling].
	lo := backoff{min: b.min, max: b.max, randN: func(int64) int64 { return 0 }}
	hi := backoff{min: b.min, max: b.max, randN: func(n int64) int64 { return n - 1 }}
	for i := range wantCeil {
		if lo.delay(i) != 0 || hi.delay(i) != wantCeil[i] {
			t.Errorf("attempt %d: delay range [%v, %v], want [0, %v]", i, lo.delay(i), hi.delay(i), wantCeil[i])
		}
	}
	// The real source stays inside the bounds and spreads out.
	var sum time.Duration
	const n = 2000
	for i := 0; i < n; i++ {
		d := b.delay(3)
		if d < 0 || d > 800*ms {
			t.Fatalf("delay(3) = %v outside [0, 800ms]", d)
		}
		sum += d
	}
	if mean := sum / n; mean < 300*ms || mean > 500*ms {
		t.Errorf("mean delay(3) = %v, want about 400ms (uniform)", mean)
	}
}
