package netem

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestRandomLossRate(t *testing.T) {
	p := newImpairer(Impairment{Loss: 0.05}, 1)
	now := time.Unix(0, 0)
	const n = 200000
	for range n {
		p.decide(100, now)
	}
	if got := float64(p.dropped) / n; math.Abs(got-0.05) > 0.005 {
		t.Fatalf("loss %.4f, want 0.05", got)
	}
}

func TestGilbertElliottBursts(t *testing.T) {
	p := newImpairer(Impairment{Loss: 0.05, BurstLen: 3}, 2)
	now := time.Unix(0, 0)
	const n = 400000
	var bursts, lost, run int
	for range n {
		if _, drop := p.decide(100, now); drop {
			lost++
			run++
		} else if run > 0 {
			bursts++
			run = 0
		}
	}
	rate := float64(lost) / n
	mean := float64(lost) / float64(bursts)
	if math.Abs(rate-0.05) > 0.006 || math.Abs(mean-3) > 0.3 {
		t.Fatalf("loss %.4f mean burst %.2f, want 0.05 and 3", rate, mean)
	}
}

func TestDelayJitterKeepOrder(t *testing.T) {
	p := newImpairer(Impairment{Delay: 50 * time.Millisecond, Jitter: 20 * time.Millisecond}, 3)
	now := time.Unix(0, 0)
	var last time.Time
	for i := range 10000 {
		arr := now.Add(time.Duration(i) * 100 * time.Microsecond)
		at, drop := p.decide(100, arr)
		if drop {
			t.Fatal("dropped without loss configured")
		}
		if d := at.Sub(arr); d < 50*time.Millisecond || d >= 70*time.Millisecond+10*time.Millisecond {
			t.Fatalf("packet %d delayed %v", i, d)
		}
		if at.Before(last) {
			t.Fatalf("packet %d leaves before the previous one", i)
		}
		last = at
	}
}

func TestRateLimitAndQueueDrop(t *testing.T) {
	// 1 Mbit/s: a 1250-byte packet takes 10 ms to send.
	p := newImpairer(Impairment{RateBps: 1_000_000, MaxQueue: 50 * time.Millisecond}, 4)
	now := time.Unix(0, 0)
	var sent []time.Time
	for range 10 {
		at, drop := p.decide(1250, now)
		if !drop {
			sent = append(sent, at)
		}
	}
	// 10 ms each; packets that would wait more than 50 ms are dropped.
	if len(sent) != 6 || p.queueDrops != 4 {
		t.Fatalf("%d sent, %d queue drops; want 6 and 4", len(sent), p.queueDrops)
	}
	for i, at := range sent {
		if want := now.Add(time.Duration(i+1) * 10 * time.Millisecond); !at.Equal(want) {
			t.Fatalf("packet %d leaves at %v, want %v", i, at.Sub(now), want.Sub(now))
		}
	}
}

func TestImpairmentValidate(t *testing.T) {
	for _, im := range []Impairment{{Loss: 1}, {Loss: -0.1}, {Delay: -1}, {RateBps: -1}, {BurstLen: -2}, {Loss: 0.9, BurstLen: 2}} {
		if im.Validate() == nil {
			t.Errorf("%+v accepted", im)
		}
	}
	if err := (Impairment{Loss: 0.1, BurstLen: 3, Delay: time.Millisecond}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestLossStops: once the link's loss is turned off (Link.StopLoss), no
// packet is lost, in either loss model.
func TestLossStops(t *testing.T) {
	for _, im := range []Impairment{{Loss: 0.1}, {Loss: 0.1, BurstLen: 3}} {
		var off atomic.Bool
		p := newImpairer(im, 3)
		p.lossOff = &off
		now := time.Unix(0, 0)
		for range 10000 {
			p.decide(100, now)
		}
		if p.dropped == 0 {
			t.Fatalf("%+v: no loss before StopLoss", im)
		}
		off.Store(true)
		before := p.dropped
		for range 10000 {
			p.decide(100, now)
		}
		if p.dropped != before {
			t.Fatalf("%+v: %d packets lost after StopLoss", im, p.dropped-before)
		}
	}
}
