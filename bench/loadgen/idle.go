package loadgen

import (
	"context"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/client"
)

// RunIdle runs the idle scenario: ido.Conns connected, subscribed (one
// conversation each, from the token's convs claim), idle clients. It
// measures the edges' RSS before connecting and, once it has settled,
// after, and reports bytes_per_conn = (after - before) / connections.
// procs > 1 spreads the clients over that many child processes started by
// spawn.
func RunIdle(ctx context.Context, o Options, ido IdleOptions, procs int, spawn Spawner) (*Result, error) {
	if err := ido.Validate(); err != nil {
		return nil, err
	}
	e, err := newEnv(o)
	if err != nil {
		return nil, err
	}
	if ido.Settle == 0 {
		ido.Settle = DefaultSettle
	}
	parts, err := buildParts(e, "idle", ido.Conns, procs, spawn, childSpec{}, newIdlePart)
	if err != nil {
		return nil, err
	}
	before, err := e.settle(ctx, 0, 3*time.Second)
	if err != nil {
		return nil, fmt.Errorf("loadgen: idle: reading server metrics: %w", err)
	}
	start := time.Now()
	connected, failed, cerr := connectParts(ctx, parts)
	connectS := since(start)
	if connected == 0 {
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: idle: no client connected: %w", cerr)
	}
	after, err := e.settle(ctx, connected, ido.Settle)
	if err != nil {
		abortParts(parts)
		return nil, fmt.Errorf("loadgen: idle: reading server metrics: %w", err)
	}
	dur := since(start)
	res, err := finishParts(ctx, parts, finishMsg{})
	if err != nil {
		return nil, err
	}
	res.Scenario, res.RunID, res.Addrs, res.Procs = "idle", e.o.RunID, e.o.Addrs, max(1, procs)
	res.Connections, res.ConnectErrors, res.ConnectS = connected, failed, connectS
	if cerr != nil {
		res.addError("connect: %v", cerr)
	}
	res.RSSBeforeBytes, res.RSSAfterBytes = before.RSSBytes, after.RSSBytes
	per := (float64(after.RSSBytes) - float64(before.RSSBytes)) / float64(connected)
	res.BytesPerConn = &per
	res.ServerRSSBytes = after.RSSBytes
	res.ServerCPUSeconds = after.CPUSeconds - before.CPUSeconds
	res.ServerConnections = after.Connections
	res.DurationS = dur
	res.finalize(0)
	return res, nil
}

// idlePart holds n idle clients.
type idlePart struct {
	e       *env
	base, n int
	cls     []*client.Client
}

func newIdlePart(e *env, base, n int) part { return &idlePart{e: e, base: base, n: n} }

func (p *idlePart) connect(ctx context.Context) (int, int, error) {
	run := p.e.o.RunID
	cls, failed, err := p.e.connectAll(ctx, p.base, p.n, func(i int) clientSpec {
		return clientSpec{
			index: i, user: fmt.Sprintf("u-%s-%d", run, i),
			convs:  []string{fmt.Sprintf("idle:bench-%s-%d", run, i)},
			buffer: 8,
		}
	}, nil)
	p.cls = cls
	return countLive(cls), failed, err
}

func (p *idlePart) finish(_ context.Context, _ finishMsg) (*Result, error) {
	r := &Result{Reconnects: reconnects(p.cls)}
	p.e.closeAll(p.cls)
	p.cls = nil
	return r, nil
}

func (p *idlePart) abort() { p.e.closeAll(p.cls); p.cls = nil }
