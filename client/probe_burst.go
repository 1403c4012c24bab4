package client

import (
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// srvReport is the edge's link report from one Pong (see linkLoss): its
// TCP segments sent and retransmitted since its previous Pong, and whether
// it received segments out of order (an uplink hole: 0 or 1).
type srvReport struct {
	at                  time.Time
	retrans, segs, hole uint64
}

// trimReports drops the reports older than since (they are in time order).
func trimReports(rs []srvReport, since time.Time) []srvReport {
	i := 0
	for i < len(rs) && rs[i].at.Before(since) {
		i++
	}
	if i == 0 {
		return rs
	}
	return append(rs[:0], rs[i:]...)
}

// lossSpan is the time the loss window covers: LossWindow probes.
func (f *Fallback) lossSpan() time.Duration {
	return time.Duration(f.LossWindow) * f.ProbeEvery
}

// burstNonce marks a burst probe's Ping: its Pong brings the edge's link
// report but is no RTT sample (the RTT probe's nonces count up from 1 and
// never reach it).
const burstNonce = 1 << 63

// probeBurst starts a burst of fast probes (Fallback.BurstEvery, or the
// slower interval the edge asked for in Connected), unless one ran within
// BurstGap or bursts are off (here or by the edge). Writer goroutine only.
func (cn *connection) probeBurst(f *Fallback) {
	every, ok := cn.burstEvery(f)
	if !ok || cn.burst != nil {
		return
	}
	now := time.Now()
	last := cn.c.lastBurst.Load()
	if last != 0 && now.Sub(time.Unix(0, last)) < f.BurstGap {
		return
	}
	cn.c.lastBurst.Store(now.UnixNano())
	cn.c.stats.probeBursts.Add(1)
	cn.burst = time.NewTicker(every)
	cn.burstEnd = now.Add(f.BurstFor)
}

// burstEvery is the burst interval: Fallback.BurstEvery, or the edge's
// Connected.probe_burst_interval_ms when that is longer; ok is false when
// bursts are off, by the Fallback or by the edge.
func (cn *connection) burstEvery(f *Fallback) (every time.Duration, ok bool) {
	if f.BurstEvery < 0 || cn.hello.GetProbeBurstsOff() {
		return 0, false
	}
	return max(f.BurstEvery, time.Duration(cn.hello.GetProbeBurstIntervalMs())*time.Millisecond), true
}

// burstC is the burst's tick channel (nil, never ready, without a burst).
func (cn *connection) burstC() <-chan time.Time {
	if cn.burst == nil {
		return nil
	}
	return cn.burst.C
}

// burstProbe sends one burst Ping, or ends the burst when it is over.
func (cn *connection) burstProbe() error {
	now := time.Now()
	if now.After(cn.burstEnd) {
		cn.stopBurst()
		return nil
	}
	cn.burstSeq++
	return cn.write(cn.ctx, &pb.Ping{Nonce: burstNonce | cn.burstSeq, SentTimeMs: now.UnixMilli()})
}

// stopBurst ends a burst.
func (cn *connection) stopBurst() {
	if cn.burst != nil {
		cn.burst.Stop()
		cn.burst = nil
	}
}
