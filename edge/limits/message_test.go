package limits

import (
	"sync"
	"testing"
	"time"
)

func TestMessageLimiter(t *testing.T) {
	type step struct {
		advance   time.Duration
		wantOK    bool
		wantRetry time.Duration
		flooding  bool
	}
	tests := []struct {
		name          string
		maxViolations int
		window        time.Duration
		steps         []step
	}{
		{"burst then retry-after", 3, 0, []step{
			{0, true, 0, false},
			{0, true, 0, false},
			{0, false, 100 * time.Millisecond, false},
			{40 * time.Millisecond, false, 60 * time.Millisecond, false},
			{0, false, 60 * time.Millisecond, true}, // 3 in a row
			{60 * time.Millisecond, true, 0, false}, // accepted: streak resets
			{0, false, 100 * time.Millisecond, false},
		}},
		{"window restarts streak", 3, 50 * time.Millisecond, []step{
			{0, true, 0, false},
			{0, true, 0, false},
			{0, false, 100 * time.Millisecond, false},
			{30 * time.Millisecond, false, 70 * time.Millisecond, false},
			{30 * time.Millisecond, false, 40 * time.Millisecond, false}, // 60 ms after first: new streak
			{10 * time.Millisecond, false, 30 * time.Millisecond, false},
			{10 * time.Millisecond, false, 20 * time.Millisecond, true},
		}},
		{"never flooding when disabled", 0, 0, []step{
			{0, true, 0, false},
			{0, true, 0, false},
			{0, false, 100 * time.Millisecond, false},
			{0, false, 100 * time.Millisecond, false},
			{0, false, 100 * time.Millisecond, false},
			{0, false, 100 * time.Millisecond, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			m := NewMessageLimiter(10, 2, tc.maxViolations, tc.window)
			m.now = clk.now
			for i, s := range tc.steps {
				clk.advance(s.advance)
				ok, retry := m.Allow()
				// rate computes delays in float seconds: allow 1 µs of rounding.
				if ok != s.wantOK || (retry-s.wantRetry).Abs() > time.Microsecond {
					t.Fatalf("step %d: Allow = %v, %v; want %v, %v", i, ok, retry, s.wantOK, s.wantRetry)
				}
				if f := m.Flooding(); f != s.flooding {
					t.Fatalf("step %d: Flooding = %v (violations %d), want %v", i, f, m.Violations(), s.flooding)
				}
			}
		})
	}
}

func TestMessageLimiterRejectionDoesNotConsume(t *testing.T) {
	clk := newFakeClock()
	m := NewMessageLimiter(10, 1, 0, 0)
	m.now = clk.now
	if ok, _ := m.Allow(); !ok {
		t.Fatal("first message denied")
	}
	for range 50 {
		if ok, _ := m.Allow(); ok {
			t.Fatal("allowed past burst")
		}
	}
	clk.advance(100 * time.Millisecond)
	if ok, _ := m.Allow(); !ok {
		t.Fatal("rejected attempts consumed tokens")
	}
}

func TestMessageLimiterZeroBurst(t *testing.T) {
	m := NewMessageLimiter(10, 0, 2, 0)
	ok, retry := m.Allow()
	if ok || retry != -1 {
		t.Fatalf("Allow = %v, %v; want false, -1", ok, retry)
	}
	m.Allow()
	if !m.Flooding() {
		t.Fatal("not flooding after 2 violations")
	}
}

func TestMessageLimiterConcurrent(t *testing.T) {
	m := NewMessageLimiter(1, 10, 5, 0)
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := m.Allow(); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
				m.Flooding()
			}
		})
	}
	wg.Wait()
	// 800 attempts within well under a second at 1/s with burst 10.
	if allowed < 10 || allowed > 12 {
		t.Fatalf("allowed %d, want about 10", allowed)
	}
	if !m.Flooding() {
		t.Fatal("a burst of 790 rejections is not flooding")
	}
}
