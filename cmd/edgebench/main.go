// Command edgebench is edgegate's load generator: it drives real client SDK
// connections against running edges and prints a summary, or with --json
// exactly one JSON object on stdout. Progress logs go to stderr.
//
//	edgebench idle  --addr 127.0.0.1:8080 --secret S --conns 10000 --json
//	edgebench rooms --addr 127.0.0.1:8080 --secret S --viewers 1000 --rate 50 --size 64
//	edgebench chat  --addr 127.0.0.1:8080 --secret S --pairs 100 --rate 5
//
// See bench/README.md for every flag and how to reproduce the numbers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/edgegate/edgegate/bench/edgeproc"
	"github.com/edgegate/edgegate/bench/loadgen"
)

const usage = `usage: edgebench <scenario> [flags]

scenarios:
  idle   --conns N                       idle subscribed connections; server bytes per connection
  rooms  --viewers N --rate R --size B   one room, one publisher, N viewers
  chat   --pairs N --rate R --size B     N 1:1 conversations, both sides sending with acks
  lossy  --transport ws|quic-stream|quic-fec|quic-fec-inquic|auto --loss P --burst L --rtt MS
                                          chat over an emulated weak link (root; needs --edge-bin)
  lossy-table FILE                        Markdown table (medians) of concatenated lossy --json results
  cluster --pairs N --rate R --kill-after D --edge-bin BIN
                                          chat over a region (--raft-nodes, default 3) while one edge is
                                          killed (-9): loss, duplicates, clients' outages
  raft-idle --nodes N --groups G --duration D
                                          idle CPU and RSS per node of a Raft region (needs --edge-bin)
  raft-failover --groups G --runs N       kill -9 of the node leading the most groups under writes:
                                          election and first-write times, loss, catch-up (needs --edge-bin)

run "edgebench <scenario> -h" for the flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, usage)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	// EDGEBENCH_CPUPROFILE=DIR writes a CPU profile of this process (and
	// of every --procs child, which inherits the variable) into DIR, to
	// see whether the load generator or the edge is the bottleneck.
	if dir := os.Getenv("EDGEBENCH_CPUPROFILE"); dir != "" {
		stopProf, err := startCPUProfile(dir, args[0])
		if err != nil {
			fmt.Fprintln(stderr, "edgebench:", err)
			return 1
		}
		defer stopProf()
	}
	if _, err := loadgen.RaiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "edgebench: warning:", err)
	}
	if args[0] == "child" {
		// Internal: one share of a --procs run; see loadgen.ServeChild.
		log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		if err := loadgen.ServeChild(ctx, os.Stdin, stdout, log); err != nil {
			fmt.Fprintln(stderr, "edgebench child:", err)
			return 1
		}
		return 0
	}
	if args[0] == "raft-idle" || args[0] == "raft-failover" {
		run := runRaftIdle
		if args[0] == "raft-failover" {
			run = runRaftFailover
		}
		if err := run(ctx, args[1:], stdout, stderr); err != nil && !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "edgebench:", err)
			return 1
		}
		return 0
	}
	if args[0] == "lossy-table" {
		if err := runLossyTable(args[1:], stdout); err != nil {
			fmt.Fprintln(stderr, "edgebench:", err)
			return 1
		}
		return 0
	}
	var res output
	var err error
	if args[0] == "lossy" {
		res, err = runLossy(ctx, args[1:], stderr)
	} else {
		res, err = runScenario(ctx, args[0], args[1:], stderr)
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "edgebench:", err)
		return 1
	}
	if res.json {
		if len(res.all) > 1 {
			err = writeJSON(stdout, multiResult{Result: res.r, MedianOf: len(res.all), Runs: res.all})
		} else {
			err = writeJSON(stdout, res.r)
		}
	} else {
		if len(res.all) > 1 {
			fmt.Fprintf(stdout, "median of %d runs (each figure on its own)\n", len(res.all))
		}
		err = res.r.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "edgebench:", err)
		return 1
	}
	return 0
}

type output struct {
	r    *loadgen.Result
	all  []*loadgen.Result // every run when --runs > 1
	json bool
}

// common holds the flags every scenario has.
type common struct {
	addr, addrs, secret, apiKey, runID, logLevel string
	edgeBin, edgeArgs                            string
	duration, drain, connectTimeout              time.Duration
	sourceIPs, dialConc, procs, runs             int
	raftNodes, raftGroups                        int
	json, edgeLogs                               bool
}

func (c *common) define(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "edge host:port")
	fs.StringVar(&c.addrs, "addrs", "", "comma-separated edge host:port list; clients are spread round-robin (overrides --addr)")
	fs.StringVar(&c.secret, "secret", "", "the edge's HMAC token secret (printed by edge --dev; env EDGEBENCH_SECRET)")
	fs.StringVar(&c.apiKey, "api-key", "", "the edge's API key (sent when scraping /metrics; env EDGEBENCH_API_KEY)")
	fs.DurationVar(&c.duration, "duration", loadgen.DefaultDuration, "send phase length")
	fs.DurationVar(&c.drain, "drain", loadgen.DefaultDrain, "max wait after the send phase for outstanding deliveries")
	fs.DurationVar(&c.connectTimeout, "connect-timeout", loadgen.DefaultConnectTimeout, "bound on the whole connect phase")
	fs.IntVar(&c.sourceIPs, "source-ips", 1, "spread connections over source addresses 127.0.0.1..127.0.0.N (loopback edges only)")
	fs.IntVar(&c.dialConc, "dial-concurrency", loadgen.DefaultDialConcurrency, "connection attempts in flight")
	fs.IntVar(&c.procs, "procs", 1, "spread the clients over this many child edgebench processes")
	fs.StringVar(&c.runID, "run-id", "", "name for this run's users/conversations/rooms (default random)")
	fs.StringVar(&c.logLevel, "log-level", "warn", "progress log level on stderr: debug, info, warn, error")
	fs.BoolVar(&c.json, "json", false, "print one JSON object instead of a summary")
	fs.StringVar(&c.edgeBin, "edge-bin", "", "start a fresh edge from this binary for every run (--dev on 127.0.0.1:0, temporary data dir); --addr, --secret and --api-key then come from it")
	fs.StringVar(&c.edgeArgs, "edge-args", "", "extra flags for the edge started by --edge-bin (space-separated)")
	fs.BoolVar(&c.edgeLogs, "edge-logs", false, "copy the logs of the edge started by --edge-bin to stderr")
	fs.IntVar(&c.raftNodes, "raft-nodes", 0, "with --edge-bin: start a Raft region of this many edges on loopback instead of one edge; clients are spread over them")
	fs.IntVar(&c.raftGroups, "raft-groups", 64, "with --raft-nodes: Raft groups of the region")
	fs.IntVar(&c.runs, "runs", 1, "repeat the scenario N times and report per-field medians (use with --edge-bin for independent runs)")
}

func (c *common) options(stderr io.Writer) (loadgen.Options, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return loadgen.Options{}, fmt.Errorf("--log-level: %w", err)
	}
	secret := c.secret
	if secret == "" {
		secret = os.Getenv("EDGEBENCH_SECRET")
	}
	if c.edgeBin != "" {
		secret = "replaced-by-the-edge-started-by-edge-bin"
	}
	apiKey := c.apiKey
	if apiKey == "" {
		apiKey = os.Getenv("EDGEBENCH_API_KEY")
	}
	addrs := []string{c.addr}
	if c.addrs != "" {
		addrs = nil
		for _, a := range strings.Split(c.addrs, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, a)
			}
		}
	}
	if c.procs < 1 || c.procs > 64 {
		return loadgen.Options{}, fmt.Errorf("--procs %d not in [1, 64]", c.procs)
	}
	o := loadgen.Options{
		Addrs: addrs, Secret: []byte(secret), APIKey: apiKey,
		Duration: c.duration, Drain: c.drain, ConnectTimeout: c.connectTimeout,
		RunID: c.runID, SourceIPs: c.sourceIPs, DialConcurrency: c.dialConc,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	return o, o.Validate()
}

// spawner re-executes this binary as "edgebench child";
// wrap prefixes the command (e.g. ip netns exec NS, for edgebench lossy).
func spawner(stderr io.Writer, wrap ...string) (loadgen.Spawner, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("--procs: finding own executable: %w", err)
	}
	argv := append(append([]string(nil), wrap...), exe, "child")
	return func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Stderr = stderr
		cmd.WaitDelay = 30 * time.Second
		return cmd
	}, nil
}

func runScenario(ctx context.Context, name string, args []string, stderr io.Writer) (output, error) {
	fs := flag.NewFlagSet("edgebench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.define(fs)
	var (
		conns, viewers, pairs, size int
		rate                        float64
		settle                      time.Duration
		sizes                       = sizeRange{loadgen.DefaultBodySize, loadgen.DefaultBodySize}
		placement                   string
		failover                    bool
		kill                        *killPlan
	)
	switch name {
	case "idle":
		fs.IntVar(&conns, "conns", 1000, "idle connections")
		fs.DurationVar(&settle, "settle", loadgen.DefaultSettle, "max wait for the server's RSS to settle after connecting")
	case "rooms":
		fs.IntVar(&viewers, "viewers", 100, "viewer connections")
		fs.Float64Var(&rate, "rate", loadgen.DefaultRoomsRate, "comments per second from the publisher")
		fs.IntVar(&size, "size", loadgen.DefaultBodySize, "comment body bytes (min 23)")
	case "chat", "cluster":
		fs.IntVar(&pairs, "pairs", 10, "1:1 conversations (two clients each)")
		fs.Float64Var(&rate, "rate", loadgen.DefaultChatRate, "messages per second sent by each side")
		fs.Var(&sizes, "size", "message body bytes (min 23), or MIN-MAX for sizes uniform in that range")
		fs.StringVar(&placement, "placement", loadgen.PlacementCross, "with several edges, where a conversation's two clients connect: cross (different edges), same (one edge) or mixed (alternate pairs; both latencies reported)")
		fs.BoolVar(&failover, "failover", name == "cluster", "give clients the other edges as alternates and report their outages (outage_ms)")
		if name == "cluster" {
			kill = &killPlan{}
			kill.define(fs)
		}
	default:
		return output{}, fmt.Errorf("unknown scenario %q\n%s", name, usage)
	}
	if err := fs.Parse(args); err != nil {
		return output{}, err
	}
	if fs.NArg() > 0 {
		return output{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if kill != nil {
		if c.raftNodes == 0 {
			c.raftNodes = 3
		}
		if err := kill.validate(&c); err != nil {
			return output{}, err
		}
	}
	o, err := c.options(stderr)
	if err != nil {
		return output{}, err
	}
	o.Failover = failover
	var spawn loadgen.Spawner
	if c.procs > 1 {
		if spawn, err = spawner(stderr); err != nil {
			return output{}, err
		}
	}
	if c.runs < 1 || c.runs > 100 {
		return output{}, fmt.Errorf("--runs %d not in [1, 100]", c.runs)
	}
	once := func(o loadgen.Options) (*loadgen.Result, error) {
		switch name {
		case "idle":
			return loadgen.RunIdle(ctx, o, loadgen.IdleOptions{Conns: conns, Settle: settle}, c.procs, spawn)
		case "rooms":
			return loadgen.RunRooms(ctx, o, loadgen.RoomsOptions{Viewers: viewers, Rate: rate, Size: size}, c.procs, spawn)
		default:
			return loadgen.RunChat(ctx, o, loadgen.ChatOptions{Pairs: pairs, Rate: rate, Size: sizes.min, SizeMax: sizes.max, Placement: placement}, c.procs, spawn)
		}
	}
	var all []*loadgen.Result
	for i := range c.runs {
		r, err := runOnce(ctx, c, o, stderr, kill, once)
		if err != nil {
			return output{}, fmt.Errorf("run %d of %d: %w", i+1, c.runs, err)
		}
		all = append(all, r)
		o.Logger.Info("run done", "run", i+1, "of", c.runs)
	}
	if len(all) == 1 {
		return output{r: all[0], json: c.json}, nil
	}
	med, err := medianResult(all)
	return output{r: med, all: all, json: c.json}, err
}

// runOnce runs the scenario once, against a fresh edge (or region) when
// --edge-bin is set; kill, when set, kills one of the region's edges
// during the run.
func runOnce(ctx context.Context, c common, o loadgen.Options, stderr io.Writer, kill *killPlan,
	once func(loadgen.Options) (*loadgen.Result, error)) (*loadgen.Result, error) {
	if c.edgeBin == "" {
		return once(o)
	}
	if c.raftNodes > 0 {
		r, err := startRaftRegion(ctx, c.edgeBin, c.raftNodes, c.raftGroups, strings.Fields(c.edgeArgs), stderr, c.edgeLogs)
		if err != nil {
			return nil, err
		}
		defer r.stop()
		if _, err := r.leaders(ctx, c.raftGroups, 2*time.Minute); err != nil {
			return nil, err
		}
		o.Addrs, o.Secret, o.APIKey = nil, []byte(r.secret), r.apiKey
		for _, p := range r.procs {
			o.Addrs = append(o.Addrs, p.Addr)
		}
		if kill == nil {
			return once(o)
		}
		k := &killer{plan: *kill, region: r, stderr: stderr}
		o.OnSendStart = k.arm(ctx)
		res, err := once(o)
		return res, errors.Join(err, k.wait(res))
	}
	eo := edgeproc.Options{Bin: c.edgeBin, Args: strings.Fields(c.edgeArgs)}
	if c.edgeLogs {
		eo.Stderr = stderr
	}
	p, err := edgeproc.Start(ctx, eo)
	if err != nil {
		return nil, err
	}
	o.Addrs, o.Secret, o.APIKey = []string{p.Addr}, []byte(p.Secret), p.APIKey
	r, err := once(o)
	if serr := p.Stop(); serr != nil && err == nil {
		o.Logger.Warn("edge did not stop cleanly", "err", serr)
	}
	return r, err
}
