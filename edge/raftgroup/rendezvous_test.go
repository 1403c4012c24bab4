package raftgroup

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func ids(n int) []string {
	var out []string
	for i := range n {
		out = append(out, nodeID(i))
	}
	return out
}

// TestPlaceStable: the same candidates in any order give the same
// ranked set, of min(replicas, candidates) distinct nodes.
func TestPlaceStable(t *testing.T) {
	c := ids(7)
	rev := slices.Clone(c)
	slices.Reverse(rev)
	for g := range uint32(256) {
		a, b := Place(g, c, 3), Place(g, append(rev, rev[0]), 3)
		if !slices.Equal(a, b) || len(a) != 3 {
			t.Fatalf("group %d: %v vs %v", g, a, b)
		}
		if len(Place(g, c[:2], 3)) != 2 || len(Place(g, nil, 3)) != 0 {
			t.Fatalf("group %d: fewer candidates than replicas", g)
		}
	}
}

// TestPlaceMinimalMovement: a joining node takes places only (and in
// about replicas/n of the groups), a leaving node frees only its own,
// and the spread over nodes is even.
func TestPlaceMinimalMovement(t *testing.T) {
	const groups, replicas = 1024, 3
	before, after := ids(5), ids(6)
	moved := 0
	count := map[string]int{}
	for g := range uint32(groups) {
		a, b := Place(g, before, replicas), Place(g, after, replicas)
		for _, id := range b {
			count[id]++
		}
		// Join: every node of b but the newcomer was in a.
		for _, id := range b {
			if id != "n5" && !slices.Contains(a, id) {
				t.Fatalf("group %d: join of n5 moved %s in (%v -> %v)", g, id, a, b)
			}
		}
		if slices.Contains(b, "n5") {
			moved++
		}
		// Leave of n5 again: back to a exactly (as a set).
		c := Place(g, slices.DeleteFunc(slices.Clone(after), func(s string) bool { return s == "n5" }), replicas)
		if !slices.Equal(c, a) {
			t.Fatalf("group %d: after n5 left %v, want %v", g, c, a)
		}
		// Leave of a replica: the others keep their places.
		gone := a[0]
		d := Place(g, slices.DeleteFunc(slices.Clone(before), func(s string) bool { return s == gone }), replicas)
		for _, id := range a[1:] {
			if !slices.Contains(d, id) {
				t.Fatalf("group %d: %s left and %s lost its place (%v -> %v)", g, gone, id, a, d)
			}
		}
	}
	// n5 should take about replicas/6 of the groups: 512 of 1024.
	if want := groups * replicas / 6; moved < want*8/10 || moved > want*12/10 {
		t.Errorf("the 6th node took places in %d groups, want about %d", moved, want)
	}
	for id, n := range count {
		if want := groups * replicas / 6; n < want*8/10 || n > want*12/10 {
			t.Errorf("%s holds %d places, want about %d", id, n, want)
		}
	}
}

// TestViewGrace: a dead member keeps its candidacy for the grace, a
// gone one loses it at once, and one that comes back starts afresh.
func TestViewGrace(t *testing.T) {
	var v view
	t0 := testTime()
	ms := []Member{{ID: "a", Addr: "a", State: MemberAlive}, {ID: "b", Addr: "b", State: MemberDead}, {ID: "c", Addr: "c", State: MemberGone}, {ID: "d"}}
	c := v.candidates(ms, t0, 30e9)
	if fmt.Sprint(c.ids) != "[a b]" || c.alive["b"] {
		t.Fatalf("at t0: %v alive %v", c.ids, c.alive)
	}
	if c := v.candidates(ms, t0.Add(29e9), 30e9); fmt.Sprint(c.ids) != "[a b]" {
		t.Fatalf("within the grace: %v", c.ids)
	}
	if c := v.candidates(ms, t0.Add(30e9), 30e9); fmt.Sprint(c.ids) != "[a]" {
		t.Fatalf("after the grace: %v", c.ids)
	}
	ms[1].State = MemberAlive
	v.candidates(ms, t0.Add(31e9), 30e9)
	ms[1].State = MemberDead
	if c := v.candidates(ms, t0.Add(60e9), 30e9); fmt.Sprint(c.ids) != "[a b]" {
		t.Fatalf("dead again after coming back: a new grace, got %v", c.ids)
	}
}

func testTime() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }

// TestAbsentServerWaitsTheGrace: a server of a group that the view does
// not list (a restarted node that has not heard from gossip yet) is
// treated as dead from when it was first missed.
func TestAbsentServerWaitsTheGrace(t *testing.T) {
	var v view
	t0 := testTime()
	if d := v.absentFor("x", t0); d != 0 {
		t.Fatalf("first miss: %v", d)
	}
	if d := v.absentFor("x", t0.Add(10e9)); d != 10e9 {
		t.Fatalf("missed for %v, want 10s", d)
	}
	v.candidates([]Member{{ID: "x", Addr: "x"}}, t0.Add(11e9), 30e9)
	if d := v.absentFor("x", t0.Add(12e9)); d != 0 {
		t.Fatalf("listed again, then missed: %v, want a new start", d)
	}
}

// TestForwardNotLeaderHint: a forwarded write refused by a node that
// knows the leader names it, and the sender goes there next; an older
// node's bare "notleader" still decodes.
func TestForwardNotLeaderHint(t *testing.T) {
	nl := &NotLeaderError{Group: 3}
	var got *NotLeaderError
	if err := decodeForwardErr(errors.New("notleader n2 10.0.0.2:7000"), nl); !errors.As(err, &got) || got.Leader != "n2" || got.LeaderAddr != "10.0.0.2:7000" || got.Group != 3 {
		t.Fatalf("with a hint: %v", err)
	}
	if err := decodeForwardErr(errors.New("notleader"), nl); !errors.As(err, &got) || got.Leader != "" {
		t.Fatalf("bare: %v", err)
	}
}

// TestPlaceInZones: replicas spread over as many zones as the region
// has (up to replicas); without zones (or with one) it is Place.
func TestPlaceInZones(t *testing.T) {
	c := ids(6)
	zoneOf := func(zs ...string) func(string) string {
		return func(id string) string { return zs[slices.Index(c, id)] }
	}
	three, two, one := zoneOf("a", "a", "a", "b", "b", "c"), zoneOf("a", "a", "a", "b", "b", "b"), zoneOf("", "", "", "", "", "")
	for g := range uint32(256) {
		zonesOf := func(z func(string) string, set []string) map[string]bool {
			m := map[string]bool{}
			for _, id := range set {
				m[z(id)] = true
			}
			return m
		}
		if got := PlaceInZones(g, c, three, 3); len(got) != 3 || len(zonesOf(three, got)) != 3 {
			t.Fatalf("group %d, three zones: %v", g, got)
		}
		if got := PlaceInZones(g, c, two, 3); len(got) != 3 || len(zonesOf(two, got)) != 2 {
			t.Fatalf("group %d, two zones: %v", g, got)
		}
		if got, want := PlaceInZones(g, c, one, 3), Place(g, c, 3); !slices.Equal(got, want) {
			t.Fatalf("group %d, one zone: %v, want %v", g, got, want)
		}
	}
}
