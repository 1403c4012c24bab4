package raftlog

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func open(t testing.TB, dir string) *Store {
	t.Helper()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func group(t testing.TB, s *Store, id uint32) *Group {
	t.Helper()
	g, err := s.Group(id)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func entries(lo, hi uint64, tag string) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		out = append(out, &raft.Log{Index: i, Term: i / 3, Type: raft.LogCommand,
			Data: fmt.Appendf(nil, "%s-%d", tag, i), AppendedAt: time.Unix(1700000000, int64(i))})
	}
	return out
}

func bounds(t *testing.T, g *Group) (uint64, uint64) {
	t.Helper()
	f, err := g.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	l, err := g.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	return f, l
}

// TestGroupsAreIsolated: interleaved writes of groups 1, 2 and the
// highest id keep their own entries and bounds, also after a reopen.
func TestGroupsAreIsolated(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ids := []uint32{1, 2, ^uint32(0)}
	for round := range 3 {
		for _, id := range ids {
			lo := uint64(round*10 + 1)
			if err := group(t, s, id).StoreLogs(entries(lo, lo+9, fmt.Sprint(id))); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(s *Store) {
		for _, id := range ids {
			g := group(t, s, id)
			if f, l := bounds(t, g); f != 1 || l != 30 {
				t.Fatalf("group %d bounds %d-%d, want 1-30", id, f, l)
			}
			var l raft.Log
			if err := g.GetLog(17, &l); err != nil {
				t.Fatal(err)
			}
			want := entries(17, 17, fmt.Sprint(id))[0]
			if l.Index != 17 || l.Term != want.Term || !bytes.Equal(l.Data, want.Data) || !l.AppendedAt.Equal(want.AppendedAt) || l.Type != raft.LogCommand {
				t.Fatalf("group %d entry 17: %+v", id, l)
			}
			if err := g.GetLog(31, &l); !errors.Is(err, raft.ErrLogNotFound) {
				t.Fatalf("entry past the end: %v", err)
			}
		}
		if g := group(t, s, 3); func() bool { f, l := bounds(t, g); return f != 0 || l != 0 }() {
			t.Fatal("an unused group is not empty")
		}
	}
	check(s)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, dir)
	defer s.Close()
	check(s)
}

// TestDeleteRangeMovesBounds: compaction from the front (raft's case),
// removal of a conflicting suffix, and of everything.
func TestDeleteRangeMovesBounds(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	g := group(t, s, 7)
	other := group(t, s, 8)
	if err := g.StoreLogs(entries(1, 100, "g")); err != nil {
		t.Fatal(err)
	}
	if err := other.StoreLogs(entries(1, 100, "o")); err != nil {
		t.Fatal(err)
	}
	if err := g.DeleteRange(1, 40); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, g); f != 41 || l != 100 {
		t.Fatalf("after compaction %d-%d", f, l)
	}
	var l raft.Log
	if err := g.GetLog(40, &l); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("compacted entry still there: %v", err)
	}
	if err := g.DeleteRange(90, 100); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, g); f != 41 || l != 89 {
		t.Fatalf("after suffix removal %d-%d", f, l)
	}
	if err := g.DeleteRange(0, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	if f, l := bounds(t, g); f != 0 || l != 0 {
		t.Fatalf("after removing all %d-%d", f, l)
	}
	if f, l := bounds(t, other); f != 1 || l != 100 {
		t.Fatalf("the neighbour group lost entries: %d-%d", f, l)
	}
	if err := other.GetLog(100, &l); err != nil || string(l.Data) != "o-100" {
		t.Fatalf("neighbour entry: %v %q", err, l.Data)
	}
}

// TestStableStore: raft's expectations: a missing key is "not found",
// a missing uint64 is 0; values persist per group.
func TestStableStore(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	a, b := group(t, s, 1), group(t, s, 2)
	if _, err := a.Get([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("missing key: %v", err)
	}
	if v, err := a.GetUint64([]byte("LastVoteTerm")); err != nil || v != 0 {
		t.Fatalf("missing uint64: %d %v", v, err)
	}
	if err := a.SetUint64([]byte("CurrentTerm"), 42); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]byte("LastVoteCand"), []byte("node-b")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, dir)
	defer s.Close()
	a, b = group(t, s, 1), group(t, s, 2)
	if v, err := a.GetUint64([]byte("CurrentTerm")); err != nil || v != 42 {
		t.Fatalf("term %d %v", v, err)
	}
	if v, err := b.GetUint64([]byte("CurrentTerm")); err != nil || v != 0 {
		t.Fatalf("group 2 sees group 1's term: %d %v", v, err)
	}
	if v, err := b.Get([]byte("LastVoteCand")); err != nil || string(v) != "node-b" {
		t.Fatalf("vote %q %v", v, err)
	}
}

// TestClosedStore: calls after Close fail with ErrClosed, not a panic.
func TestClosedStore(t *testing.T) {
	s := open(t, t.TempDir())
	g := group(t, s, 1)
	s.Close()
	if err := g.StoreLogs(entries(1, 1, "x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("StoreLogs after Close: %v", err)
	}
	var l raft.Log
	if err := g.GetLog(1, &l); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetLog after Close: %v", err)
	}
}

// TestConcurrentGroupsShareFsyncs: 64 groups storing at once need fewer
// WAL fsyncs than commits (pebble's group commit). This is the property
// the shared store exists for; the figures are in BenchmarkStoreLogs.
func TestConcurrentGroupsShareFsyncs(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	var wg sync.WaitGroup
	for id := range uint32(64) {
		g := group(t, s, id)
		wg.Go(func() {
			for i := uint64(1); i <= 20; i++ {
				if err := g.StoreLogs(entries(i, i, "c")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	if st.Commits != 64*20 || st.Entries != 64*20 {
		t.Fatalf("stats %+v", st)
	}
	if st.WALSyncs == 0 || st.WALSyncs >= st.Commits {
		t.Fatalf("%d fsyncs for %d concurrent commits: no group commit", st.WALSyncs, st.Commits)
	}
	t.Logf("%d commits, %d fsyncs", st.Commits, st.WALSyncs)
}

// FuzzDecodeLog: the entry decoder never panics and what it accepts
// re-encodes to the same bytes.
func FuzzDecodeLog(f *testing.F) {
	for _, l := range entries(1, 3, "seed") {
		f.Add(encodeLog(nil, l))
	}
	f.Add(encodeLog(nil, &raft.Log{}))
	f.Add([]byte{logFormat, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(b, &l); err != nil {
			return
		}
		if re := encodeLog(nil, &l); !bytes.Equal(re, b) {
			// Only non-canonical varints may differ.
			var again raft.Log
			if err := decodeLog(re, &again); err != nil || again.Index != l.Index || again.Term != l.Term ||
				!bytes.Equal(again.Data, l.Data) || !bytes.Equal(again.Extensions, l.Extensions) || !again.AppendedAt.Equal(l.AppendedAt) {
				t.Fatalf("round trip changed the entry: %+v vs %+v", again, l)
			}
		}
	})
}
