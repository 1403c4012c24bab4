package fec

import (
	"testing"
	"time"
)

// TestParitySpreadTiming checks that the parity of a group flushed early
// goes out one ParitySpread apart, that Deadline announces each held-back
// packet, and that a full group still sends its parity together.
func TestParitySpreadTiming(t *testing.T) {
	const flush, spread = 10 * time.Millisecond, 7 * time.Millisecond
	enc, err := NewEncoder(Config{K: 2, M: 3, MaxM: 3, FlushInterval: flush, ParitySpread: spread})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Add(payload(0, 40), t0); err != nil {
		t.Fatal(err)
	}
	at := t0.Add(flush)
	got := enc.Flush(at)
	if len(got) != 1 || got[0].Kind != KindParity || got[0].Index != 1 {
		t.Fatalf("at the flush: %+v, want parity index 1 only", got)
	}
	for j := 1; j < 3; j++ {
		due := at.Add(time.Duration(j) * spread)
		if dl := enc.Deadline(); !dl.Equal(due) {
			t.Fatalf("parity %d: deadline %v, want %v", j, dl.Sub(t0), due.Sub(t0))
		}
		if p := enc.Flush(due.Add(-time.Microsecond)); p != nil {
			t.Fatalf("parity %d released early: %+v", j, p)
		}
		p := enc.Flush(due)
		if len(p) != 1 || p[0].Index != uint8(1+j) || p[0].K != 1 || p[0].M != 3 {
			t.Fatalf("parity %d: %+v", j, p)
		}
	}
	if !enc.Deadline().IsZero() {
		t.Fatal("nothing is pending, yet a deadline is set")
	}

	// A full group: data, data, then all three parity packets at once.
	if _, err := enc.Add(payload(1, 40), at); err != nil {
		t.Fatal(err)
	}
	out, err := enc.Add(payload(2, 40), at)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 1+3 || !enc.Deadline().IsZero() {
		t.Fatalf("full group: %d packets, deadline %v; want data and 3 parity, none held back", len(out), enc.Deadline())
	}
}

// TestDecoderWaitsForSpreadParity checks that a sparse group whose data
// and first parity were lost is rebuilt from its last parity packet,
// which arrives after the plain group timeout, instead of being reported.
func TestDecoderWaitsForSpreadParity(t *testing.T) {
	cfg := Config{K: 8, M: 3, MaxM: 3, FlushInterval: 10 * time.Millisecond, ParitySpread: 30 * time.Millisecond, GroupTimeout: 40 * time.Millisecond}
	net := newLossyNet(t, 1)
	net.dropFn = dropSeqs(0, 1, 2) // data, parity 0, parity 1
	h := newHarness(t, cfg, net)
	h.step = time.Millisecond
	h.add(payload(0, 100))
	for range 75 { // up to t0+76ms: parity 2 goes out at 10+2*30 = 70ms
		h.tick(time.Millisecond)
	}
	if len(h.lost) != 0 || h.recovered != 1 {
		t.Fatalf("lost %v, recovered %d: want the payload rebuilt from the last parity", h.lost, h.recovered)
	}
	if w := h.dec.MaxWait(); w != 40*time.Millisecond+2*30*time.Millisecond {
		t.Fatalf("MaxWait %v", w)
	}
	h.finish()
	h.check()
}

// TestDecoderReportsSpreadGroupAfterItsWait checks the other side: when
// all parity of a sparse group is lost, its data is reported once the
// group's wait (timeout plus spread) has passed, and not before.
func TestDecoderReportsSpreadGroupAfterItsWait(t *testing.T) {
	cfg := Config{K: 3, M: 2, MaxM: 2, FlushInterval: 10 * time.Millisecond, ParitySpread: 30 * time.Millisecond, GroupTimeout: 40 * time.Millisecond}
	net := newLossyNet(t, 1)
	net.dropFn = dropSeqs(1, 2, 3) // the second data packet and both parity packets
	h := newHarness(t, cfg, net)
	h.step = time.Millisecond
	h.ignoreUnsent = true // index 2 was planned, never sent
	h.add(payload(0, 100))
	h.add(payload(1, 100))
	for range 67 { // to t0+69ms: the wait is 40 + (2-1)*30 = 70ms from the first packet
		h.tick(time.Millisecond)
	}
	if len(h.lost) != 0 {
		t.Fatalf("reported %v before the group's wait", h.lost)
	}
	h.tick(time.Millisecond)
	if len(h.lost) != 1 || h.lost[0] != (ID{0, 1}) {
		t.Fatalf("lost %v, want the second data packet", h.lost)
	}
	h.finish()
	h.check()
}

// TestParitySpreadAgainstBursts runs sparse traffic (chat: one payload
// per 50 ms, each its own group) over a Gilbert-Elliott link at 5% loss
// in bursts of 3 packets, shared with cross traffic of one packet per
// millisecond, as on a real access link. Parity sent right behind each
// other dies in the same burst as often as not; spread 10 ms apart, it
// rarely does. The spread must at least halve the residual loss and keep
// it under the 0.5% target.
func TestParitySpreadAgainstBursts(t *testing.T) {
	const n = 20000
	run := func(spread time.Duration) float64 {
		net := newLossyNet(t, 11)
		net.burst(0.05, 3)
		h := newHarness(t, Config{K: 8, M: 2, MaxM: 4, FlushInterval: 5 * time.Millisecond, ParitySpread: spread, GroupTimeout: 40 * time.Millisecond}, net)
		h.enc.SetLossRate(0.05) // k=1 groups get m=2
		h.step = time.Millisecond
		h.ignoreUnsent = true
		for i := range n {
			h.add(payload(i, 200))
			for range 49 {
				net.crossTraffic(1)
				h.tick(time.Millisecond)
			}
		}
		h.finish()
		h.check()
		r := h.residual()
		t.Logf("spread %v: wire loss %.2f%%, recovered %d, unrecoverable %d of %d = %.3f%%",
			spread, 100*float64(net.dropped)/float64(net.sent), h.recovered, len(h.lost), n, 100*r)
		return r
	}
	together, spread := run(0), run(10*time.Millisecond)
	if together == 0 || spread > together/2 || spread >= 0.005 {
		t.Fatalf("residual together %.3f%%, spread %.3f%%: want spread <= half and < 0.5%%", 100*together, 100*spread)
	}
}
