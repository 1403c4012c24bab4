package fec

import (
	"math/bits"
	"slices"
	"time"
)

// Delivered is one payload handed to the caller by Decoder.Receive.
type Delivered struct {
	ID      ID
	Payload []byte
	// Recovered is true when the payload was rebuilt from parity rather
	// than received.
	Recovered bool
}

// Stats counts what the decoder saw, over groups it has closed (Expected,
// Received, Lost) or as it happens (the rest).
type Stats struct {
	// Expected is the number of packets (data and parity) the closed
	// groups had, from their k and m.
	Expected uint64
	// Received is the number of distinct packets of closed groups that
	// arrived.
	Received uint64
	// Lost is Expected - Received: every lost packet, including those FEC
	// recovered, so the sender sees the link's real loss.
	Lost uint64
	// Recovered is the number of data packets rebuilt from parity.
	Recovered uint64
	// Unrecoverable is the number of data packets reported by Expire.
	Unrecoverable uint64
	// Delivered is the number of payloads delivered (received or recovered).
	Delivered uint64
	// Duplicates counts packets dropped as already seen, late (for a
	// closed group) or inconsistent with their group.
	Duplicates uint64
}

// Decoder reassembles groups, delivers payloads once and reports the data
// packets it could not recover. It is not safe for concurrent use.
type Decoder struct {
	cfg    Config
	lim    Limits
	groups map[uint32]*dgroup
	// closed remembers recently closed groups so late packets of theirs
	// are not delivered again.
	closed  map[uint32]struct{}
	closedQ []uint32
	evicted []ID // losses of groups closed by Receive, reported by Expire
	highest uint32
	seen    bool
	// floor is the oldest group not yet accounted for; groups older than a
	// closed group that never showed up are reported wholly lost.
	floor    uint32
	lastM    int
	stats    Stats
	interval struct{ expected, lost, runs uint64 }
	codecs   codecs
}

// bitset256 is a set of shard indexes.
type bitset256 [4]uint64

func (b *bitset256) has(i int) bool { return b[i>>6]&(1<<(i&63)) != 0 }
func (b *bitset256) set(i int)      { b[i>>6] |= 1 << (i & 63) }

// countBelow returns how many indexes below n are set.
func (b *bitset256) countBelow(n int) int {
	c := 0
	for w := 0; w < 4 && n > 0; w++ {
		word := b[w]
		if n < 64 {
			word &= 1<<n - 1
		}
		c += bits.OnesCount64(word)
		n -= 64
	}
	return c
}

// dgroup is a group being reassembled.
type dgroup struct {
	id        uint32
	first     time.Time
	k, m      int  // from parity once final, else the largest planned size seen on data
	final     bool // k and m come from a parity packet
	shardSize int
	got       bitset256 // packets received
	delivered bitset256 // data indexes delivered
	nDeliv    int
	done      bool     // every data packet delivered; shards released
	shards    [][]byte // data payloads and parity shards, by index
}

// NewDecoder returns a decoder for cfg.
func NewDecoder(cfg Config) (*Decoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Decoder{
		cfg:    cfg,
		lim:    Limits{MaxDatagram: cfg.MaxDatagram},
		groups: map[uint32]*dgroup{},
		closed: map[uint32]struct{}{},
		codecs: codecs{},
	}, nil
}

// older reports whether group a was sent before group b (serial number
// arithmetic, so ids may wrap).
func older(a, b uint32) bool { return int32(a-b) < 0 }

// Receive takes one packet and returns the payloads that became
// deliverable: the packet's own payload for a new data packet, and any
// data packets its arrival let the decoder rebuild. Duplicates, packets of
// closed groups, invalid packets and feedback packets return nil. Payloads
// are copies owned by the caller.
func (d *Decoder) Receive(p Packet, now time.Time) []Delivered {
	if p.Kind == KindFeedback || p.check(d.lim) != nil {
		return nil
	}
	if _, ok := d.closed[p.Group]; ok || (d.seen && int32(p.Group-d.highest) < -int32(4*d.cfg.MaxGroups)) {
		d.stats.Duplicates++
		return nil
	}
	g := d.groups[p.Group]
	if g == nil {
		if len(d.groups) >= d.cfg.MaxGroups {
			d.evictOldest()
		}
		g = &dgroup{id: p.Group, first: now, shards: make([][]byte, 0)}
		d.groups[p.Group] = g
	}
	if !d.seen {
		d.floor = p.Group
	}
	if !d.seen || older(d.highest, p.Group) {
		d.highest, d.seen = p.Group, true
	}
	i := int(p.Index)
	if g.got.has(i) {
		d.stats.Duplicates++
		return nil
	}
	var out []Delivered
	if p.Kind == KindData {
		if (g.final && i >= g.k) || (g.shardSize > 0 && ShardPrefix+len(p.Payload) > g.shardSize) {
			d.stats.Duplicates++
			return nil
		}
		if !g.final {
			g.k, g.m = max(g.k, int(p.K)), max(g.m, int(p.M))
		}
		g.got.set(i)
		if g.delivered.has(i) {
			return nil // already recovered
		}
		payload := append([]byte(nil), p.Payload...)
		g.store(i, payload)
		g.delivered.set(i)
		g.nDeliv++
		d.stats.Delivered++
		out = append(out, Delivered{ID: ID{p.Group, p.Index}, Payload: payload})
	} else {
		k, m := int(p.K), int(p.M)
		if g.final {
			if k != g.k || m != g.m || len(p.Payload) != g.shardSize {
				d.stats.Duplicates++
				return nil
			}
		} else {
			if !g.fits(k, len(p.Payload)) {
				d.stats.Duplicates++
				return nil
			}
			g.k, g.m, g.shardSize, g.final = k, m, len(p.Payload), true
		}
		g.got.set(i)
		if !g.done {
			g.store(i, append([]byte(nil), p.Payload...))
		}
	}
	out = d.recover(g, out)
	if g.k > 0 && g.nDeliv == g.k && !g.done {
		g.done, g.shards = true, nil
	}
	return out
}

// fits reports whether the data already received agrees with a parity
// packet saying the group has k data shards of shardSize bytes.
func (g *dgroup) fits(k, shardSize int) bool {
	for i, s := range g.shards { // before the first parity, all data
		if g.got.has(i) && (i >= k || ShardPrefix+len(s) > shardSize) {
			return false
		}
	}
	return true
}

func (g *dgroup) store(i int, b []byte) {
	if g.done {
		return
	}
	if i >= len(g.shards) {
		g.shards = append(g.shards, make([][]byte, i+1-len(g.shards))...)
	}
	g.shards[i] = b
}

// recover rebuilds missing data packets of g when enough shards arrived.
func (d *Decoder) recover(g *dgroup, out []Delivered) []Delivered {
	if !g.final || g.done || g.nDeliv == g.k || g.got.countBelow(g.k+g.m) < g.k {
		return out
	}
	rs, err := d.codecs.get(g.k, g.m)
	if err != nil {
		return out
	}
	shards := make([][]byte, g.k+g.m)
	buf := make([]byte, g.k*g.shardSize)
	for i := range shards {
		if !g.got.has(i) || i >= len(g.shards) || g.shards[i] == nil {
			continue
		}
		if i < g.k {
			s := buf[i*g.shardSize : (i+1)*g.shardSize]
			putShard(s, g.shards[i])
			shards[i] = s
		} else {
			shards[i] = g.shards[i]
		}
	}
	if err := rs.ReconstructData(shards); err != nil {
		return out
	}
	for i := range g.k {
		if g.delivered.has(i) {
			continue
		}
		payload, ok := shardPayload(shards[i])
		if !ok {
			continue // inconsistent sender; Expire will report it
		}
		payload = append([]byte(nil), payload...)
		g.store(i, payload)
		g.delivered.set(i)
		g.nDeliv++
		d.stats.Recovered++
		d.stats.Delivered++
		out = append(out, Delivered{ID: ID{g.id, uint8(i)}, Payload: payload, Recovered: true})
	}
	return out
}

// SetGroupTimeout changes how long the decoder waits for a group, from
// its first packet, before it reports the group's missing data packets
// (it should exceed the sender's flush interval plus the path's jitter).
// It applies to open groups too. d <= 0 is ignored.
func (d *Decoder) SetGroupTimeout(t time.Duration) {
	if t > 0 {
		d.cfg.GroupTimeout = t
	}
}

// GroupTimeout returns the decoder's current group timeout.
func (d *Decoder) GroupTimeout() time.Duration { return d.cfg.GroupTimeout }

// SetParitySpread tells the decoder the sender's parity spread
// (Config.ParitySpread), so it waits for a sparse group's last parity
// packet. It applies to open groups too. d < 0 is ignored.
func (d *Decoder) SetParitySpread(t time.Duration) {
	if t >= 0 {
		d.cfg.ParitySpread = t
	}
}

// MaxWait returns the longest a group may stay open: the group timeout
// plus the spread of MaxM parity packets.
func (d *Decoder) MaxWait() time.Duration {
	return d.cfg.GroupTimeout + time.Duration(d.cfg.MaxM-1)*d.cfg.ParitySpread
}

// wait returns how long g stays open from its first packet: the group
// timeout, plus (m-1) parity spreads unless g is known to be full (the
// sender spreads only the parity of groups flushed early). Before any
// parity arrived, m is the largest planned parity its data packets carry.
func (d *Decoder) wait(g *dgroup) time.Duration {
	if d.cfg.ParitySpread == 0 || (g.final && g.k >= d.cfg.K) || g.m < 2 {
		return d.cfg.GroupTimeout
	}
	return d.cfg.GroupTimeout + time.Duration(g.m-1)*d.cfg.ParitySpread
}

// Deadline returns when Expire next has something to report: the
// earliest time an open group's wait ends, or the zero time when no group
// is open. Losses of groups closed early (MaxGroups) are due at once:
// Deadline then returns a time long past. Callers that run Expire on a timer sleep until Deadline instead of
// polling.
func (d *Decoder) Deadline() time.Time {
	if len(d.evicted) > 0 {
		return time.Unix(0, 1)
	}
	var at time.Time
	for _, g := range d.groups {
		if t := g.first.Add(d.wait(g)); at.IsZero() || t.Before(at) {
			at = t
		}
	}
	return at
}

// Expire closes the groups whose first packet arrived at least
// GroupTimeout (plus their parity spread) before now and returns the ids
// of their data packets that were neither received nor recovered,
// together with those of groups
// closed early to respect MaxGroups. The caller should fetch these again
// over a reliable path. Ids come sorted by group (in sending order), then
// index.
//
// A group none of whose packets arrived is reported whole (indexes 0 to
// K-1) when a later group closes; and when every parity packet of a group
// flushed early is lost, the decoder knows only the planned k. In both
// cases it may report indexes that were never sent, which the sender
// ignores. Groups sent before the first one the decoder saw are unknown.
func (d *Decoder) Expire(now time.Time) []ID {
	out := d.evicted
	d.evicted = nil
	var due []*dgroup
	for _, g := range d.groups {
		if now.Sub(g.first) >= d.wait(g) {
			due = append(due, g)
		}
	}
	slices.SortFunc(due, func(a, b *dgroup) int {
		if older(a.id, b.id) {
			return -1
		}
		return 1
	})
	for _, g := range due {
		out = d.close(g, out)
	}
	return out
}

// evictOldest closes the oldest open group, keeping its losses for Expire.
func (d *Decoder) evictOldest() {
	var oldest *dgroup
	for _, g := range d.groups {
		if oldest == nil || older(g.id, oldest.id) {
			oldest = g
		}
	}
	if oldest != nil {
		d.evicted = d.close(oldest, d.evicted)
	}
}

// close finalizes g: counts its packets and appends its lost data ids,
// after those of older groups that never showed up.
func (d *Decoder) close(g *dgroup, out []ID) []ID {
	if older(d.floor, g.id) {
		if g.id-d.floor > uint32(4*d.cfg.MaxGroups) {
			d.floor = g.id - uint32(4*d.cfg.MaxGroups) // a jump: give up on the far past
		}
		for id := d.floor; id != g.id; id++ {
			if _, open := d.groups[id]; open {
				continue
			}
			if _, ok := d.closed[id]; ok {
				continue
			}
			out = d.close(&dgroup{id: id, k: d.cfg.K, m: max(d.lastM, d.cfg.MinM)}, out)
		}
	}
	if !older(g.id, d.floor) {
		d.floor = g.id + 1
	}
	if g.final {
		d.lastM = g.m
	}
	delete(d.groups, g.id)
	d.closed[g.id] = struct{}{}
	d.closedQ = append(d.closedQ, g.id)
	if len(d.closedQ) > 4*d.cfg.MaxGroups {
		delete(d.closed, d.closedQ[0])
		d.closedQ = d.closedQ[1:]
	}
	n := g.k + g.m
	received := g.got.countBelow(n)
	lost := n - received
	runs := 0
	for i := range n {
		if !g.got.has(i) && (i == 0 || g.got.has(i-1)) {
			runs++
		}
	}
	d.stats.Expected += uint64(n)
	d.stats.Received += uint64(received)
	d.stats.Lost += uint64(lost)
	d.interval.expected += uint64(n)
	d.interval.lost += uint64(lost)
	d.interval.runs += uint64(runs)
	for i := range g.k {
		if !g.delivered.has(i) {
			d.stats.Unrecoverable++
			out = append(out, ID{g.id, uint8(i)})
		}
	}
	return out
}

// Stats returns the counters since the decoder was created.
func (d *Decoder) Stats() Stats { return d.stats }

// Feedback builds a feedback packet for the sender from the groups closed
// since the previous call: the loss rate over all their packets (data and
// parity, recovered or not) and the mean length of loss runs within a
// group. With no closed group in the interval the loss rate is 0.
func (d *Decoder) Feedback(now time.Time) Packet {
	_ = now // reserved for rate-based reporting; the interval is call to call
	p := Packet{Kind: KindFeedback, Group: d.highest}
	iv := d.interval
	if iv.expected > 0 {
		p.LossPPM = uint32(iv.lost * 1_000_000 / iv.expected)
	}
	if iv.runs > 0 {
		p.BurstX100 = uint16(min(iv.lost*100/iv.runs, 0xffff))
	}
	d.interval.expected, d.interval.lost, d.interval.runs = 0, 0, 0
	return p
}
