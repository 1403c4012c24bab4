package gossip

import (
	"fmt"
	"slices"
	"testing"
)

func TestRendezvousStableAndOrderFree(t *testing.T) {
	nodes := []string{"n0", "n1", "n2", "n3"}
	rev := slices.Clone(nodes)
	slices.Reverse(rev)
	count := map[string]int{}
	for i := range 4000 {
		key := fmt.Sprintf("user-%d", i)
		h := Rendezvous(key, nodes)
		if h != Rendezvous(key, rev) || h != Rendezvous(key, nodes) {
			t.Fatalf("%s: owner depends on order or call", key)
		}
		count[h]++
	}
	// Spread: each of 4 nodes owns about 1000 of 4000 keys.
	for _, n := range nodes {
		if count[n] < 850 || count[n] > 1150 {
			t.Fatalf("uneven spread %v", count)
		}
	}
	if Rendezvous("u", nil) != "" {
		t.Fatal("no nodes: want no owner")
	}
}

// TestRendezvousMinimalMovement: adding a node moves only the keys the new
// node wins; removing one moves only the keys it owned.
func TestRendezvousMinimalMovement(t *testing.T) {
	three := []string{"a", "b", "c"}
	four := []string{"a", "b", "c", "d"}
	moved := 0
	const keys = 3000
	for i := range keys {
		key := fmt.Sprintf("u%d", i)
		before, after := Rendezvous(key, three), Rendezvous(key, four)
		if before != after {
			if after != "d" {
				t.Fatalf("%s moved %s -> %s on adding d", key, before, after)
			}
			moved++
		}
		// Removing b: only b's keys move.
		if without := Rendezvous(key, []string{"a", "c"}); before != "b" && without != before {
			t.Fatalf("%s moved %s -> %s on removing b", key, before, without)
		}
	}
	if moved < keys/4-150 || moved > keys/4+150 {
		t.Fatalf("%d of %d keys moved to the new node, want about a quarter", moved, keys)
	}
}

func TestHomeCandidates(t *testing.T) {
	ok := func(id string, mod func(*Member)) Member {
		m := Member{ID: id, State: StateAlive, MetaOK: true, Meta: Meta{NodeAddr: id + ":7000"}}
		if mod != nil {
			mod(&m)
		}
		return m
	}
	got := HomeCandidates([]Member{
		ok("a", nil),
		ok("b", func(m *Member) { m.State = StateDead }),
		ok("c", func(m *Member) { m.Meta.Leaving = true }),
		ok("d", func(m *Member) { m.Meta.Draining = true }),
		ok("e", func(m *Member) { m.Meta.NodeAddr = "" }),
		ok("f", func(m *Member) { m.MetaOK = false }),
		ok("g", nil),
	})
	if !slices.Equal(got, []string{"a", "g"}) {
		t.Fatalf("candidates %v", got)
	}
}
