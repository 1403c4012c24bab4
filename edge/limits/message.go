package limits

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// MessageLimiter limits one session's messages and detects flooding: a
// client that keeps sending while it is being rejected, instead of waiting
// the retry-after it was told. It is safe for concurrent use, though a
// session normally calls it from its one reader goroutine.
//
// A violation is a rejected Allow. Violations count while consecutive: an
// allowed message resets the count. With a window, a streak also restarts
// when a violation comes more than window after the streak's first one, so
// only maxViolations rejections within window count as flooding.
type MessageLimiter struct {
	lim           *rate.Limiter
	maxViolations int
	window        time.Duration
	now           func() time.Time

	mu          sync.Mutex
	violations  int
	streakStart time.Time
}

// NewMessageLimiter allows r messages per second with bursts of burst.
// Flooding reports true after maxViolations consecutive rejections
// (maxViolations <= 0: never) within window (window <= 0: no time bound).
func NewMessageLimiter(r rate.Limit, burst, maxViolations int, window time.Duration) *MessageLimiter {
	return &MessageLimiter{
		lim:           rate.NewLimiter(r, burst),
		maxViolations: maxViolations,
		window:        window,
		now:           time.Now,
	}
}

// Allow reports whether one message may be accepted now, consuming a token
// if so. When it may not, retryAfter is how long until a token is free
// (the value for an Error's retry_after_ms); it is -1 if no message can
// ever be accepted (burst <= 0).
func (m *MessageLimiter) Allow() (ok bool, retryAfter time.Duration) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	res := m.lim.ReserveN(now, 1)
	if !res.OK() {
		m.violateLocked(now)
		return false, -1
	}
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		m.violateLocked(now)
		return false, d
	}
	m.violations = 0
	return true, 0
}

func (m *MessageLimiter) violateLocked(now time.Time) {
	if m.violations == 0 || (m.window > 0 && now.Sub(m.streakStart) > m.window) {
		m.violations = 0
		m.streakStart = now
	}
	m.violations++
}

// Flooding reports whether the current streak of rejections has reached
// maxViolations; the caller should close the session (RATE_LIMITED, close
// 4008).
func (m *MessageLimiter) Flooding() bool {
	if m.maxViolations <= 0 {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.violations >= m.maxViolations
}

// Violations returns the length of the current streak of rejections.
func (m *MessageLimiter) Violations() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.violations
}
