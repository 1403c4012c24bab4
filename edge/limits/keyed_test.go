package limits

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

func TestKeyedLimiterBurstAndRefill(t *testing.T) {
	clk := newFakeClock()
	k := NewKeyedLimiter(10, 3, 100) // 10/s, burst 3
	k.now = clk.now
	steps := []struct {
		key     string
		advance time.Duration
		want    bool
	}{
		{"a", 0, true},
		{"a", 0, true},
		{"a", 0, true},
		{"a", 0, false}, // burst spent
		{"b", 0, true},  // other keys are independent
		{"a", 50 * time.Millisecond, false},
		{"a", 50 * time.Millisecond, true}, // 100 ms = one token
		{"a", 0, false},
	}
	for i, s := range steps {
		clk.advance(s.advance)
		if got := k.Allow(s.key); got != s.want {
			t.Fatalf("step %d: Allow(%q) = %v, want %v", i, s.key, got, s.want)
		}
	}
}

func TestKeyedLimiterIdleSweep(t *testing.T) {
	clk := newFakeClock()
	k := NewKeyedLimiter(10, 5, 100) // refills fully in 500 ms
	k.now = clk.now
	for i := range 50 {
		k.Allow(fmt.Sprint("ip", i))
	}
	if k.Len() != 50 {
		t.Fatalf("Len = %d, want 50", k.Len())
	}
	clk.advance(499 * time.Millisecond)
	k.Allow("fresh")
	if k.Len() != 51 {
		t.Fatalf("swept too early: Len = %d", k.Len())
	}
	clk.advance(time.Millisecond)
	k.Allow("fresh")
	if k.Len() != 1 {
		t.Fatalf("idle buckets not swept: Len = %d, want 1", k.Len())
	}
	if k.Evicted() != 0 {
		t.Fatalf("Evicted = %d, want 0 (idle sweep is not eviction)", k.Evicted())
	}
}

func TestKeyedLimiterBoundedLRU(t *testing.T) {
	clk := newFakeClock()
	k := NewKeyedLimiter(1, 2, 3)
	k.now = clk.now
	// Exhaust "a", then touch b, c, and a again so b is least recent.
	k.Allow("a")
	k.Allow("a")
	k.Allow("b")
	k.Allow("c")
	if k.Allow("a") {
		t.Fatal("a should be exhausted")
	}
	k.Allow("d") // evicts b (LRU), not a
	if k.Len() != 3 || k.Evicted() != 1 {
		t.Fatalf("Len = %d, Evicted = %d; want 3, 1", k.Len(), k.Evicted())
	}
	if k.Allow("a") {
		t.Fatal("a was evicted instead of the least recently used key")
	}
	for i := range 1000 {
		k.Allow(fmt.Sprint("flood", i))
		if k.Len() > 3 {
			t.Fatalf("Len = %d exceeds maxKeys", k.Len())
		}
	}
}

func TestKeyedLimiterSpecialRates(t *testing.T) {
	inf := NewKeyedLimiter(rate.Inf, 0, 10)
	for range 100 {
		if !inf.Allow("x") {
			t.Fatal("rate.Inf denied")
		}
	}
	if inf.Len() != 0 {
		t.Fatalf("rate.Inf tracked %d keys", inf.Len())
	}
	zero := NewKeyedLimiter(0, 2, 10)
	for i, want := range []bool{true, true, false} {
		if got := zero.Allow("x"); got != want {
			t.Fatalf("rate 0, event %d: Allow = %v, want %v", i, got, want)
		}
	}
	noBurst := NewKeyedLimiter(100, 0, 10)
	if noBurst.Allow("x") {
		t.Fatal("burst 0 allowed an event")
	}
	def := NewKeyedLimiter(1, 1, 0)
	if def.maxKeys != DefaultMaxKeys {
		t.Fatalf("maxKeys default = %d", def.maxKeys)
	}
}

func TestKeyedLimiterConcurrent(t *testing.T) {
	// One hot key shared by all goroutines: exactly burst events pass.
	k := NewKeyedLimiter(rate.Every(time.Hour), 5, 1000)
	var allowed atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 300 {
				if k.Allow("shared") {
					allowed.Add(1)
				}
				k.Allow(fmt.Sprint("k", g, "-", i%50)) // 400 other keys, all resident
			}
		})
	}
	wg.Wait()
	if got := allowed.Load(); got != 5 {
		t.Fatalf("allowed %d shared events, want burst (5)", got)
	}
	if k.Len() != 401 || k.Evicted() != 0 {
		t.Fatalf("Len = %d, Evicted = %d; want 401, 0", k.Len(), k.Evicted())
	}
}

func TestKeyedLimiterConcurrentChurnBounded(t *testing.T) {
	k := NewKeyedLimiter(rate.Every(time.Hour), 1, 64)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				k.Allow(fmt.Sprint("k", g, "-", i))
				if n := k.Len(); n > 64 {
					t.Errorf("Len = %d exceeds maxKeys", n)
					return
				}
			}
		})
	}
	wg.Wait()
	if k.Len() != 64 || k.Evicted() != 8000-64 {
		t.Fatalf("Len = %d, Evicted = %d; want 64, %d", k.Len(), k.Evicted(), 8000-64)
	}
}

func BenchmarkKeyedLimiterAllow(b *testing.B) {
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	b.Run("resident", func(b *testing.B) {
		k := NewKeyedLimiter(100, 100, len(keys))
		i := 0
		for b.Loop() {
			k.Allow(keys[i%len(keys)])
			i++
		}
	})
	b.Run("churn", func(b *testing.B) {
		k := NewKeyedLimiter(100, 100, 1024) // every call evicts
		i := 0
		for b.Loop() {
			k.Allow(keys[i%len(keys)])
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		k := NewKeyedLimiter(100, 100, 1024)
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				k.Allow(keys[i%len(keys)])
				i++
			}
		})
	})
}
