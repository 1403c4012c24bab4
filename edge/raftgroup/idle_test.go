package raftgroup

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// The idle cost of a node's Raft instances of groups it holds no place
// in (membership placement), against groups of one voter that it leads:
//
//	EDGEGATE_MEASURE_IDLE=1 go test -run TestMeasureIdle -v ./edge/raftgroup/
//
// (one process, 256 groups, raft's Tuned timings, 20 s each).

func measureIdle(t *testing.T, what string, n *muxNode, warm time.Duration) {
	defer n.stop()
	time.Sleep(warm) // let the groups settle (elections)
	var ru0, ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	time.Sleep(20 * time.Second) // the measured idle period
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano()
	t.Logf("%s: %.2f%% of a core", what, 100*float64(cpu)/float64(time.Since(start)))
}

func idleNode(t *testing.T) *muxNode {
	if os.Getenv("EDGEGATE_MEASURE_IDLE") == "" {
		t.Skip("a measurement: set EDGEGATE_MEASURE_IDLE=1")
	}
	return &muxNode{dir: t.TempDir(), addr: "127.0.0.1:0", raft: Tuned()}
}

func TestMeasureIdleNoPlace(t *testing.T) {
	n := idleNode(t)
	n.placement = &Placement{Members: func() []Member { return nil }}
	n.start(t, "solo", nil, 256)
	measureIdle(t, "256 groups without a place here", n, 3*time.Second)
}

func TestMeasureIdleLeader(t *testing.T) {
	n := idleNode(t)
	n.start(t, "solo", nil, 256) // the address first
	n.mux.Close()
	n.log.Close()
	n.st.Close()
	n.start(t, "solo", []Peer{{ID: "solo", Addr: n.addr}}, 256)
	measureIdle(t, "256 groups of one voter, led here", n, 8*time.Second)
}
