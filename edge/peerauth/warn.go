package peerauth

import (
	"sync/atomic"
	"time"
)

// WarnEvery is the least time between two Warn logs of refused handshakes
// that a WarnLimiter lets through: anyone who reaches a port can cause a
// refusal, and a Warn line each would let a scanner flood the logs.
const WarnEvery = 10 * time.Second

// WarnLimiter lets one Warn through per WarnEvery. The zero value is ready.
type WarnLimiter struct {
	last       atomic.Int64 // UnixNano of the last Warn
	suppressed atomic.Uint64
}

// Allow reports whether a Warn may be logged now, and how many were
// suppressed since the last one.
func (l *WarnLimiter) Allow(now time.Time) (bool, uint64) {
	last := l.last.Load()
	if (last != 0 && now.UnixNano()-last < int64(WarnEvery)) || !l.last.CompareAndSwap(last, now.UnixNano()) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
