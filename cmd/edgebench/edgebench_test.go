package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

var binDir string

// TestMain builds the edge and edgebench binaries: the scenarios run
// against real edge processes started with --edge-bin, and --procs runs
// re-execute edgebench itself.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "edgebench-test")
	if err != nil {
		panic(err)
	}
	binDir = dir
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	for _, pkg := range []string{"edge", "edgebench"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, pkg), "./cmd/"+pkg)
		cmd.Dir = root
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			code = 1
		}
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// runJSON runs edgebench in-process and decodes its JSON output.
func runJSON(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(args, &out, &errOut); code != 0 {
		t.Fatalf("edgebench %v: exit %d\n%s", args, code, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	return m
}

// requireFields checks the fields every scenario must print.
func requireFields(t *testing.T, m map[string]any) {
	t.Helper()
	for _, k := range []string{"scenario", "connections", "sent", "acked", "delivered", "expected", "lost",
		"duplicates", "reordered", "throughput_msgs_per_s", "latency_ms", "server_rss_bytes"} {
		if _, ok := m[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
	lat, _ := m["latency_ms"].(map[string]any)
	for _, k := range []string{"p50", "p90", "p99", "p999", "max"} {
		if _, ok := lat[k]; !ok {
			t.Errorf("latency_ms has no %q", k)
		}
	}
	if rss, _ := m["server_rss_bytes"].(float64); rss <= 0 {
		t.Errorf("server_rss_bytes = %v, want the edge's RSS", m["server_rss_bytes"])
	}
}

func TestChatAgainstFreshEdgesWithMedians(t *testing.T) {
	m := runJSON(t, "chat", "--edge-bin", filepath.Join(binDir, "edge"), "--pairs", "3", "--rate", "20",
		"--duration", "1s", "--runs", "2", "--json")
	requireFields(t, m)
	if m["scenario"] != "chat" || m["median_of"] != 2.0 || m["connections"] != 6.0 {
		t.Fatalf("scenario %v, median_of %v, connections %v", m["scenario"], m["median_of"], m["connections"])
	}
	runs, _ := m["runs"].([]any)
	if len(runs) != 2 {
		t.Fatalf("%d runs reported, want 2", len(runs))
	}
	for i, r := range runs {
		r := r.(map[string]any)
		if r["acked"].(float64) < 10 || r["lost"] != 0.0 || r["duplicates"] != 0.0 || r["reordered"] != 0.0 {
			t.Errorf("run %d: acked %v lost %v dup %v reordered %v", i, r["acked"], r["lost"], r["duplicates"], r["reordered"])
		}
		if r["delivered"] != r["expected"] {
			t.Errorf("run %d: delivered %v of %v", i, r["delivered"], r["expected"])
		}
	}
	// Independent runs: each against its own edge.
	a0 := runs[0].(map[string]any)["addrs"].([]any)[0]
	a1 := runs[1].(map[string]any)["addrs"].([]any)[0]
	if a0 == a1 {
		t.Errorf("both runs used edge %v; --edge-bin must start a fresh one per run", a0)
	}
}

func TestRoomsDeliversEveryComment(t *testing.T) {
	m := runJSON(t, "rooms", "--edge-bin", filepath.Join(binDir, "edge"), "--viewers", "50", "--rate", "50",
		"--size", "100", "--duration", "1s", "--source-ips", "3", "--json")
	requireFields(t, m)
	if m["acked"].(float64) < 20 || m["lost"] != 0.0 || m["duplicates"] != 0.0 || m["delivered"] != m["expected"] {
		t.Fatalf("acked %v delivered %v expected %v lost %v dup %v", m["acked"], m["delivered"], m["expected"], m["lost"], m["duplicates"])
	}
	if m["expected"] != m["acked"].(float64)*50 {
		t.Fatalf("expected %v, want acked x 50 viewers", m["expected"])
	}
}

func TestIdleAcrossChildProcesses(t *testing.T) {
	cmd := exec.Command(filepath.Join(binDir, "edgebench"), "idle", "--edge-bin", filepath.Join(binDir, "edge"),
		"--conns", "200", "--procs", "2", "--settle", "2s", "--json")
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("edgebench idle: %v\n%s", err, errOut.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("output: %v\n%s", err, out)
	}
	requireFields(t, m)
	if m["connections"] != 200.0 || m["procs"] != 2.0 || m["server_connections"] != 200.0 {
		t.Fatalf("connections %v procs %v server_connections %v", m["connections"], m["procs"], m["server_connections"])
	}
	if _, ok := m["bytes_per_conn"].(float64); !ok {
		t.Fatalf("no bytes_per_conn: %v", m["bytes_per_conn"])
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{
		{"nosuch"}, {"chat", "--runs", "0"}, {"rooms", "--viewers", "0", "--secret", "s"}, {"chat", "--procs", "100", "--secret", "s"},
	} {
		if code := run(args, &out, &errOut); code == 0 {
			t.Errorf("edgebench %v: exit 0", args)
		}
	}
}

// TestLossyOverEmulatedLink runs the lossy scenario for each transport: a
// real edge in a network namespace, clients in another, 5% loss and 50 ms
// RTT between them (root, like every netem test). It runs the built
// binary: the scenario re-executes itself for its clients, which a test
// binary must not do.
func TestLossyOverEmulatedLink(t *testing.T) {
	for _, tr := range []string{"ws", "quic-stream", "quic-fec", "auto"} {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, filepath.Join(binDir, "edgebench"), "lossy", "--edge-bin", filepath.Join(binDir, "edge"),
				"--transport", tr, "--loss", "5", "--rtt", "50", "--pairs", "2", "--rate", "10", "--duration", "2s", "--json")
			var errOut bytes.Buffer
			cmd.Stderr = &errOut
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("edgebench lossy: %v\n%s", err, errOut.String())
			}
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("output: %v\n%s", err, out)
			}
			requireFields(t, m)
			if m["transport"] != tr || m["acked"].(float64) < 20 || m["lost"] != 0.0 || m["duplicates"] != 0.0 || m["reordered"] != 0.0 {
				t.Fatalf("transport %v acked %v lost %v dup %v reordered %v", m["transport"], m["acked"], m["lost"], m["duplicates"], m["reordered"])
			}
			if ratio, _ := m["overhead_ratio"].(float64); ratio <= 1 || m["bytes_on_wire"].(float64) <= 0 {
				t.Fatalf("overhead_ratio %v bytes_on_wire %v", m["overhead_ratio"], m["bytes_on_wire"])
			}
			if _, ok := m["retransmitted"].(float64); !ok {
				t.Fatalf("no retransmitted count: %v", m["retransmitted"])
			}
			if _, ok := m["fec_recovered"].(float64); tr == "quic-fec" && !ok {
				t.Fatalf("quic-fec run without fec_recovered: %v", m["fec_recovered"])
			}
			if residual, ok := m["residual_loss"].(float64); tr == "quic-fec" && (!ok || residual > 1) {
				t.Fatalf("quic-fec run with residual_loss %v (%v of %v FEC data packets NACKed)", m["residual_loss"], m["fec_unrecoverable"], m["fec_data_packets"])
			}
		})
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if bytes.Contains(out, []byte("egnet-")) {
		t.Fatalf("namespaces left behind:\n%s", out)
	}
}

// TestClusterKillLosesNothing kills one of three edges (kill -9) while
// conversations span them: the clients of the killed edge resume on the
// others (alternate URLs, shared resume secret) and every acked message
// reaches its peer exactly once, in order.
func TestClusterKillLosesNothing(t *testing.T) {
	m := runJSON(t, "cluster", "--edge-bin", filepath.Join(binDir, "edge"), "--pairs", "6", "--rate", "20",
		"--duration", "4s", "--kill-after", "1500ms", "--drain", "20s", "--placement", "mixed", "--json")
	requireFields(t, m)
	if m["scenario"] != "cluster" || m["killed_node"] != 0.0 || m["connections"] != 12.0 {
		t.Fatalf("scenario %v, killed %v, connections %v", m["scenario"], m["killed_node"], m["connections"])
	}
	if m["acked"].(float64) < 100 || m["lost"] != 0.0 || m["duplicates"] != 0.0 || m["reordered"] != 0.0 || m["delivered"] != m["expected"] {
		t.Fatalf("acked %v delivered %v of %v: lost %v dup %v reordered %v; errors %v",
			m["acked"], m["delivered"], m["expected"], m["lost"], m["duplicates"], m["reordered"], m["errors"])
	}
	// Clients 0, 3, 6, 9 (mixed: pairs 0 and 3 on edge 0, plus the cross
	// pairs' sides on it) were on the killed edge: each lost its session
	// once and found another edge.
	outage, _ := m["outage_ms"].(map[string]any)
	if outage == nil || outage["count"].(float64) < 1 || m["edge_switches"].(float64) < outage["count"].(float64) {
		t.Fatalf("outage_ms %v, edge_switches %v: the killed edge's clients must move", m["outage_ms"], m["edge_switches"])
	}
	for _, k := range []string{"latency_same_edge_ms", "latency_cross_edge_ms"} {
		if _, ok := m[k].(map[string]any); !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
}
