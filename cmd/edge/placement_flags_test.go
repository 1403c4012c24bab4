package main

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge"
)

// TestPlacementFlags: the placement flags reach edge.Config; static is
// the default.
func TestPlacementFlags(t *testing.T) {
	parse := func(args ...string) edge.Config {
		fs := flag.NewFlagSet("edge", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o := defineFlags(fs)
		if err := fs.Parse(append([]string{"--data", "d"}, args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := o.config(noEnv)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if c := parse(); c.RaftPlacement != edge.RaftPlacementStatic || c.RaftReplicas != 0 || c.RaftDeadGrace != 0 {
		t.Errorf("defaults: %q %d %v", c.RaftPlacement, c.RaftReplicas, c.RaftDeadGrace)
	}
	c := parse("--raft-placement", "membership", "--raft-replicas", "5", "--raft-dead-grace", "10s")
	if c.RaftPlacement != edge.RaftPlacementMembership || c.RaftReplicas != 5 || c.RaftDeadGrace != 10*time.Second {
		t.Errorf("set: %q %d %v", c.RaftPlacement, c.RaftReplicas, c.RaftDeadGrace)
	}
}
