package raftadmin

import "testing"

// TestDiff: equal replicas pass; a different hash, applied index or
// leader, an unknown leader or a missing group is reported.
func TestDiff(t *testing.T) {
	node := func(name string, gs ...Group) Status { return Status{Node: name, Groups: gs} }
	g := Group{Group: 0, State: "Leader", Leader: "a", Applied: 7, StateHash: "ff"}
	f := g
	f.State = "Follower"
	if d := Diff([]Status{node("a", g), node("b", f)}); d != "" {
		t.Fatalf("equal replicas: %s", d)
	}
	for name, bad := range map[string]Group{
		"hash":    {Leader: "a", Applied: 7, StateHash: "fe"},
		"applied": {Leader: "a", Applied: 6, StateHash: "ff"},
		"leader":  {Leader: "b", Applied: 7, StateHash: "ff"},
		"none":    {Applied: 7, StateHash: "ff"},
	} {
		if Diff([]Status{node("a", g), node("b", bad)}) == "" {
			t.Errorf("%s: a difference went unreported", name)
		}
	}
	if Diff([]Status{node("a", g), node("b")}) == "" {
		t.Error("a missing group went unreported")
	}
}
