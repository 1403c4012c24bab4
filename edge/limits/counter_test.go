package limits

import (
	"sync"
	"sync/atomic"
	"testing"
)

func TestCounter(t *testing.T) {
	c := NewCounter(2)
	for i := range 2 {
		if !c.TryAcquire() {
			t.Fatalf("acquire %d under max failed", i)
		}
	}
	if c.TryAcquire() {
		t.Fatal("acquired past max")
	}
	if c.Load() != 2 {
		t.Fatalf("Load = %d", c.Load())
	}
	c.Release()
	if !c.TryAcquire() {
		t.Fatal("acquire after release failed")
	}
	c.Release()
	c.Release()
	c.Release() // unmatched: stays at zero
	if c.Load() != 0 {
		t.Fatalf("Load after releases = %d", c.Load())
	}
	if !c.TryAcquire() {
		t.Fatal("extra Release broke the counter")
	}

	u := NewCounter(0)
	for range 1000 {
		if !u.TryAcquire() {
			t.Fatal("unlimited counter refused")
		}
	}
	if u.Load() != 1000 || u.Max() != 0 {
		t.Fatalf("unlimited Load = %d Max = %d", u.Load(), u.Max())
	}
}

func TestCounterConcurrentNeverExceedsMax(t *testing.T) {
	const max = 10
	c := NewCounter(max)
	var holders, peak, acquired atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 2000 {
				if !c.TryAcquire() {
					continue
				}
				acquired.Add(1)
				h := holders.Add(1)
				for {
					p := peak.Load()
					if h <= p || peak.CompareAndSwap(p, h) {
						break
					}
				}
				if n := c.Load(); n > max {
					t.Errorf("Load = %d > max", n)
				}
				holders.Add(-1)
				c.Release()
			}
		})
	}
	wg.Wait()
	if peak.Load() > max {
		t.Fatalf("peak holders %d > max %d", peak.Load(), max)
	}
	if acquired.Load() == 0 {
		t.Fatal("nothing acquired")
	}
	if c.Load() != 0 {
		t.Fatalf("Load at end = %d", c.Load())
	}

	// Without releases exactly max acquisitions succeed.
	c2 := NewCounter(max)
	var ok atomic.Int64
	for range 16 {
		wg.Go(func() {
			for range 100 {
				if c2.TryAcquire() {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != max {
		t.Fatalf("%d acquisitions succeeded, want %d", ok.Load(), max)
	}
}
