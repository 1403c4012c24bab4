package itest

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestTimerSlack: --timer-slack reaches every thread of the edge process
// (it re-executes itself so the threads the Go runtime started early
// inherit it); off leaves the kernel's default alone.
func TestTimerSlack(t *testing.T) {
	slackOf := func(p *edgeProc) int64 {
		t.Helper()
		b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/timerslack_ns")
		if err != nil {
			t.Fatal(err)
		}
		ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return ns
	}
	self, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		t.Fatal(err)
	}
	def, _ := strconv.ParseInt(strings.TrimSpace(string(self)), 10, 64)
	if def == 3_000_000 {
		t.Fatalf("this test's own slack is already 3 ms: it could not tell")
	}
	p := startEdge(t, freePort(t), t.TempDir(), "--timer-slack", "3ms")
	if got := slackOf(p); got != 3_000_000 {
		t.Errorf("--timer-slack 3ms: the edge's slack is %d ns", got)
	}
	q := startEdge(t, freePort(t), t.TempDir(), "--timer-slack", "off")
	if got := slackOf(q); got != def {
		t.Errorf("--timer-slack off: the edge's slack is %d ns, want the inherited %d", got, def)
	}
}
