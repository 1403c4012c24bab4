package fec

import (
	"errors"
	"testing"
	"time"
)

// dropSeqs returns a drop function losing the given wire positions.
func dropSeqs(seqs ...int) func(int) bool {
	m := map[int]bool{}
	for _, s := range seqs {
		m[s] = true
	}
	return func(seq int) bool { return m[seq] }
}

func TestRecoveryAtParityBudget(t *testing.T) {
	// k=8, m=2, no interleaving: wire positions 0-7 are group 0's data,
	// 8-9 its parity, 10-19 group 1.
	for _, tc := range []struct {
		name string
		drop []int
		lost []ID
	}{
		{"two data lost", []int{1, 5}, nil},
		{"data and parity lost", []int{3, 9}, nil},
		{"both parity lost", []int{8, 9}, nil},
		{"three lost", []int{1, 5, 8}, []ID{{0, 1}, {0, 5}}},
		{"three data lost", []int{0, 1, 2}, []ID{{0, 0}, {0, 1}, {0, 2}}},
		{"one data two parity", []int{4, 8, 9}, []ID{{0, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := newLossyNet(t, 1)
			net.dropFn = dropSeqs(tc.drop...)
			h := newHarness(t, Config{K: 8, M: 2}, net)
			for i := range 16 {
				h.add(payload(i, 100+i))
			}
			h.finish()
			h.check()
			if len(h.lost) != len(tc.lost) {
				t.Fatalf("lost %v, want %v", h.lost, tc.lost)
			}
			for i := range tc.lost {
				if h.lost[i] != tc.lost[i] {
					t.Fatalf("lost %v, want %v", h.lost, tc.lost)
				}
			}
			wantRec := 0
			for _, s := range tc.drop {
				if s < 8 && len(tc.lost) == 0 {
					wantRec++
				}
			}
			if h.recovered != wantRec {
				t.Fatalf("recovered %d, want %d", h.recovered, wantRec)
			}
		})
	}
}

func TestBurstSpreading(t *testing.T) {
	// Bursts of 3 consecutive losses, one per 40 wire packets at moving
	// offsets. With D=4 a round is 32 data + 8 parity packets = 40, and
	// each burst costs each group at most one packet; with D=1 a burst
	// inside one group of 10 costs it 3 > m.
	burst := func(seq int) bool {
		off := (seq / 40 * 7) % 37
		r := seq % 40
		return r >= off && r < off+3
	}
	run := func(d int) *harness {
		net := newLossyNet(t, 2)
		net.dropFn = burst
		h := newHarness(t, Config{K: 8, M: 2, Interleave: d}, net)
		for i := range 32 * 20 {
			h.add(payload(i, 200))
		}
		h.finish()
		h.check()
		return h
	}
	d4, d1 := run(4), run(1)
	t.Logf("bursts of 3: D=4 lost %d recovered %d; D=1 lost %d recovered %d", len(d4.lost), d4.recovered, len(d1.lost), d1.recovered)
	if len(d4.lost) != 0 {
		t.Fatalf("D=4: %d lost, want 0: %v", len(d4.lost), d4.lost)
	}
	if len(d1.lost) == 0 {
		t.Fatal("D=1: nothing lost; the burst pattern does not exercise interleaving")
	}
}

func TestPartialGroupFlush(t *testing.T) {
	net := newLossyNet(t, 3)
	net.dropFn = dropSeqs(1) // second data packet of group 0
	h := newHarness(t, Config{K: 8, M: 2, FlushInterval: 10 * time.Millisecond}, net)
	h.step = time.Millisecond
	for i := range 3 {
		h.add(payload(i, 50+i*10))
	}
	if dl := h.enc.Deadline(); !dl.Equal(t0.Add(10 * time.Millisecond)) {
		t.Fatalf("deadline %v, want t0+10ms", dl.Sub(t0))
	}
	if h.enc.Flush(h.now) != nil {
		t.Fatal("flushed before the deadline")
	}
	if h.recovered != 0 {
		t.Fatal("recovered before parity was sent")
	}
	h.tick(10 * time.Millisecond) // the caller's timer fires
	if h.recovered != 1 || h.got[ID{0, 1}] != 1 {
		t.Fatalf("recovered %d, got %v", h.recovered, h.got)
	}
	if !h.enc.Deadline().IsZero() {
		t.Fatal("a group is still open after Flush")
	}
	// Sparse traffic goes on in new groups.
	for i := 3; i < 6; i++ {
		h.add(payload(i, 10))
		h.tick(20 * time.Millisecond)
	}
	h.finish()
	h.check()
	if len(h.lost) != 0 || len(h.got) != 6 {
		t.Fatalf("lost %v, delivered %d of 6", h.lost, len(h.got))
	}
}

func TestPartialGroupParityCarriesActualK(t *testing.T) {
	enc, err := NewEncoder(Config{K: 8, M: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := enc.Add(payload(i, 10), t0); err != nil {
			t.Fatal(err)
		}
	}
	ps := enc.Flush(t0.Add(time.Hour))
	if len(ps) != 2 {
		t.Fatalf("%d parity packets, want 2", len(ps))
	}
	for j, p := range ps {
		if p.Kind != KindParity || p.K != 3 || p.M != 2 || int(p.Index) != 3+j {
			t.Fatalf("parity %d: %+v", j, p)
		}
	}
}

func TestReorderAndDuplicates(t *testing.T) {
	for _, loss := range []float64{0, 0.03} {
		net := newLossyNet(t, 4)
		net.p, net.reorder, net.dup, net.maxHold = loss, 0.2, 0.1, 8
		h := newHarness(t, Config{K: 8, M: 2, Interleave: 2}, net)
		for i := range 5000 {
			h.add(payload(i, 1+i%300))
		}
		h.finish()
		h.check()
		if loss == 0 && (len(h.lost) != 0 || len(h.got) != 5000) {
			t.Fatalf("no loss: delivered %d of 5000, lost %d", len(h.got), len(h.lost))
		}
		if h.dec.Stats().Duplicates == 0 {
			t.Fatal("no duplicates seen; the network did not duplicate")
		}
		t.Logf("loss %.2f: delivered %d, recovered %d, lost %d, dups dropped %d",
			loss, len(h.got), h.recovered, len(h.lost), h.dec.Stats().Duplicates)
	}
}

func TestAdaptiveParity(t *testing.T) {
	enc, err := NewEncoder(Config{K: 8})
	if err != nil {
		t.Fatal(err)
	}
	if enc.M() != DefaultM {
		t.Fatalf("initial m %d", enc.M())
	}
	if err := enc.OnFeedback(Packet{Kind: KindFeedback, LossPPM: 100_000}); err != nil {
		t.Fatal(err)
	}
	high := enc.M()
	if high <= DefaultM {
		t.Fatalf("10%% loss: m=%d, want > %d", high, DefaultM)
	}
	if err := enc.OnFeedback(Packet{Kind: KindFeedback, LossPPM: 0}); err != nil {
		t.Fatal(err)
	}
	if enc.M() != 1 {
		t.Fatalf("0%% loss: m=%d, want 1", enc.M())
	}
	if err := enc.OnFeedback(Packet{Kind: KindData, K: 1}); err == nil {
		t.Fatal("OnFeedback accepted a data packet")
	}
	for _, p := range []float64{0, 0.001, 0.01, 0.05, 0.1, 0.2} {
		enc.SetLossRate(p)
		t.Logf("loss %.3f -> m=%d (k=8)", p, enc.M())
	}
	if enc.M() != DefaultMaxM {
		t.Fatalf("20%% loss: m=%d, want the cap %d", enc.M(), DefaultMaxM)
	}
	t.Logf("10%% loss -> m=%d", high)
}

func TestOverheadCleanLink(t *testing.T) {
	net := newLossyNet(t, 5)
	h := newHarness(t, Config{K: 8}, net)
	h.enc.SetLossRate(0) // a clean link: 8+1 groups
	for i := range 8000 {
		h.add(payload(i, 1000))
	}
	h.finish()
	h.check()
	ratio := float64(h.wire) / float64(h.payload)
	t.Logf("clean link, k=8 m=%d, 1000-byte payloads: wire/payload = %.4f", h.enc.M(), ratio)
	if ratio > 1.15 {
		t.Fatalf("overhead %.4f > 1.15", ratio)
	}
}

func TestLossAccounting(t *testing.T) {
	net := newLossyNet(t, 6)
	net.p = 0.03
	h := newHarness(t, Config{K: 8, M: 2}, net)
	for i := range 8000 {
		h.add(payload(i, 100))
	}
	h.finish()
	h.check()
	st := h.dec.Stats()
	fb := h.dec.Feedback(h.now)
	t.Logf("sent %d dropped %d; stats %+v; feedback %d ppm, burst %.2f", net.sent, net.dropped, st, fb.LossPPM, float64(fb.BurstX100)/100)
	if st.Recovered == 0 || st.Lost == 0 {
		t.Fatalf("stats %+v: want recovered and lost > 0", st)
	}
	if st.Lost != uint64(net.dropped) || st.Expected != uint64(net.sent) {
		t.Fatalf("stats lost %d expected %d; network dropped %d of %d", st.Lost, st.Expected, net.dropped, net.sent)
	}
	if st.Lost <= st.Unrecoverable {
		t.Fatalf("lost %d should include the %d recovered", st.Lost, st.Recovered)
	}
	if fb.LossPPM < 20_000 || fb.LossPPM > 40_000 {
		t.Fatalf("feedback loss %d ppm, want ~30000", fb.LossPPM)
	}
	if next := h.dec.Feedback(h.now); next.LossPPM != 0 {
		t.Fatalf("second feedback %d ppm, want 0 (interval reset)", next.LossPPM)
	}
	// The sender sees the loss even though FEC hid most of it.
	if err := h.enc.OnFeedback(fb); err != nil {
		t.Fatal(err)
	}
	if h.enc.M() < 3 {
		t.Fatalf("after 3%% loss feedback m=%d", h.enc.M())
	}
}

func TestResidualLoss(t *testing.T) {
	const n = 20000
	run := func(name string, cfg Config, setup func(*lossyNet)) float64 {
		net := newLossyNet(t, 7)
		setup(net)
		h := newHarness(t, cfg, net)
		for i := range n {
			h.add(payload(i, 200))
		}
		h.finish()
		h.check()
		r := h.residual()
		t.Logf("%s: wire loss %.2f%%, recovered %d, unrecoverable %d of %d = %.3f%%, overhead %.3f",
			name, 100*float64(net.dropped)/float64(net.sent), h.recovered, len(h.lost), n, 100*r, float64(h.wire)/float64(h.payload))
		return r
	}
	random := func(n *lossyNet) { n.p = 0.05 }
	bursty := func(n *lossyNet) { n.burst(0.05, 3) }
	run("random 5%, k=8 m=2 D=1", Config{K: 8, M: 2}, random)
	run("random 5%, k=8 m=4 (adaptive choice) D=1", Config{K: 8, M: 4}, random)
	run("bursty 5% burst 3, k=8 m=2 D=1", Config{K: 8, M: 2}, bursty)
	run("bursty 5% burst 3, k=8 m=2 D=4", Config{K: 8, M: 2, Interleave: 4}, bursty)
	run("bursty 5% burst 3, k=8 m=3 D=8", Config{K: 8, M: 3, Interleave: 8}, bursty)
	// The asserted configuration: m=4 is what adaptive parity picks for
	// 5% loss with k=8, and D=8 spreads bursts of up to 8 packets.
	r := run("bursty 5% burst 3, k=8 m=4 D=8", Config{K: 8, M: 4, Interleave: 8}, bursty)
	if r >= 0.005 {
		t.Fatalf("bursty residual %.3f%% >= 0.5%%", 100*r)
	}
}

func TestWholeGroupLost(t *testing.T) {
	net := newLossyNet(t, 8)
	drop := make([]int, 0, 10)
	for s := 10; s < 20; s++ { // every packet of group 1
		drop = append(drop, s)
	}
	net.dropFn = dropSeqs(drop...)
	h := newHarness(t, Config{K: 8, M: 2}, net)
	for i := range 24 {
		h.add(payload(i, 64))
	}
	h.finish()
	h.check()
	if len(h.lost) != 8 {
		t.Fatalf("lost %v, want group 1 whole", h.lost)
	}
	for i, id := range h.lost {
		if id != (ID{1, uint8(i)}) {
			t.Fatalf("lost %v, want group 1 whole", h.lost)
		}
	}
	if st := h.dec.Stats(); st.Lost != 10 || st.Expected != 30 {
		t.Fatalf("stats %+v, want 10 of 30 lost", st)
	}
}

func TestMaxGroupsEviction(t *testing.T) {
	cfg := Config{K: 4, M: 1, MaxGroups: 2}
	dec, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// One data packet of each of three groups: the third evicts group 0.
	for g := range uint32(3) {
		p := Packet{Kind: KindData, Group: g, Index: 0, K: 4, M: 1, Payload: []byte{byte(g)}}
		if d := dec.Receive(p, t0); len(d) != 1 {
			t.Fatalf("group %d: delivered %v", g, d)
		}
	}
	lost := dec.Expire(t0) // nothing timed out, but group 0 was closed early
	if len(lost) != 3 || lost[0] != (ID{0, 1}) || lost[2] != (ID{0, 3}) {
		t.Fatalf("lost %v, want group 0 indexes 1-3", lost)
	}
	// A late packet of the evicted group is not delivered.
	if d := dec.Receive(Packet{Kind: KindData, Group: 0, Index: 1, K: 4, M: 1}, t0); d != nil {
		t.Fatalf("late packet delivered: %v", d)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero config: %v", err)
	}
	for _, c := range []Config{
		{K: -1},
		{K: 250, MaxM: 10},
		{M: 9, MaxM: 4},
		{MinM: 3, M: 2},
		{Interleave: 100},
		{Interleave: 8, MaxGroups: 4},
		{MaxDatagram: 10},
		{TargetLoss: 2},
	} {
		if err := c.Validate(); !errors.Is(err, ErrBadConfig) {
			t.Errorf("%+v: %v", c, err)
		}
		if _, err := NewEncoder(c); err == nil {
			t.Errorf("%+v: NewEncoder accepted it", c)
		}
	}
	enc, _ := NewEncoder(Config{})
	if _, err := enc.Add(make([]byte, (Config{}).MaxPayload()+1), t0); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("oversized payload: %v", err)
	}
	ps, err := enc.Add(make([]byte, (Config{}).MaxPayload()), t0)
	if err != nil {
		t.Fatalf("largest payload: %v", err)
	}
	for _, p := range append(ps, enc.Flush(t0.Add(time.Hour))...) {
		if b, err := MarshalPacket(p, Limits{}); err != nil || len(b) > DefaultMaxDatagram {
			t.Fatalf("%v packet of the largest payload: %d bytes, %v", p.Kind, len(b), err)
		}
	}
}

// TestPartialGroupParityFitsActualSize: once the loss rate is known, a
// group flushed with one data packet gets the parity one packet needs (2
// copies at 5%), not the 4 a full group of 8 needs; a full group keeps 4.
func TestPartialGroupParityFitsActualSize(t *testing.T) {
	enc, err := NewEncoder(Config{K: 8})
	if err != nil {
		t.Fatal(err)
	}
	enc.SetLossRate(0.05)
	if enc.M() != 4 {
		t.Fatalf("m = %d for k=8 at 5%%, want 4", enc.M())
	}
	if _, err := enc.Add(payload(0, 10), t0); err != nil {
		t.Fatal(err)
	}
	ps := enc.Flush(t0.Add(time.Hour))
	if len(ps) != 2 || ps[0].K != 1 || ps[0].M != 2 {
		t.Fatalf("one-packet group: %d parity packets (k=%d m=%d), want 2", len(ps), ps[0].K, ps[0].M)
	}
	var parity int
	for i := range 8 {
		out, err := enc.Add(payload(i, 10), t0)
		if err != nil {
			t.Fatal(err)
		}
		parity += len(out) - 1
	}
	if parity != 4 {
		t.Fatalf("full group: %d parity packets, want 4", parity)
	}
	// The decoder rebuilds a one-packet group from either copy.
	dec, err := NewDecoder(Config{K: 8})
	if err != nil {
		t.Fatal(err)
	}
	got := dec.Receive(ps[1], t0)
	if len(got) != 1 || !got[0].Recovered || string(got[0].Payload) != string(payload(0, 10)) {
		t.Fatalf("recovered %+v", got)
	}
}

func TestDecoderDeadline(t *testing.T) {
	cfg := Config{K: 4, M: 1, MaxGroups: 2, GroupTimeout: 50 * time.Millisecond}
	dec, err := NewDecoder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if d := dec.Deadline(); !d.IsZero() {
		t.Fatalf("no group open: deadline %v", d)
	}
	dec.Receive(Packet{Kind: KindData, Group: 0, Index: 0, K: 4, M: 1, Payload: []byte{0}}, t0)
	dec.Receive(Packet{Kind: KindData, Group: 1, Index: 0, K: 4, M: 1, Payload: []byte{1}}, t0.Add(10*time.Millisecond))
	if d := dec.Deadline(); !d.Equal(t0.Add(50 * time.Millisecond)) {
		t.Fatalf("deadline %v, want the oldest group's timeout %v", d, t0.Add(50*time.Millisecond))
	}
	if lost := dec.Expire(dec.Deadline().Add(-time.Nanosecond)); len(lost) != 0 {
		t.Fatalf("expired before the deadline: %v", lost)
	}
	if lost := dec.Expire(dec.Deadline()); len(lost) != 3 {
		t.Fatalf("at the deadline lost %v, want group 0's indexes 1-3", lost)
	}
	if d := dec.Deadline(); !d.Equal(t0.Add(60 * time.Millisecond)) {
		t.Fatalf("deadline %v, want group 1's %v", d, t0.Add(60*time.Millisecond))
	}
	// A third group evicts group 1: its losses are due at once.
	dec.Receive(Packet{Kind: KindData, Group: 2, Index: 0, K: 4, M: 1, Payload: []byte{2}}, t0.Add(20*time.Millisecond))
	dec.Receive(Packet{Kind: KindData, Group: 3, Index: 0, K: 4, M: 1, Payload: []byte{3}}, t0.Add(20*time.Millisecond))
	if d := dec.Deadline(); !d.Before(t0) {
		t.Fatalf("evicted losses pending: deadline %v, want one in the past", d)
	}
	if lost := dec.Expire(t0); len(lost) == 0 {
		t.Fatal("evicted group's losses not reported")
	}
}
