package fec

import (
	"time"
)

// Encoder turns payloads into data packets, sent at once, and parity
// packets, sent when a group fills or its flush deadline passes. It is not
// safe for concurrent use.
type Encoder struct {
	cfg       Config
	m         int // parity for new groups
	lossRate  float64
	adaptive  bool // a loss rate was set: partial groups get parity for their size
	burst     float64
	nextGroup uint32
	slots     []*egroup     // open groups, one per interleave slot
	cursor    int           // slot of the next payload
	full      []*egroup     // filled groups whose parity waits for the round to end
	later     []timedPacket // spread parity of flushed groups, not yet due
	codecs    codecs
}

// timedPacket is a parity packet held back until due (Config.ParitySpread).
type timedPacket struct {
	due time.Time
	p   Packet
}

// egroup is a group being filled by the encoder.
type egroup struct {
	id       uint32
	m        int
	data     [][]byte
	maxLen   int
	deadline time.Time
}

// NewEncoder returns an encoder for cfg.
func NewEncoder(cfg Config) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Encoder{
		cfg:    cfg,
		m:      cfg.M,
		slots:  make([]*egroup, cfg.Interleave),
		codecs: codecs{},
	}, nil
}

// M returns the parity count new groups get.
func (e *Encoder) M() int { return e.m }

// Add encodes one payload. It returns the payload's data packet first,
// which the caller should send at once, followed by any parity packets that
// became due: with Interleave D, the parity of the D groups filled in one
// round is sent together, spread so that consecutive parity packets belong
// to different groups. The data packet's Payload is a copy owned by the
// encoder; callers must not modify it. Add returns ErrPayloadTooLarge for a
// payload longer than Config.MaxPayload.
func (e *Encoder) Add(payload []byte, now time.Time) ([]Packet, error) {
	if len(payload) > maxPayload(e.cfg.MaxDatagram) {
		return nil, ErrPayloadTooLarge
	}
	g := e.slots[e.cursor]
	if g == nil {
		g = &egroup{id: e.nextGroup, m: e.m, deadline: now.Add(e.cfg.FlushInterval)}
		e.nextGroup++
		e.slots[e.cursor] = g
	}
	p := append([]byte(nil), payload...)
	out := []Packet{{
		Kind:    KindData,
		Group:   g.id,
		Index:   uint8(len(g.data)),
		K:       uint8(e.cfg.K),
		M:       uint8(g.m),
		Payload: p,
	}}
	g.data = append(g.data, p)
	g.maxLen = max(g.maxLen, len(p))
	if len(g.data) == e.cfg.K {
		e.slots[e.cursor] = nil
		e.full = append(e.full, g)
	}
	e.cursor = (e.cursor + 1) % len(e.slots)
	if e.cursor == 0 && len(e.full) > 0 {
		out = e.emit(out, e.full, now)
		e.full = e.full[:0]
	}
	return out, nil
}

// SetFlushInterval changes the flush interval of groups opened from now on
// (a caller may scale it with the round-trip time: the longer the path,
// the longer a lost packet may wait for its parity, and the fuller, so
// cheaper, the groups). d <= 0 is ignored.
func (e *Encoder) SetFlushInterval(d time.Duration) {
	if d > 0 {
		e.cfg.FlushInterval = d
	}
}

// FlushInterval returns the flush interval new groups get.
func (e *Encoder) FlushInterval() time.Duration { return e.cfg.FlushInterval }

// SetParitySpread changes the gap between the parity packets of groups
// flushed from now on (Config.ParitySpread); d < 0 is ignored, 0 sends
// them together. Like the flush interval, a caller may scale it with the
// round-trip time.
func (e *Encoder) SetParitySpread(d time.Duration) {
	if d >= 0 {
		e.cfg.ParitySpread = d
	}
}

// ParitySpread returns the current parity spread.
func (e *Encoder) ParitySpread() time.Duration { return e.cfg.ParitySpread }

// Deadline returns when the caller should call Flush: the earliest flush
// deadline of an open group or due time of a held-back parity packet. It
// is the zero time when there is neither.
func (e *Encoder) Deadline() time.Time {
	d := e.groupDeadline()
	for _, t := range e.later {
		if d.IsZero() || t.due.Before(d) {
			d = t.due
		}
	}
	return d
}

// groupDeadline returns the earliest flush deadline of an open group, or
// the zero time.
func (e *Encoder) groupDeadline() time.Time {
	var d time.Time
	for _, g := range e.full {
		if d.IsZero() || g.deadline.Before(d) {
			d = g.deadline
		}
	}
	for _, g := range e.slots {
		if g != nil && (d.IsZero() || g.deadline.Before(d)) {
			d = g.deadline
		}
	}
	return d
}

// Flush returns the parity packets due by now: held-back parity whose
// time has come, and, once the earliest group deadline has passed, parity
// for every open group. It closes every open group at once, so
// interleaved groups stay aligned; a group of n < K data packets gets
// parity over its n shards, and its parity packets carry k=n. It returns
// nil before Deadline().
func (e *Encoder) Flush(now time.Time) []Packet {
	out := e.releaseDue(now)
	d := e.groupDeadline()
	if d.IsZero() || now.Before(d) {
		return out
	}
	groups := e.full
	for i, g := range e.slots {
		if g != nil {
			groups = append(groups, g)
			e.slots[i] = nil
		}
	}
	e.cursor = 0
	out = e.emit(out, groups, now)
	e.full = e.full[:0]
	return out
}

// releaseDue removes the held-back parity packets due by now from
// e.later and returns them in the order they were held back.
func (e *Encoder) releaseDue(now time.Time) []Packet {
	var out []Packet
	keep := e.later[:0]
	for _, t := range e.later {
		if now.Before(t.due) {
			keep = append(keep, t)
		} else {
			out = append(out, t.p)
		}
	}
	clear(e.later[len(keep):])
	e.later = keep
	return out
}

// emit appends the parity packets of groups to out, interleaved: parity 0
// of every group, then parity 1 of every group, and so on. With a
// ParitySpread, parity j > 0 of a group flushed early is held back until
// now + j*ParitySpread instead.
func (e *Encoder) emit(out []Packet, groups []*egroup, now time.Time) []Packet {
	parity := make([][]Packet, len(groups))
	most := 0
	for i, g := range groups {
		parity[i] = e.parity(g)
		most = max(most, len(parity[i]))
	}
	for j := range most {
		for i, ps := range parity {
			if j >= len(ps) {
				continue
			}
			if j > 0 && e.cfg.ParitySpread > 0 && len(groups[i].data) < e.cfg.K {
				e.later = append(e.later, timedPacket{due: now.Add(time.Duration(j) * e.cfg.ParitySpread), p: ps[j]})
				continue
			}
			out = append(out, ps[j])
		}
	}
	return out
}

// parity computes the parity packets of g over its actual data shards.
// Once a loss rate is known (SetLossRate, OnFeedback), a group flushed
// early (k < K) gets only the parity its actual size needs at that rate (never more than planned, never less than
// MinM): one data packet at 5% loss needs 2 copies, not the 4 a group of
// 8 needs. Sparse traffic (chat) is mostly such groups, and every packet
// counts against the congestion window of the path.
func (e *Encoder) parity(g *egroup) []Packet {
	k, m := len(g.data), g.m
	if k < e.cfg.K && e.adaptive {
		m = min(m, chooseM(k, e.lossRate, e.cfg.MinM, e.cfg.MaxM, e.cfg.TargetLoss))
	}
	rs, err := e.codecs.get(k, m)
	if err != nil {
		// Unreachable: Validate bounds k+m; without a codec the group
		// simply goes without parity and the receiver falls back to ARQ.
		return nil
	}
	size := ShardPrefix + g.maxLen
	buf := make([]byte, (k+m)*size)
	shards := make([][]byte, k+m)
	for i := range shards {
		shards[i] = buf[i*size : (i+1)*size : (i+1)*size]
	}
	for i, d := range g.data {
		putShard(shards[i], d)
	}
	if err := rs.Encode(shards); err != nil {
		return nil
	}
	out := make([]Packet, m)
	for j := range m {
		out[j] = Packet{
			Kind:    KindParity,
			Group:   g.id,
			Index:   uint8(k + j),
			K:       uint8(k),
			M:       uint8(m),
			Payload: shards[k+j],
		}
	}
	return out
}

// SetLossRate sets the loss rate p (0..1) the receiver reports and picks
// the parity of new groups: the least m in [MinM, MaxM] for which, with K
// data packets and independent loss at rate p, the probability of losing
// more than m of the K+m packets is at most TargetLoss. Open groups keep
// their m.
func (e *Encoder) SetLossRate(p float64) {
	if !(p >= 0) { // also catches NaN
		p = 0
	}
	p = min(p, 1)
	e.lossRate, e.adaptive = p, true
	e.m = chooseM(e.cfg.K, p, e.cfg.MinM, e.cfg.MaxM, e.cfg.TargetLoss)
}

// LossRate returns the loss rate last set by SetLossRate or OnFeedback.
func (e *Encoder) LossRate() float64 { return e.lossRate }

// Burst returns the mean loss burst length last reported by feedback.
func (e *Encoder) Burst() float64 { return e.burst }

// OnFeedback applies a receiver's feedback packet: it sets the loss rate
// from LossPPM and records the burst length.
func (e *Encoder) OnFeedback(p Packet) error {
	if p.Kind != KindFeedback {
		return ErrNotFeedback
	}
	if err := p.check(Limits{MaxDatagram: e.cfg.MaxDatagram}); err != nil {
		return err
	}
	e.burst = float64(p.BurstX100) / 100
	e.SetLossRate(float64(p.LossPPM) / 1e6)
	return nil
}

// chooseM returns the least m in [minM, maxM] with P(Bin(k+m, p) > m) <= target.
func chooseM(k int, p float64, minM, maxM int, target float64) int {
	if p <= 0 {
		return minM
	}
	if p >= 1 {
		return maxM
	}
	for m := minM; m <= maxM; m++ {
		if binomialTail(k+m, p, m) <= target {
			return m
		}
	}
	return maxM
}

// binomialTail returns P(X > m) for X ~ Binomial(n, p).
func binomialTail(n int, p float64, m int) float64 {
	q := 1 - p
	pmf := 1.0
	for range n {
		pmf *= q
	}
	cdf := 0.0
	for i := 0; i <= m && i <= n; i++ {
		cdf += pmf
		pmf *= float64(n-i) / float64(i+1) * p / q
	}
	return max(0, 1-cdf)
}
