package edge

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/edgegate/edgegate/gossip"
	"github.com/edgegate/edgegate/transport/pb"
)

func entry(user string, devices uint32, version uint64) *pb.PresenceEntry {
	return &pb.PresenceEntry{User: user, Devices: devices, Version: version}
}

// where returns "node:devices" for each node user is on, per h.
func where(h *homeTable, user string) []string {
	var out []string
	for _, n := range h.lookup([]string{user})[0].GetNodes() {
		out = append(out, fmt.Sprintf("%s:%d", n.GetNode(), n.GetDevices()))
	}
	return out
}

func TestHomeTableVersions(t *testing.T) {
	h := newHomeTable()
	now := time.Now()
	h.apply("a", false, []*pb.PresenceEntry{entry("u", 2, 10)}, now)
	h.apply("b", false, []*pb.PresenceEntry{entry("u", 1, 5)}, now)
	if got := where(h, "u"); !slices.Equal(got, []string{"a:2", "b:1"}) {
		t.Fatalf("u on %v", got)
	}
	// Stale (not newer) entries are ignored, an offline included.
	if n := h.apply("a", false, []*pb.PresenceEntry{entry("u", 0, 9), entry("u", 7, 10)}, now); n != 2 {
		t.Fatalf("%d stale, want 2", n)
	}
	// Offline leaves a tombstone: an older online arriving late is stale.
	h.apply("a", false, []*pb.PresenceEntry{entry("u", 0, 11)}, now)
	if n := h.apply("a", false, []*pb.PresenceEntry{entry("u", 3, 10)}, now); n != 1 {
		t.Fatal("an online older than the offline was applied")
	}
	if got := where(h, "u"); !slices.Equal(got, []string{"b:1"}) || h.onlineUsers() != 1 {
		t.Fatalf("u on %v, %d online", got, h.onlineUsers())
	}
	// A snapshot replaces everything its node told (a restarted node,
	// whatever its versions).
	h.apply("b", false, []*pb.PresenceEntry{entry("v", 1, 6)}, now)
	h.apply("b", true, []*pb.PresenceEntry{entry("w", 1, 1)}, now)
	if where(h, "u") != nil || where(h, "v") != nil || !slices.Equal(where(h, "w"), []string{"b:1"}) || h.onlineUsers() != 1 {
		t.Fatalf("after b's snapshot: u %v v %v w %v", where(h, "u"), where(h, "v"), where(h, "w"))
	}
	// A node that died is forgotten.
	h.apply("c", false, []*pb.PresenceEntry{entry("w", 4, 1)}, now)
	h.dropNodesExcept(map[string]bool{"c": true})
	if !slices.Equal(where(h, "w"), []string{"c:4"}) {
		t.Fatalf("w on %v", where(h, "w"))
	}
	h.dropNode("c")
	if h.onlineUsers() != 0 || len(h.users) != 0 {
		t.Fatalf("%d online, %d users kept", h.onlineUsers(), len(h.users))
	}
	// Tombstones go after tombstoneTTL, not before.
	h.apply("a", false, []*pb.PresenceEntry{entry("x", 0, 20)}, now.Add(-2*tombstoneTTL))
	h.apply("a", false, []*pb.PresenceEntry{entry("y", 0, 21)}, now)
	h.sweep()
	if _, ok := h.users["x"]; ok || len(h.users) != 1 {
		t.Fatalf("tombstones after sweep: %v", h.users)
	}
}

func TestPresenceLocalCoalesces(t *testing.T) {
	p := newPresenceLocal()
	home := func(string) string { return "h" }
	if !p.change("u", 1) || p.change("u", 1) || p.change("u", -1) {
		t.Fatal("only the first change of a flush window schedules one")
	}
	out := p.flush(home)
	if len(out["h"]) != 1 || out["h"][0].GetDevices() != 1 {
		t.Fatalf("flush %v", out)
	}
	v := out["h"][0].GetVersion()
	// Online then offline within one window: one entry, offline.
	p.change("u", 1)
	p.change("u", -2)
	out = p.flush(home)
	if len(out["h"]) != 1 || out["h"][0].GetDevices() != 0 || out["h"][0].GetVersion() <= v {
		t.Fatalf("flush %v", out)
	}
	if len(p.flush(home)) != 0 || p.users() != 0 || len(p.sentTo) != 0 {
		t.Fatal("state left after the user went offline")
	}
}

// presenceSim is a region of nodes running the presence protocol with
// outboxes delivered in order, in memory: the protocol without the link.
type presenceSim struct {
	nodes map[string]*presenceLocal
	homes map[string]*homeTable
	alive []string
}

func newPresenceSim(ids ...string) *presenceSim {
	s := &presenceSim{nodes: map[string]*presenceLocal{}, homes: map[string]*homeTable{}, alive: ids}
	for _, id := range ids {
		s.nodes[id], s.homes[id] = newPresenceLocal(), newHomeTable()
	}
	return s
}

func (s *presenceSim) homeOf(u string) string { return gossip.Rendezvous(u, s.alive) }

func (s *presenceSim) deliver(from string, out outbox) {
	for home, es := range out {
		if h, ok := s.homes[home]; ok && slices.Contains(s.alive, home) {
			h.apply(from, false, es, time.Now())
		}
	}
}

func (s *presenceSim) flush() {
	for id, n := range s.nodes {
		s.deliver(id, n.flush(s.homeOf))
	}
}

// setAlive changes membership as every node would see it: homes drop dead
// nodes' entries, senders re-home.
func (s *presenceSim) setAlive(ids ...string) int {
	s.alive = ids
	keep := map[string]bool{}
	for _, id := range ids {
		keep[id] = true
	}
	moved := 0
	for _, id := range ids {
		s.homes[id].dropNodesExcept(keep)
		out, n := s.nodes[id].rehome(s.homeOf)
		moved += n
		s.deliver(id, out)
	}
	return moved
}

// check asks each user's home and compares with want (user -> node).
func (s *presenceSim) check(t *testing.T, want map[string]string) {
	t.Helper()
	for u, node := range want {
		got := where(s.homes[s.homeOf(u)], u)
		if (node == "" && got != nil) || (node != "" && !slices.Equal(got, []string{node + ":1"})) {
			t.Fatalf("%s at home %s: %v, want %q", u, s.homeOf(u), got, node)
		}
	}
}

// TestPresenceRehoming: users on three nodes; a fourth joins (only the
// users it wins move, and their old homes forget them), then a node dies
// (its users are gone, the users homed there are re-homed by their nodes).
func TestPresenceRehoming(t *testing.T) {
	s := newPresenceSim("a", "b", "c", "d")
	s.alive = []string{"a", "b", "c"}
	want := map[string]string{}
	for i := range 300 {
		u, node := fmt.Sprintf("u%d", i), []string{"a", "b", "c"}[i%3]
		s.nodes[node].change(u, 1)
		want[u] = node
	}
	s.flush()
	s.check(t, want)

	before := map[string]string{}
	for u := range want {
		before[u] = s.homeOf(u)
	}
	moved := s.setAlive("a", "b", "c", "d")
	s.check(t, want)
	wonByD := 0
	for u := range want {
		if h := s.homeOf(u); h != before[u] {
			if h != "d" {
				t.Fatalf("%s moved %s -> %s", u, before[u], h)
			}
			wonByD++
		}
	}
	if moved != wonByD || moved < 40 || moved > 110 {
		t.Fatalf("%d users re-homed, %d won by d (want about a quarter of 300)", moved, wonByD)
	}
	// Users that moved to d go offline: d knows; when d dies they do not
	// come back online at their old homes (the hand-off cleared them).
	for u, node := range want {
		if s.homeOf(u) == "d" {
			s.nodes[node].change(u, -1)
			want[u] = ""
		}
	}
	s.flush()
	s.check(t, want)
	s.setAlive("a", "b", "c")
	s.check(t, want)

	// c dies: its users go offline at every home; users homed at c are
	// re-homed by their nodes.
	s.setAlive("a", "b")
	for u, node := range want {
		if node == "c" {
			want[u] = ""
		}
	}
	s.check(t, want)
}
