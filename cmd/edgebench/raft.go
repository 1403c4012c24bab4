package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/edgegate/edgegate/bench/edgeproc"
	"github.com/edgegate/edgegate/bench/metrics"
)

// raftRegion is a region of edge processes replicating ordered chat over
// Raft on loopback, started from --edge-bin with shared secrets: the
// token secret, the API key, the resume secret and the region's Raft
// secret (a random one in a temporary file, given with --raft-secret-file).
type raftRegion struct {
	procs          []*edgeproc.Proc
	secret, apiKey string
	keyDir         string // holds the Raft secret's file; removed by stop
}

// startRaftRegion starts n edges with groups Raft groups each.
func startRaftRegion(ctx context.Context, bin string, n, groups int, extra []string, stderr io.Writer, logs bool) (*raftRegion, error) {
	r := &raftRegion{secret: randomHex(32), apiKey: "bench-" + randomHex(12)}
	keyFile, err := r.writeRaftSecret()
	if err != nil {
		return nil, err
	}
	// One resume secret for the region, as in production: a client whose
	// edge died resumes its session on another.
	resumeSecret := randomHex(32)
	gossipKey := filepath.Join(r.keyDir, "gossip.key")
	if err := os.WriteFile(gossipKey, []byte(randomHex(32)), 0o600); err != nil {
		r.stop()
		return nil, err
	}
	// Raft, gossip and inter-node link addresses of every node. The ports
	// are free when picked; another process could take one before the
	// edge binds it, which fails the start loudly, never silently.
	var peers, httpAddrs, raftAddrs, gossipAddrs, linkAddrs []string
	for i := range n {
		for _, list := range []*[]string{&httpAddrs, &raftAddrs, &gossipAddrs, &linkAddrs} {
			a, err := freeLoopbackPort()
			if err != nil {
				r.stop()
				return nil, err
			}
			*list = append(*list, a)
		}
		peers = append(peers, fmt.Sprintf("n%d@%s", i, raftAddrs[i]))
	}
	for i := range n {
		// A fixed HTTP port (not :0), so the edge advertises its client
		// URL and a draining peer can redirect clients to it.
		o := edgeproc.Options{Bin: bin, Listen: httpAddrs[i], Args: []string{"--node-id", fmt.Sprintf("n%d", i), "--raft-listen", raftAddrs[i],
			"--peers", strings.Join(peers, ","), "--raft-groups", fmt.Sprint(groups),
			"--auth-hmac-secret", r.secret, "--api-key", r.apiKey, "--raft-secret-file", keyFile,
			"--resume-secret", resumeSecret,
			// A cluster, as make cluster runs it: gossip (rooms and
			// routes need the members) and the inter-node link (rooms
			// span the nodes).
			"--gossip-listen", gossipAddrs[i], "--gossip-key-file", gossipKey, "--gossip-preset", "local",
			"--region", "bench", "--node-listen", linkAddrs[i]}}
		if i > 0 {
			o.Args = append(o.Args, "--join", gossipAddrs[0])
		}
		o.Args = append(o.Args, extra...)
		if logs {
			o.Stderr = stderr
		}
		p, err := edgeproc.Start(ctx, o)
		if err != nil {
			r.stop()
			return nil, err
		}
		r.procs = append(r.procs, p)
	}
	return r, nil
}

// freeLoopbackPort returns a 127.0.0.1 host:port that was free for both
// TCP and UDP (gossip uses both) when asked.
func freeLoopbackPort() (string, error) {
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		pc, err := net.ListenPacket("udp", addr)
		if err != nil {
			continue
		}
		pc.Close()
		return addr, nil
	}
	return "", errors.New("edgebench: no free loopback port for TCP and UDP")
}

// writeRaftSecret writes a random region secret (64 hex digits) to a
// file of its own in a new temporary directory and returns the file.
func (r *raftRegion) writeRaftSecret() (string, error) {
	dir, err := os.MkdirTemp("", "edgebench-raft-")
	if err != nil {
		return "", err
	}
	r.keyDir = dir
	file := filepath.Join(dir, "raft.key")
	if err := os.WriteFile(file, []byte(randomHex(32)), 0o600); err != nil {
		r.stop()
		return "", err
	}
	return file, nil
}

func (r *raftRegion) stop() {
	for _, p := range r.procs {
		p.Stop()
	}
	if r.keyDir != "" {
		_ = os.RemoveAll(r.keyDir)
	}
}

// leaders waits until every group has a leader on some node and returns
// how long that took.
func (r *raftRegion) leaders(ctx context.Context, groups int, limit time.Duration) (time.Duration, error) {
	start := time.Now()
	var sc metrics.Scraper
	for {
		total := 0.0
		for _, p := range r.procs {
			s, err := sc.Scrape(ctx, "http://"+p.Addr+"/metrics")
			if err != nil {
				return 0, err
			}
			v, _ := s.Value("edgegate_raft_groups", "state", "leader")
			total += v
		}
		if int(total) == groups {
			return time.Since(start), nil
		}
		if time.Since(start) > limit {
			return 0, fmt.Errorf("%d of %d groups have a leader after %v", int(total), groups, limit)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// raftIdleResult is `edgebench raft-idle`'s output.
type raftIdleResult struct {
	Scenario  string    `json:"scenario"`
	Nodes     int       `json:"nodes"`
	Groups    int       `json:"groups"`
	LeadersS  float64   `json:"leaders_s"`  // until every group had a leader
	DurationS float64   `json:"duration_s"` // idle window measured
	CPUPct    []float64 `json:"cpu_pct"`    // per node, % of one core
	RSSMB     []float64 `json:"rss_mb"`     // per node, at the end
	CPUPctMax float64   `json:"cpu_pct_max"`
	RSSMBMax  float64   `json:"rss_mb_max"`
}

// runRaftIdle is `edgebench raft-idle`: the idle cost of a region's Raft
// groups (heartbeats, timers) per node.
func runRaftIdle(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edgebench raft-idle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("edge-bin", "", "edge binary (required)")
	nodes := fs.Int("nodes", 3, "edge processes")
	groups := fs.Int("groups", 256, "Raft groups")
	settle := fs.Duration("settle", 5*time.Second, "wait after every group has a leader, before measuring")
	dur := fs.Duration("duration", 30*time.Second, "idle window measured")
	logs := fs.Bool("edge-logs", false, "pass the edges' logs to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *bin == "" {
		return errors.New("raft-idle needs --edge-bin")
	}
	r, err := startRaftRegion(ctx, *bin, *nodes, *groups, nil, stderr, *logs)
	if err != nil {
		return err
	}
	defer r.stop()
	took, err := r.leaders(ctx, *groups, 2*time.Minute)
	if err != nil {
		return err
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*settle):
	}
	var sc metrics.Scraper
	sample := func() ([]metrics.NodeStats, error) {
		var out []metrics.NodeStats
		for _, p := range r.procs {
			st, err := sc.ScrapeNode(ctx, "http://"+p.Addr+"/metrics")
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
		return out, nil
	}
	before, err := sample()
	if err != nil {
		return err
	}
	t0 := time.Now()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(*dur):
	}
	after, err := sample()
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	res := raftIdleResult{Scenario: "raft-idle", Nodes: *nodes, Groups: *groups, LeadersS: took.Seconds(), DurationS: el}
	for i := range after {
		cpu := 100 * (after[i].CPUSeconds - before[i].CPUSeconds) / el
		rss := float64(after[i].RSSBytes) / (1 << 20)
		res.CPUPct = append(res.CPUPct, cpu)
		res.RSSMB = append(res.RSSMB, rss)
		res.CPUPctMax, res.RSSMBMax = max(res.CPUPctMax, cpu), max(res.RSSMBMax, rss)
	}
	return writeJSON(stdout, res)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
