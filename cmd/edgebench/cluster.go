package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/edgegate/edgegate/bench/loadgen"
)

// killPlan is `edgebench cluster`'s fault: one edge of the region killed
// with SIGKILL (or drained with SIGTERM) some time into the chat's send
// phase, optionally started again later.
type killPlan struct {
	victim       int
	after        time.Duration
	restartAfter time.Duration // 0: stays down
	drain        bool          // SIGTERM (drain, redirects) instead of SIGKILL
}

func (k *killPlan) define(fs *flag.FlagSet) {
	fs.IntVar(&k.victim, "victim", 0, "index of the edge to kill (0 .. --raft-nodes-1)")
	fs.DurationVar(&k.after, "kill-after", 5*time.Second, "kill the victim this long into the send phase")
	fs.DurationVar(&k.restartAfter, "restart-after", 0, "start the victim again this long after the kill (0: it stays down)")
	fs.BoolVar(&k.drain, "drain-victim", false, "stop the victim with SIGTERM (a graceful drain: clients are redirected to healthy peers) instead of SIGKILL")
}

func (k *killPlan) validate(c *common) error {
	var errs []error
	if c.edgeBin == "" {
		errs = append(errs, errors.New("cluster needs --edge-bin (it starts the region and kills one of its edges)"))
	}
	if c.raftNodes < 2 {
		errs = append(errs, fmt.Errorf("--raft-nodes %d: cluster needs at least 2 edges", c.raftNodes))
	}
	if k.victim < 0 || k.victim >= c.raftNodes {
		errs = append(errs, fmt.Errorf("--victim %d not in [0, %d)", k.victim, c.raftNodes))
	}
	if k.after <= 0 || k.after >= c.duration {
		errs = append(errs, fmt.Errorf("--kill-after %v must be inside the send phase (--duration %v)", k.after, c.duration))
	}
	if k.restartAfter < 0 {
		errs = append(errs, errors.New("--restart-after must not be negative"))
	}
	return errors.Join(errs...)
}

// killer carries out a killPlan on a running region.
type killer struct {
	plan   killPlan
	region *raftRegion
	stderr io.Writer

	wg     sync.WaitGroup
	cancel context.CancelFunc
	// Written by the killer goroutine, read after wait.
	sendStart, killedAt, restartedAt time.Time
	err                              error
}

// arm is the chat's OnSendStart: it starts the clock of the plan.
func (k *killer) arm(ctx context.Context) func() {
	return func() {
		ctx, cancel := context.WithCancel(ctx)
		k.cancel = cancel
		k.sendStart = time.Now()
		k.wg.Go(func() { k.run(ctx) })
	}
}

func (k *killer) run(ctx context.Context) {
	if sleepCtx(ctx, k.plan.after); ctx.Err() != nil {
		return
	}
	victim, how := k.region.procs[k.plan.victim], "killed"
	k.killedAt = time.Now()
	if k.plan.drain {
		how = "drained"
		if err := victim.Drain(); err != nil {
			k.err = fmt.Errorf("draining edge %d: %w", k.plan.victim, err)
		}
	} else {
		victim.Kill()
	}
	fmt.Fprintf(k.stderr, "edgebench cluster: %s edge %d (%s) %.1fs into the send phase\n",
		how, k.plan.victim, victim.Addr, k.killedAt.Sub(k.sendStart).Seconds())
	if k.plan.restartAfter <= 0 {
		return
	}
	if sleepCtx(ctx, k.plan.restartAfter); ctx.Err() != nil {
		return
	}
	p, err := k.region.procs[k.plan.victim].Restart(ctx)
	if err != nil {
		k.err = fmt.Errorf("restarting edge %d: %w", k.plan.victim, err)
		return
	}
	k.region.procs[k.plan.victim] = p
	k.restartedAt = time.Now()
}

// wait stops the plan (if the run ended first) and adds what happened to
// r.
func (k *killer) wait(r *loadgen.Result) error {
	if k.cancel == nil {
		return errors.New("cluster: the send phase never started")
	}
	k.cancel()
	k.wg.Wait()
	if k.killedAt.IsZero() {
		return errors.New("cluster: the run ended before the kill (raise --duration or lower --kill-after)")
	}
	if r != nil {
		v := k.plan.victim
		r.Scenario, r.KilledNode, r.Fault = "cluster", &v, "kill"
		if k.plan.drain {
			r.Fault = "drain"
		}
		r.KillAtS = k.killedAt.Sub(k.sendStart).Seconds()
		if !k.restartedAt.IsZero() {
			r.RestartAtS = k.restartedAt.Sub(k.sendStart).Seconds()
		}
	}
	return k.err
}
