package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
	"github.com/edgegate/edgegate/bench/metrics"
	"github.com/edgegate/edgegate/client"
)

// RunChat runs the chat scenario: co.Pairs 1:1 conversations
// (dm:bench-<run>-<i>) of two clients each; each side sends co.Rate
// messages/s to the other and waits for each ack (durable store) before the
// next. Receivers check delivery latency, loss, duplicates and order per
// conversation. procs > 1 spreads the pairs over child processes, which
// start sending together.
func RunChat(ctx context.Context, o Options, co ChatOptions, procs int, spawn Spawner) (*Result, error) {
	if err := co.Validate(); err != nil {
		return nil, err
	}
	co = co.withDefaults()
	st, err := startScenario(ctx, o, "chat", "client", co.Pairs, procs, spawn, childSpec{Chat: &co}, newChatPart(co))
	if err != nil {
		return nil, err
	}
	e, parts, connected, failed, cerr, connectS := st.e, st.parts, st.connected, st.failed, st.connectErr, st.connectS
	beforeEach, err := e.scrapeEach(ctx)
	if err != nil {
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: chat: reading server metrics: %w", err)
	}
	sendStart := time.Now()
	if o.OnSendStart != nil {
		o.OnSendStart()
	}
	res, err := finishParts(ctx, parts, finishMsg{})
	if err != nil {
		return nil, err
	}
	dur := time.Since(sendStart)
	afterEach, serr := e.scrapeEach(ctx)
	if serr != nil {
		res.addError("metrics (edges left out of the server figures): %v", serr)
	}
	// Edges killed or restarted during the run are left out of the
	// server figures.
	before, after := sameProcesses(beforeEach, afterEach)
	res.Scenario, res.RunID, res.Addrs, res.Procs = "chat", e.o.RunID, e.o.Addrs, max(1, procs)
	res.Connections, res.ConnectErrors, res.ConnectS = connected, failed, connectS
	if cerr != nil {
		res.addError("connect: %v", cerr)
	}
	res.Pairs = co.Pairs
	res.ServerRSSBytes = after.RSSBytes
	res.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	res.ServerConnections = after.Connections
	addEdgeFEC(res, before, after)
	res.DurationS = dur.Seconds()
	res.finalize(e.o.Duration)
	return res, nil
}

// addEdgeFEC adds what the edges' quic-fec counters counted during the
// run to the clients' counts in res.
func addEdgeFEC(res *Result, before, after metrics.NodeStats) {
	res.FECRecovered = addDelta(res.FECRecovered, before.FECRecovered, after.FECRecovered)
	res.Retransmitted = addDelta(res.Retransmitted, before.FECRetransmitted, after.FECRetransmitted)
	res.FECDataPackets = addDelta(res.FECDataPackets, before.FECDataPackets, after.FECDataPackets)
	res.FECUnrecoverable = addDelta(res.FECUnrecoverable, before.FECUnrecoverable, after.FECUnrecoverable)
}

// addDelta adds after-before to the optional count c. A counter that did
// not grow (not exported, or a failed scrape read as 0) leaves c as it is.
func addDelta(c *uint64, before, after uint64) *uint64 {
	if after <= before {
		return c
	}
	d := after - before
	return addCount(c, &d)
}

// chatSide is one client of a pair. Receive fields are owned by the
// receive goroutine, send fields by the send goroutine, until finish has
// waited for both.
type chatSide struct {
	c      *client.Client
	user   string
	conv   string
	stream uint32 // this side's stream id; the peer's is stream^1

	// receive
	check       StreamCheck
	lastConvSeq uint64
	reordered   uint64 // conversation seq went backwards or repeated
	invalid     uint64

	// send
	ackedSeqs           StreamCheck // this side's acked seqs, under the pair's lock
	sent, acked, errors uint64
	ackedBytes          uint64 // body bytes of the acked messages
	failed              []uint64
	firstErr            error
}

func msgID(run string, stream uint32, seq uint64) string {
	return fmt.Sprintf("b-%s-%d-%d", run, stream, seq)
}

// chatPart holds n pairs.
type chatPart struct {
	e       *env
	co      ChatOptions
	base, n int

	cls     []*client.Client
	sides   []chatSide // 2 per pair: index 2*local + side
	recvWG  sync.WaitGroup
	latency *hist.Histogram
	ack     *hist.Histogram
	// latSame and latCross split latency by placement (PlacementMixed).
	latSame, latCross *hist.Histogram
	// latSteady is latency of the messages after each sender's first
	// steadyAfterSeconds (see Result.LatencySteady).
	latSteady *hist.Histogram
	// pairMu[i] guards sides 2i and 2i+1's check and ackedSeqs;
	// deliveredAcked counts the messages both acked to their sender and
	// received by its peer (in either order): the drain waits for it to
	// reach the acked total. Comparing delivered with acked instead ends
	// the drain too early when sends time out (the server commits some
	// of them anyway, and their deliveries make up for acked ones still
	// on the way).
	pairMu         []sync.Mutex
	deliveredAcked atomic.Uint64
}

func newChatPart(co ChatOptions) newPartFunc {
	return func(e *env, base, n int) part {
		return &chatPart{e: e, co: co, base: base, n: n, latency: hist.New(), ack: hist.New(),
			latSame: hist.New(), latCross: hist.New(), latSteady: hist.New(), pairMu: make([]sync.Mutex, n)}
	}
}

func (p *chatPart) connect(ctx context.Context) (int, int, error) {
	run := p.e.o.RunID
	p.sides = make([]chatSide, 2*p.n)
	for i := range p.sides {
		pair := p.base + i/2
		s := &p.sides[i]
		s.user = fmt.Sprintf("u-%s-%d-%c", run, pair, 'a'+rune(i%2))
		s.conv = fmt.Sprintf("dm:bench-%s-%d", run, pair)
		s.stream = uint32(2*p.base + i)
	}
	cls, failed, err := p.e.connectAll(ctx, 2*p.base, 2*p.n, func(gi int) clientSpec {
		s := &p.sides[gi-2*p.base]
		return clientSpec{index: gi, pairEdge: p.co.sameEdge(gi / 2), user: s.user, convs: []string{s.conv}, buffer: 256}
	}, func(_ context.Context, local int, c *client.Client) error {
		s := &p.sides[local]
		s.c = c
		p.recvWG.Go(func() { p.receive(s) })
		return nil
	})
	p.cls = cls
	return countLive(cls), failed, err
}

func (p *chatPart) receive(s *chatSide) {
	run := p.e.o.RunID
	peer := s.stream ^ 1
	steadyAfter := uint64(steadyAfterSeconds * p.co.Rate)
	for m := range s.c.Messages() {
		if m.GetConversation() != s.conv {
			s.invalid++
			continue
		}
		if seq := m.GetSeq(); seq <= s.lastConvSeq {
			s.reordered++
		} else {
			s.lastConvSeq = seq
		}
		if m.GetSender() == s.user {
			continue // our own message, echoed to every subscriber
		}
		b, err := DecodeBody(m.GetBody())
		if err != nil || b.Stream != peer || m.GetClientMsgId() != msgID(run, b.Stream, b.Seq) {
			s.invalid++
			continue
		}
		d := time.Now().UnixNano() - b.SentUnixNano
		p.latency.Record(d)
		if b.Seq > steadyAfter {
			p.latSteady.Record(d)
		}
		if p.co.Placement == PlacementMixed {
			if p.co.sameEdge(int(s.stream / 2)) {
				p.latSame.Record(d)
			} else {
				p.latCross.Record(d)
			}
		}
		p.observed(s, b.Seq)
	}
}

// observed records seq's arrival at receiver s.
func (p *chatPart) observed(s *chatSide, seq uint64) {
	i := p.sideIndex(s)
	mu := &p.pairMu[i/2]
	mu.Lock()
	defer mu.Unlock()
	if s.check.Observe(seq) && p.sides[i^1].ackedSeqs.Has(seq) {
		p.deliveredAcked.Add(1)
	}
}

// ackedSeq records that sender s got seq acked.
func (p *chatPart) ackedSeq(s *chatSide, seq uint64) {
	i := p.sideIndex(s)
	mu := &p.pairMu[i/2]
	mu.Lock()
	defer mu.Unlock()
	if s.ackedSeqs.Observe(seq) && p.sides[i^1].check.Has(seq) {
		p.deliveredAcked.Add(1)
	}
}

// sideIndex is s's index in p.sides (see connect).
func (p *chatPart) sideIndex(s *chatSide) int { return int(s.stream) - 2*p.base }

// send is one side's paced, sequential send loop.
func (p *chatPart) send(ctx context.Context, s *chatSide) {
	run := p.e.o.RunID
	interval := time.Duration(float64(time.Second) / p.co.Rate)
	buf := make([]byte, 0, max(p.co.Size, p.co.SizeMax))
	sizes := rand.New(rand.NewPCG(uint64(s.stream), 0x5eed))
	// Spread the sides' first sends over one interval.
	next := time.Now().Add(time.Duration(uint64(s.stream) * 7919 % uint64(max(interval, 1))))
	for seq := uint64(1); ; seq++ {
		if wait := time.Until(next); wait > 0 {
			if sleepCtx(ctx, wait) != nil {
				return
			}
		} else if -wait > time.Second {
			next = time.Now()
		}
		if ctx.Err() != nil {
			return
		}
		next = next.Add(interval)
		t0 := time.Now()
		size := p.co.Size
		if p.co.SizeMax > size {
			size += sizes.IntN(p.co.SizeMax - size + 1)
		}
		buf = AppendBody(buf[:0], Body{Stream: s.stream, Seq: seq, SentUnixNano: t0.UnixNano()}, size)
		s.sent++
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := s.c.SendWithID(sctx, s.conv, msgID(run, s.stream, seq), buf)
		cancel()
		if err != nil {
			s.errors++
			s.failed = append(s.failed, seq)
			if s.firstErr == nil {
				s.firstErr = err
			}
			if errors.Is(err, client.ErrClosed) {
				return
			}
			continue
		}
		p.ack.RecordDuration(time.Since(t0))
		p.ackedSeq(s, seq)
		s.acked++
		s.ackedBytes += uint64(len(buf))
	}
}

// finish runs the send phase (Duration), waits up to Drain for every acked
// message to reach its peer, closes the clients and accounts.
func (p *chatPart) finish(ctx context.Context, _ finishMsg) (*Result, error) {
	sendStart := time.Now()
	sctx, cancel := context.WithTimeout(ctx, p.e.o.Duration)
	var sendWG sync.WaitGroup
	for i := range p.sides {
		if s := &p.sides[i]; s.c != nil && p.sides[i^1].c != nil {
			sendWG.Go(func() { p.send(sctx, s) })
		}
	}
	sendWG.Wait()
	cancel()
	var acked uint64
	for i := range p.sides {
		acked += p.sides[i].acked
	}
	deadline := time.Now().Add(p.e.o.Drain)
	for p.deliveredAcked.Load() < acked && time.Now().Before(deadline) {
		if sleepCtx(ctx, 10*time.Millisecond) != nil {
			break
		}
	}
	r := &Result{latency: p.latency, ackLatency: p.ack, outage: p.e.outages.h,
		latSame: p.latSame, latCross: p.latCross, latSteady: p.latSteady, Reconnects: reconnects(p.cls)}
	for _, c := range p.cls {
		if c != nil {
			r.EdgeSwitches += c.Stats().EdgeSwitches
		}
	}
	p.e.closeAll(p.cls)
	p.recvWG.Wait()
	var recovered, retransmitted, dataPackets, unrecoverable uint64
	var moves []float64
	for i := range p.sides {
		if c := p.sides[i].c; c != nil {
			st := c.Stats()
			recovered += st.FECRecovered
			retransmitted += st.Retransmitted
			dataPackets += st.FECDataPackets
			unrecoverable += st.FECUnrecoverable
			// From the start of traffic (the link is lossy from the
			// start, but until the clients send there is next to nothing
			// on it to measure); a move before it counts 0.
			if !st.FirstMoveAt.IsZero() {
				r.MoveDecidedMaxS = max(r.MoveDecidedMaxS, st.FirstMoveAt.Sub(sendStart).Seconds())
			}
			if !st.FirstOnQUICAt.IsZero() {
				r.Moved++
				// Closed by now (no Transport): moves and returns
				// alternate, so an even count ended on WebSocket.
				if st.TransportSwitches%2 == 0 {
					r.Returned++
				}
				moves = append(moves, max(st.FirstOnQUICAt.Sub(sendStart).Seconds(), 0))
			}
		}
	}
	r.setMoves(moves)
	r.FECRecovered, r.Retransmitted = &recovered, &retransmitted
	r.FECDataPackets, r.FECUnrecoverable = &dataPackets, &unrecoverable
	for i := range p.sides {
		s, peer := &p.sides[i], &p.sides[i^1]
		r.Sent += s.sent
		r.Acked += s.acked
		r.AckedBytes += s.ackedBytes
		r.SendErrors += s.errors
		if s.firstErr != nil {
			r.addError("send %s: %v", s.user, s.firstErr)
		}
		if s.c == nil {
			continue
		}
		r.Expected += peer.acked
		r.Delivered += s.check.Delivered()
		r.Duplicates += s.check.Duplicates()
		// Out of send order is only wrong if every send of the peer
		// was acked: a send that timed out may still be committed
		// later, after the next ones (it was not retried with its id).
		// A conversation seq going backwards (s.reordered) is always
		// wrong.
		r.Reordered += s.reordered
		if len(peer.failed) == 0 {
			r.Reordered += s.check.Reordered()
		}
		r.Invalid += s.invalid + s.check.Invalid()
		lost := s.check.Lost(peer.sent)
		for _, f := range peer.failed {
			if !s.check.Has(f) {
				lost--
			}
		}
		r.Lost += lost
	}
	p.cls = nil
	return r, nil
}

func (p *chatPart) abort() {
	p.e.closeAll(p.cls)
	p.recvWG.Wait()
	p.cls = nil
}
