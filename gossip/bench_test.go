package gossip

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkMembership measures, with the default LAN preset timings and 50
// nodes in-process on the in-memory network (no loss, no delay):
//
//   - join-*-ms: from New returning for a 50th node (joined through one
//     seed) to each other node's join event; join-all-ms is the time until
//     the last node saw it (issue target: 2 s p99);
//   - dead-*-ms: from a node's abrupt Shutdown (no Leave) to each other
//     node's dead event; dead-all-ms is the time until the last one (issue
//     target: 10 s p99).
//
// Percentiles are over every observer of every iteration; an observer that
// has not seen the event after 10 s (join) or 30 s (dead) counts in
// join-missed or dead-missed with that timeout as its delay. One iteration
// takes about as long as a failure detection (~8 s); run with
// -benchtime=Nx for more samples:
//
//	go test -run xxx -bench Membership -benchtime 3x ./gossip/
func BenchmarkMembership(b *testing.B) {
	mc := newMemCluster(b, 11, PresetLAN)
	mc.tune = nil // the preset's timings, compression on
	// Setup joins every node to all earlier ones so the views are complete
	// at once instead of after the next push/pull (60 s at this size).
	for i := range largeN - 1 {
		mc.start(nodeName(i), mc.ids...)
	}
	waitUntil(b, 30*time.Second, "49 nodes to converge", mc.converged)
	rng := rand.New(rand.NewPCG(11, 2))
	var joins, deaths, joinAll, deadAll []time.Duration
	var joinMissed, deadMissed int

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		subs := subscribeAll(mc)
		id := fmt.Sprintf("j%02d", i)
		t0 := time.Now()
		mc.start(id, mc.ids[rng.IntN(len(mc.ids))])
		ds, miss := detectSome(subs, id, EventJoin, t0, 10*time.Second)
		joins, joinMissed = append(joins, ds...), joinMissed+miss
		joinAll = append(joinAll, percentile(ds, 100))
		for _, s := range subs {
			s.Close()
		}

		subs = subscribeAll(mc)
		victim := mc.ids[rng.IntN(len(mc.ids)-1)] // never the newcomer
		t0 = time.Now()
		mc.kill(victim)
		delete(subs, victim)
		ds, miss = detectSome(subs, victim, EventDead, t0, 30*time.Second)
		deaths, deadMissed = append(deaths, ds...), deadMissed+miss
		deadAll = append(deadAll, percentile(ds, 100))
		for _, s := range subs {
			s.Close()
		}
	}
	b.StopTimer()
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(percentile(joins, 50)), "join-p50-ms")
	b.ReportMetric(ms(percentile(joins, 99)), "join-p99-ms")
	b.ReportMetric(ms(percentile(joinAll, 50)), "join-all-ms")
	b.ReportMetric(ms(percentile(deaths, 50)), "dead-p50-ms")
	b.ReportMetric(ms(percentile(deaths, 99)), "dead-p99-ms")
	b.ReportMetric(ms(percentile(deadAll, 50)), "dead-all-ms")
	b.ReportMetric(float64(joinMissed), "join-missed")
	b.ReportMetric(float64(deadMissed), "dead-missed")
}

// detectSome is detect for the benchmark: an observer that has not seen the
// event after d counts as a miss, reported with the timeout as its delay, so
// a rare straggler (memberlist repairs a missed broadcast only at the next
// push/pull, 60 s at this size) shows in the figures instead of aborting.
func detectSome(subs map[string]*Subscription, id string, typ EventType, t0 time.Time, d time.Duration) ([]time.Duration, int) {
	var out []time.Duration
	missed := 0
	deadline := time.After(d)
	expired := false
	for obs, sub := range subs {
		if obs == id {
			continue
		}
		got := false
		for !got {
			var ev Event
			var ok bool
			if expired {
				select {
				case ev, ok = <-sub.Events():
				default:
				}
			} else {
				select {
				case ev, ok = <-sub.Events():
				case <-deadline:
					expired = true
					continue
				}
			}
			if !ok {
				break
			}
			if ev.Member.ID == id && ev.Type == typ {
				out = append(out, ev.Time.Sub(t0))
				got = true
			}
		}
		if !got {
			missed++
			out = append(out, d)
		}
	}
	return out, missed
}
