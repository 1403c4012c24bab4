package client

import (
	"math/rand/v2"
	"time"
)

// backoff computes reconnect delays: exponential with full jitter.
type backoff struct {
	min, max time.Duration
	randN    func(n int64) int64 // uniform in [0, n)
}

// ceiling returns min(max, min*2^attempt) without overflowing.
func (b backoff) ceiling(attempt int) time.Duration {
	d := b.min
	for i := 0; i < attempt && d < b.max; i++ {
		d *= 2
	}
	return min(d, b.max)
}

// delay returns a uniformly random duration in [0, ceiling(attempt)].
func (b backoff) delay(attempt int) time.Duration {
	c := b.ceiling(attempt)
	if c <= 0 {
		return 0
	}
	rn := b.randN
	if rn == nil {
		rn = rand.Int64N
	}
	return time.Duration(rn(int64(c) + 1))
}
