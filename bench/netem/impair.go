package netem

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Impairment describes what one direction of a Link does to packets.
type Impairment struct {
	// Delay is the one-way delay added to every packet.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter).
	Jitter time.Duration
	// Loss is the probability that a packet is dropped, in [0, 1). With
	// BurstLen > 1 it is the long-run loss rate of a Gilbert-Elliott
	// model whose bad state drops everything and lasts BurstLen packets
	// on average; with BurstLen <= 1 losses are independent.
	Loss float64
	// BurstLen is the mean length of a loss burst (Gilbert-Elliott).
	BurstLen float64
	// RateBps limits the direction's throughput in bits per second
	// (0: unlimited). Packets queue behind each other's transmission.
	RateBps int64
	// MaxQueue drops a packet (tail drop) when it would wait longer than
	// this in the rate limiter's queue. Default 200 ms.
	MaxQueue time.Duration
}

// Validate checks the values.
func (im Impairment) Validate() error {
	switch {
	case im.Delay < 0 || im.Jitter < 0 || im.MaxQueue < 0:
		return errors.New("netem: negative delay, jitter or queue")
	case im.Loss < 0 || im.Loss >= 1:
		return fmt.Errorf("netem: loss %v not in [0, 1)", im.Loss)
	case im.BurstLen < 0:
		return fmt.Errorf("netem: burst length %v is negative", im.BurstLen)
	case im.RateBps < 0:
		return fmt.Errorf("netem: rate %d is negative", im.RateBps)
	case im.BurstLen > 1 && im.Loss > 0 && im.Loss/(1-im.Loss)/im.BurstLen >= 1:
		return fmt.Errorf("netem: loss %v with mean burst %v is not reachable", im.Loss, im.BurstLen)
	}
	return nil
}

// impairer applies an Impairment to a sequence of packets. It is not safe
// for concurrent use: each direction has its own.
type impairer struct {
	im       Impairment
	lossOff  *atomic.Bool // set: no packet is lost any more (Link.StopLoss)
	rng      *rand.Rand
	bad      bool      // Gilbert-Elliott state
	pGB, pBG float64   // transition probabilities good->bad, bad->good
	lastOut  time.Time // departure of the previous packet (order, rate)
	busy     time.Time // when the rate limiter's link becomes free

	// Counters.
	packets, dropped, queueDrops uint64
}

func newImpairer(im Impairment, seed uint64) *impairer {
	if im.MaxQueue == 0 {
		im.MaxQueue = 200 * time.Millisecond
	}
	p := &impairer{im: im, rng: rand.New(rand.NewPCG(seed, seed^0x5DEECE66D))}
	if im.BurstLen > 1 && im.Loss > 0 {
		// Bad state drops everything and lasts BurstLen packets on
		// average: pBG = 1/BurstLen. The stationary share of the bad
		// state is pGB/(pGB+pBG), which must equal Loss.
		p.pBG = 1 / im.BurstLen
		p.pGB = im.Loss * p.pBG / (1 - im.Loss)
	}
	return p
}

// decide returns when a packet of n bytes arriving at now leaves the
// emulated link, or drop.
func (p *impairer) decide(n int, now time.Time) (at time.Time, drop bool) {
	p.packets++
	if p.lost() {
		p.dropped++
		return time.Time{}, true
	}
	start := now
	if p.im.RateBps > 0 {
		if p.busy.After(start) {
			start = p.busy
		}
		if start.Sub(now) > p.im.MaxQueue {
			p.queueDrops++
			p.dropped++
			return time.Time{}, true
		}
		tx := time.Duration(int64(n) * 8 * int64(time.Second) / p.im.RateBps)
		p.busy = start.Add(tx)
		start = p.busy
	}
	at = start.Add(p.im.Delay)
	if p.im.Jitter > 0 {
		at = at.Add(time.Duration(p.rng.Int64N(int64(p.im.Jitter))))
	}
	if at.Before(p.lastOut) {
		at = p.lastOut // jitter never reorders
	}
	p.lastOut = at
	return at, false
}

// lost draws the loss decision for one packet.
func (p *impairer) lost() bool {
	if p.im.Loss == 0 || (p.lossOff != nil && p.lossOff.Load()) {
		return false
	}
	if p.pBG == 0 {
		return p.rng.Float64() < p.im.Loss
	}
	if p.bad {
		if p.rng.Float64() < p.pBG {
			p.bad = false
		}
	} else if p.rng.Float64() < p.pGB {
		p.bad = true
	}
	return p.bad
}
