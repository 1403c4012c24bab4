package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/edgegate/edgegate/bench/hist"
	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport/pb"
)

// RunRooms runs the rooms (danmaku) scenario: ro.Viewers clients join one
// room, one publisher sends ro.Rate comments/s of ro.Size bytes for the
// duration, and every viewer checks every comment (latency, loss,
// duplicates, order). procs > 1 spreads the viewers over child processes;
// the publisher always runs in this process.
func RunRooms(ctx context.Context, o Options, ro RoomsOptions, procs int, spawn Spawner) (*Result, error) {
	if err := ro.Validate(); err != nil {
		return nil, err
	}
	ro = ro.withDefaults()
	st, err := startScenario(ctx, o, "rooms", "viewer", ro.Viewers, procs, spawn, childSpec{Rooms: &ro}, newRoomsPart(ro))
	if err != nil {
		return nil, err
	}
	e, parts, connected, failed, cerr, connectS := st.e, st.parts, st.connected, st.failed, st.connectErr, st.connectS
	room := roomName(e.o.RunID)
	pub, err := e.dial(ctx, clientSpec{index: ro.Viewers, user: fmt.Sprintf("pub-%s", e.o.RunID), rooms: []string{room}, buffer: 64})
	if err != nil {
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: rooms: publisher: %w", err)
	}
	var drainWG sync.WaitGroup
	drainWG.Go(func() {
		for range pub.Messages() { // the publisher's own echoes, if any
		}
	})
	before, err := e.scrape(ctx)
	if err != nil {
		_ = pub.Close()
		drainWG.Wait()
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: rooms: reading server metrics: %w", err)
	}
	sendStart := time.Now()
	ps := publish(ctx, pub, room, ro, e.o.Duration)
	sendPhase := time.Since(sendStart)
	_ = pub.Close()
	drainWG.Wait()

	res, err := finishParts(ctx, parts, finishMsg{Acked: ps.acked, Sent: ps.sent, Failed: ps.failed})
	if err != nil {
		return nil, err
	}
	dur := time.Since(sendStart)
	after, serr := e.scrape(ctx)
	if serr != nil {
		res.addError("metrics: %v", serr)
	}
	res.Scenario, res.RunID, res.Addrs, res.Procs = "rooms", e.o.RunID, e.o.Addrs, max(1, procs)
	res.Connections, res.ConnectErrors, res.ConnectS = connected+1, failed, connectS
	if cerr != nil {
		res.addError("connect: %v", cerr)
	}
	res.Sent, res.Acked, res.SendErrors = ps.sent, ps.acked, ps.errors
	if ps.firstErr != nil {
		res.addError("send: %v", ps.firstErr)
	}
	res.Viewers, res.RateTarget, res.BodyBytes = connected, ro.Rate, ro.Size
	res.ServerRSSBytes = after.RSSBytes
	res.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	res.ServerConnections = after.Connections
	res.DurationS = dur.Seconds()
	res.finalize(sendPhase)
	return res, nil
}

func roomName(run string) string { return "bench-" + run }

// pubStats are a publisher's counters.
type pubStats struct {
	sent, acked, errors uint64
	failed              []uint64
	firstErr            error
}

// publish sends paced comments until d has passed. Sends are sequential so
// seq order is send order. When acks are slower than the pace it catches
// up without bursting more than one second's worth.
func publish(ctx context.Context, c *client.Client, room string, ro RoomsOptions, d time.Duration) pubStats {
	var ps pubStats
	interval := time.Duration(float64(time.Second) / ro.Rate)
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	buf := make([]byte, 0, ro.Size)
	start := time.Now()
	next := start
	for seq := uint64(1); ; seq++ {
		if wait := time.Until(next); wait > 0 {
			if sleepCtx(ctx, wait) != nil {
				break
			}
		} else if -wait > time.Second {
			next = time.Now()
		}
		if ctx.Err() != nil {
			break
		}
		next = next.Add(interval)
		buf = AppendBody(buf[:0], Body{Stream: 0, Seq: seq, SentUnixNano: time.Now().UnixNano()}, ro.Size)
		ps.sent++
		// The last sends may outlive the send phase a little: a send is
		// never abandoned half-way because the phase ended.
		sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := c.SendLive(sctx, room, buf)
		scancel()
		if err != nil {
			ps.errors++
			ps.failed = append(ps.failed, seq)
			if ps.firstErr == nil {
				ps.firstErr = err
			}
			if errors.Is(err, client.ErrClosed) {
				break
			}
			continue
		}
		ps.acked++
	}
	return ps
}

// viewer is one room viewer's receive state, owned by its goroutine until
// the part is finished.
type viewer struct {
	check   StreamCheck
	invalid uint64
	// sameEdge: on the publisher's edge (with several edges, the others
	// receive through the inter-node link).
	sameEdge bool
}

// roomsPart holds n viewers of the run's room.
type roomsPart struct {
	e       *env
	ro      RoomsOptions
	base, n int

	cls     []*client.Client
	viewers []viewer
	latency *hist.Histogram
	// latSame and latCross split latency between viewers on the
	// publisher's edge and on the others (several Addrs).
	latSame, latCross *hist.Histogram
	delivered         atomic.Uint64
}

func newRoomsPart(ro RoomsOptions) newPartFunc {
	return func(e *env, base, n int) part {
		return &roomsPart{e: e, ro: ro, base: base, n: n, latency: hist.New(), latSame: hist.New(), latCross: hist.New()}
	}
}

func (p *roomsPart) connect(ctx context.Context) (int, int, error) {
	run := p.e.o.RunID
	room := roomName(run)
	p.viewers = make([]viewer, p.n)
	cls, failed, err := p.e.connectAll(ctx, p.base, p.n, func(i int) clientSpec {
		v := &p.viewers[i-p.base]
		// The publisher is client ro.Viewers (RunRooms).
		v.sameEdge = i%len(p.e.o.Addrs) == p.ro.Viewers%len(p.e.o.Addrs)
		return clientSpec{index: i, user: fmt.Sprintf("v-%s-%d", run, i), rooms: []string{room}, buffer: 1,
			onMessage: func(m *pb.Message) { p.observe(v, m) }}
	}, func(ctx context.Context, local int, c *client.Client) error {
		_, err := c.JoinRoom(ctx, room)
		return err
	})
	p.cls = cls
	return countLive(cls), failed, err
}

// observe is a viewer's whole per-message work, run on the SDK's reader
// goroutine (client.Config.OnMessage): decode, one histogram add, one
// bitmap update. The viewer's state is only touched there, and read after
// the client is closed.
func (p *roomsPart) observe(v *viewer, m *pb.Message) {
	b, err := DecodeBody(m.GetBody())
	if err != nil || b.Stream != 0 || m.GetClass() == pb.DeliveryClass_DELIVERY_CLASS_ORDERED {
		v.invalid++
		return
	}
	d := time.Now().UnixNano() - b.SentUnixNano
	p.latency.Record(d)
	if len(p.e.o.Addrs) > 1 {
		if v.sameEdge {
			p.latSame.Record(d)
		} else {
			p.latCross.Record(d)
		}
	}
	if v.check.Observe(b.Seq) {
		p.delivered.Add(1)
	}
}

// finish waits (at most Drain) for every viewer to have every acked
// comment, closes the viewers and accounts.
func (p *roomsPart) finish(ctx context.Context, f finishMsg) (*Result, error) {
	live := countLive(p.cls)
	want := f.Acked * uint64(live)
	deadline := time.Now().Add(p.e.o.Drain)
	for p.delivered.Load() < want && time.Now().Before(deadline) {
		if sleepCtx(ctx, 10*time.Millisecond) != nil {
			break
		}
	}
	r := &Result{latency: p.latency, latSame: p.latSame, latCross: p.latCross, Reconnects: reconnects(p.cls)}
	for _, c := range p.cls {
		if c != nil {
			r.ServerDropped += c.Stats().LiveDropped
		}
	}
	p.e.closeAll(p.cls) // returns after each client's reader has stopped
	for i, c := range p.cls {
		if c == nil {
			continue
		}
		v := &p.viewers[i]
		r.Delivered += v.check.Delivered()
		r.Duplicates += v.check.Duplicates()
		r.Reordered += v.check.Reordered()
		r.Invalid += v.invalid + v.check.Invalid()
		lost := v.check.Lost(f.Sent)
		for _, s := range f.Failed { // never acked: not expected
			if !v.check.Has(s) {
				lost--
			}
		}
		r.Lost += lost
	}
	r.Expected = want
	p.cls = nil
	return r, nil
}

func (p *roomsPart) abort() {
	p.e.closeAll(p.cls)
	p.cls = nil
}
