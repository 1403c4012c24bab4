package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/edgegate/edgegate/bench/raftadmin"
	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/raftgroup"
)

// raftFailoverResult is `edgebench raft-failover`'s output: one run, or
// with --runs N the median of each figure and every run in "runs".
type raftFailoverResult struct {
	Scenario string `json:"scenario"`
	Nodes    int    `json:"nodes"`
	Groups   int    `json:"groups"`
	// Victim is the node killed (-9): the one leading the most groups.
	Victim string `json:"victim"`
	// Affected is the number of groups it led.
	Affected int `json:"affected_groups"`
	// ElectionMs: per affected group, from the kill until a surviving node
	// reported itself its leader (polled every 50 ms).
	ElectionP50Ms float64 `json:"election_p50_ms"`
	ElectionP99Ms float64 `json:"election_p99_ms"`
	ElectionMaxMs float64 `json:"election_max_ms"`
	// WriteMs: per affected group, from the kill until the first write
	// acked after it (writers keep one write in flight per group, through
	// the surviving nodes).
	WriteP50Ms float64 `json:"write_p50_ms"`
	WriteP99Ms float64 `json:"write_p99_ms"`
	WriteMaxMs float64 `json:"write_max_ms"`
	// Unaffected groups' longest gap between two acks around the kill.
	UnaffectedMaxGapMs float64 `json:"unaffected_max_gap_ms"`
	Acked              int     `json:"acked"`
	// Lost: acked writes missing from a node's log (or at another seq);
	// Duplicates: client message ids stored twice; both must be 0.
	Lost       int `json:"lost"`
	Duplicates int `json:"duplicates"`
	// CatchupS: from the restart of the killed node until every group's
	// replica there had applied what its leader had.
	CatchupS float64 `json:"catchup_s"`
	// Converged: every replica of every group reports the same applied
	// index and state hash at the end.
	Converged     bool                 `json:"converged"`
	ConvergeError string               `json:"converge_error,omitempty"`
	Runs          []raftFailoverResult `json:"runs,omitempty"`
}

// runRaftFailover is `edgebench raft-failover`: a region of edge processes
// under steady writes to one conversation per group; the node leading
// the most groups is killed with SIGKILL, then restarted.
func runRaftFailover(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench raft-failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("edge-bin", "", "edge binary (required)")
	nodes := fs.Int("nodes", 3, "edge processes")
	groups := fs.Int("groups", 64, "Raft groups")
	warm := fs.Duration("warmup", 3*time.Second, "writes before the kill")
	down := fs.Duration("down", 5*time.Second, "how long the killed node stays down")
	after := fs.Duration("after", 3*time.Second, "writes after the restart")
	interval := fs.Duration("interval", 20*time.Millisecond, "pause between a group's writes")
	runs := fs.Int("runs", 1, "runs (each a fresh region); the result is the median of each figure")
	edgeArgs := fs.String("edge-args", "", "extra edge flags")
	logs := fs.Bool("edge-logs", false, "pass the edges' logs to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("raft-failover needs --edge-bin")
	}
	if *nodes < 3 {
		return errors.New("raft-failover needs --nodes 3 or more (a majority must survive)")
	}
	var all []raftFailoverResult
	for i := range *runs {
		r, err := raftFailoverOnce(ctx, failoverOpts{bin: *bin, nodes: *nodes, groups: *groups, warm: *warm, down: *down,
			after: *after, interval: *interval, extra: strings.Fields(*edgeArgs), stderr: stderr, logs: *logs})
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		fmt.Fprintf(stderr, "run %d: victim %s led %d groups; write p99 %.0f ms, election p99 %.0f ms, lost %d, catch-up %.1f s\n",
			i+1, r.Victim, r.Affected, r.WriteP99Ms, r.ElectionP99Ms, r.Lost, r.CatchupS)
		all = append(all, r)
	}
	if len(all) == 1 {
		return writeJSON(stdout, all[0])
	}
	return writeJSON(stdout, medianFailover(all))
}

type failoverOpts struct {
	bin                         string
	nodes, groups               int
	warm, down, after, interval time.Duration
	extra                       []string
	stderr                      io.Writer
	logs                        bool
}

// failoverWrite is one acked write.
type failoverWrite struct {
	cmid string
	seq  uint64
	at   time.Time
}

func raftFailoverOnce(ctx context.Context, o failoverOpts) (raftFailoverResult, error) {
	res := raftFailoverResult{Scenario: "raft-failover", Nodes: o.nodes, Groups: o.groups}
	r, err := startRaftRegion(ctx, o.bin, o.nodes, o.groups, o.extra, o.stderr, o.logs)
	if err != nil {
		return res, err
	}
	defer r.stop()
	if _, err := r.leaders(ctx, o.groups, 2*time.Minute); err != nil {
		return res, err
	}
	// The victim: the node leading the most groups.
	led := make([][]uint32, o.nodes)
	for i, p := range r.procs {
		st, err := raftadmin.Groups(ctx, "http://"+p.Addr, r.apiKey, false)
		if err != nil {
			return res, err
		}
		for _, g := range st.Groups {
			if g.State == "Leader" {
				led[i] = append(led[i], g.Group)
			}
		}
	}
	victim := 0
	for i := range led {
		if len(led[i]) > len(led[victim]) {
			victim = i
		}
	}
	affected := map[uint32]bool{}
	for _, g := range led[victim] {
		affected[g] = true
	}
	res.Victim, res.Affected = fmt.Sprintf("n%d", victim), len(affected)

	// One conversation per group; writers connect to the survivors.
	convs := make([]string, o.groups)
	for i, found := 0, 0; found < o.groups; i++ {
		c := fmt.Sprintf("group:fo%d", i)
		if g := raftgroup.GroupOf(c, o.groups); convs[g] == "" {
			convs[g] = c
			found++
		}
	}
	var survivors []string
	for i, p := range r.procs {
		if i != victim {
			survivors = append(survivors, p.Addr)
		}
	}
	wctx, stopWriters := context.WithCancel(ctx)
	defer stopWriters()
	acks := make([][]failoverWrite, o.groups)
	var wg sync.WaitGroup
	var werr error
	var werrOnce sync.Once
	for g := range o.groups {
		tok, err := auth.MintHS256([]byte(r.secret), auth.MintClaims{Subject: fmt.Sprintf("w%d", g), Convs: []string{convs[g]}, TTL: time.Hour})
		if err != nil {
			return res, err
		}
		c, err := client.Dial(ctx, client.Config{URL: "ws://" + survivors[g%len(survivors)] + "/v1/ws", Token: tok, DeviceID: "d",
			MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return res, err
		}
		defer c.Close()
		wg.Go(func() {
			for i := 0; wctx.Err() == nil; i++ {
				cmid := fmt.Sprintf("m%d", i)
				for wctx.Err() == nil {
					sctx, cancel := context.WithTimeout(wctx, 10*time.Second)
					ack, err := c.SendWithID(sctx, convs[g], cmid, make([]byte, 200))
					cancel()
					if err == nil {
						acks[g] = append(acks[g], failoverWrite{cmid: cmid, seq: ack.Seq, at: time.Now()})
						break
					}
					if wctx.Err() == nil && !isRetryable(err) {
						werrOnce.Do(func() { werr = err })
						return
					}
				}
				select {
				case <-wctx.Done():
				case <-time.After(o.interval):
				}
			}
		})
	}
	sleepCtx(ctx, o.warm)

	// Kill, and watch the survivors for new leaders.
	killed := time.Now()
	r.procs[victim].Kill()
	elected := map[uint32]time.Duration{}
	for len(elected) < len(affected) && time.Since(killed) < 30*time.Second && ctx.Err() == nil {
		for _, a := range survivors {
			st, err := raftadmin.Groups(ctx, "http://"+a, r.apiKey, false)
			if err != nil {
				continue
			}
			for _, g := range st.Groups {
				if _, seen := elected[g.Group]; affected[g.Group] && !seen && g.State == "Leader" {
					elected[g.Group] = time.Since(killed)
				}
			}
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
	if len(elected) < len(affected) {
		return res, fmt.Errorf("%d of %d groups elected a new leader within 30 s", len(elected), len(affected))
	}
	sleepCtx(ctx, max(0, o.down-time.Since(killed)))
	p, err := r.procs[victim].Restart(ctx)
	if err != nil {
		return res, fmt.Errorf("restart: %w", err)
	}
	r.procs[victim] = p
	catchup, err := r.caughtUp(ctx, victim, 60*time.Second)
	if err != nil {
		return res, err
	}
	res.CatchupS = catchup.Seconds()
	sleepCtx(ctx, o.after)
	stopWriters()
	wg.Wait()
	if werr != nil {
		return res, fmt.Errorf("writer: %w", werr)
	}

	// Figures.
	var elections, writes []float64
	for g := range uint32(o.groups) {
		a := acks[g]
		res.Acked += len(a)
		first := slices.IndexFunc(a, func(w failoverWrite) bool { return w.at.After(killed) })
		if affected[g] {
			elections = append(elections, ms(elected[g]))
			if first < 0 {
				return res, fmt.Errorf("group %d: no write acked after the kill", g)
			}
			writes = append(writes, ms(a[first].at.Sub(killed)))
		} else if first >= 0 {
			gap := a[first].at.Sub(killed)
			if first > 0 {
				gap = a[first].at.Sub(a[first-1].at)
			}
			res.UnaffectedMaxGapMs = max(res.UnaffectedMaxGapMs, ms(gap))
		}
	}
	res.ElectionP50Ms, res.ElectionP99Ms, res.ElectionMaxMs = quantile(elections, 0.5), quantile(elections, 0.99), quantile(elections, 1)
	res.WriteP50Ms, res.WriteP99Ms, res.WriteMaxMs = quantile(writes, 0.5), quantile(writes, 0.99), quantile(writes, 1)

	// Replicas converge (followers apply the last entries a moment after
	// the leader acked them), then every node's log must hold every acked
	// write once, at its seq.
	if err := r.converged(ctx, 30*time.Second); err != nil {
		res.ConvergeError = err.Error()
	}
	res.Converged = res.ConvergeError == ""
	for i, p := range r.procs {
		for g, conv := range convs {
			h, err := historyOf(ctx, p.Addr, r.apiKey, conv)
			if err != nil {
				return res, err
			}
			at := map[string]uint64{}
			for _, m := range h {
				if _, dup := at[m.ClientMsgID]; dup {
					res.Duplicates++
				}
				at[m.ClientMsgID] = m.Seq
			}
			for _, w := range acks[g] {
				if at[w.cmid] != w.seq {
					res.Lost++
					fmt.Fprintf(o.stderr, "n%d %s: %s acked at seq %d, the log has seq %d (log length %d)\n", i, conv, w.cmid, w.seq, at[w.cmid], len(h))
				}
			}
		}
	}
	return res, nil
}

// isRetryable tells a write error worth resending with the same id (the
// region is electing or the edge gave up waiting) from a bug.
func isRetryable(err error) bool {
	var ce *client.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ce)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// quantile returns the q-quantile (nearest rank) of xs.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// historyMsg is a message as the history API shows it.
type historyMsg struct {
	Seq         uint64 `json:"seq"`
	ClientMsgID string `json:"client_msg_id"`
}

// historyOf reads a conversation's whole log on one node.
func historyOf(ctx context.Context, addr, apiKey, conv string) ([]historyMsg, error) {
	var out []historyMsg
	for {
		var page struct {
			Messages []historyMsg `json:"messages"`
			HasMore  bool         `json:"has_more"`
		}
		after := uint64(len(out))
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := raftadmin.Get(rctx, fmt.Sprintf("http://%s/v1/conversations/%s/messages?after=%d&limit=1000", addr, conv, after), apiKey, &page)
		cancel()
		var se *raftadmin.StatusError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, page.Messages...)
		if !page.HasMore || len(page.Messages) == 0 {
			return out, nil
		}
	}
}

// caughtUp waits until node i's replica of every group has applied at
// least what the group's leader had applied when the wait began, and
// returns how long that took.
func (r *raftRegion) caughtUp(ctx context.Context, i int, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	target := map[uint32]uint64{}
	for j, p := range r.procs {
		if j == i {
			continue
		}
		st, err := raftadmin.Groups(ctx, "http://"+p.Addr, r.apiKey, false)
		if err != nil {
			return 0, err
		}
		for _, g := range st.Groups {
			if g.State == "Leader" {
				target[g.Group] = g.Applied
			}
		}
	}
	for {
		st, err := raftadmin.Groups(ctx, "http://"+r.procs[i].Addr, r.apiKey, false)
		if err == nil {
			done := true
			for _, g := range st.Groups {
				if g.Applied < target[g.Group] {
					done = false
				}
			}
			if done {
				return time.Since(start), nil
			}
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("the restarted node did not catch up within %v", limit)
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// converged waits until every node reports the same applied index, state
// hash and leader for every group (raftadmin.Diff).
func (r *raftRegion) converged(ctx context.Context, limit time.Duration) error {
	start := time.Now()
	for {
		var all []raftadmin.Status
		diff := ""
		for _, p := range r.procs {
			st, err := raftadmin.Groups(ctx, "http://"+p.Addr, r.apiKey, true)
			if err != nil {
				diff = err.Error()
				break
			}
			all = append(all, st)
		}
		if diff == "" {
			diff = raftadmin.Diff(all)
		}
		if diff == "" {
			return nil
		}
		if time.Since(start) > limit {
			return errors.New(diff)
		}
		sleepCtx(ctx, 200*time.Millisecond)
	}
}

// medianFailover is the median of each figure over runs (booleans: all).
func medianFailover(all []raftFailoverResult) raftFailoverResult {
	med := func(f func(raftFailoverResult) float64) float64 {
		xs := make([]float64, len(all))
		for i, r := range all {
			xs[i] = f(r)
		}
		return quantile(xs, 0.5)
	}
	out := all[0]
	out.Victim = ""
	out.Affected = int(med(func(r raftFailoverResult) float64 { return float64(r.Affected) }))
	out.ElectionP50Ms = med(func(r raftFailoverResult) float64 { return r.ElectionP50Ms })
	out.ElectionP99Ms = med(func(r raftFailoverResult) float64 { return r.ElectionP99Ms })
	out.ElectionMaxMs = med(func(r raftFailoverResult) float64 { return r.ElectionMaxMs })
	out.WriteP50Ms = med(func(r raftFailoverResult) float64 { return r.WriteP50Ms })
	out.WriteP99Ms = med(func(r raftFailoverResult) float64 { return r.WriteP99Ms })
	out.WriteMaxMs = med(func(r raftFailoverResult) float64 { return r.WriteMaxMs })
	out.UnaffectedMaxGapMs = med(func(r raftFailoverResult) float64 { return r.UnaffectedMaxGapMs })
	out.CatchupS = med(func(r raftFailoverResult) float64 { return r.CatchupS })
	out.Acked = int(med(func(r raftFailoverResult) float64 { return float64(r.Acked) }))
	for _, r := range all {
		out.Lost, out.Duplicates = max(out.Lost, r.Lost), max(out.Duplicates, r.Duplicates)
		out.Converged = out.Converged && r.Converged
	}
	out.Runs = all
	return out
}
