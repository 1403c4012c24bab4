package limits

import "sync/atomic"

// Counter counts holders of a limited resource (for example open
// connections) and refuses to go above a maximum. It is lock-free and safe
// for concurrent use.
type Counter struct {
	max int64
	n   atomic.Int64
}

// NewCounter returns a counter allowing at most max holders; max <= 0
// means unlimited.
func NewCounter(max int64) *Counter {
	return &Counter{max: max}
}

// TryAcquire takes one slot and reports true, or reports false without
// changing the count if the counter is at its maximum. The count never
// exceeds the maximum, even transiently.
func (c *Counter) TryAcquire() bool {
	if c.max <= 0 {
		c.n.Add(1)
		return true
	}
	for {
		n := c.n.Load()
		if n >= c.max {
			return false
		}
		if c.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release returns one slot taken by TryAcquire. A Release without a
// matching acquire is a caller bug; the count stays at zero rather than
// going negative.
func (c *Counter) Release() {
	for {
		n := c.n.Load()
		if n <= 0 {
			return
		}
		if c.n.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// Load returns the current count.
func (c *Counter) Load() int64 { return c.n.Load() }

// Max returns the maximum; 0 means unlimited.
func (c *Counter) Max() int64 { return max(c.max, 0) }
