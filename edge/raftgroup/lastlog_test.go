package raftgroup

import (
	"testing"

	"github.com/hashicorp/raft"
)

// countingLog counts the reads that reach the store.
type countingLog struct {
	raft.LogStore
	reads  int
	during func() // if set, runs after a read (a concurrent change)
}

func (c *countingLog) GetLog(i uint64, l *raft.Log) error {
	c.reads++
	err := c.LogStore.GetLog(i, l)
	if c.during != nil {
		c.during()
	}
	return err
}

// TestLastLog: the last entry written or read is served from memory; a
// truncation or an overwrite is never hidden by it.
func TestLastLog(t *testing.T) {
	store := &countingLog{LogStore: raft.NewInmemStore()}
	l := &lastLog{LogStore: store}
	get := func(i uint64) string {
		t.Helper()
		var e raft.Log
		if err := l.GetLog(i, &e); err != nil {
			return "error: " + err.Error()
		}
		if e.Index != i {
			t.Fatalf("asked %d, got %d", i, e.Index)
		}
		return string(e.Data)
	}
	if err := l.StoreLogs([]*raft.Log{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if get(2) != "b" {
			t.Fatal("entry 2 changed")
		}
	}
	if store.reads != 0 {
		t.Fatalf("the last entry written was read from the store (%d reads)", store.reads)
	}
	for range 2 {
		if get(1) != "a" {
			t.Fatal("entry 1 changed")
		}
	}
	if store.reads != 1 {
		t.Fatalf("%d reads: the entry read should be kept", store.reads)
	}
	// A follower's conflicting suffix is deleted and rewritten.
	if err := l.DeleteRange(1, 2); err != nil {
		t.Fatal(err)
	}
	if got := get(1); got != "error: log not found" {
		t.Fatalf("deleted entry read as %q", got)
	}
	if err := l.StoreLog(&raft.Log{Index: 1, Term: 2, Data: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	if get(1) != "c" {
		t.Fatal("overwritten entry read stale")
	}
	// A read that raced a change is not kept.
	if err := l.StoreLog(&raft.Log{Index: 2, Term: 2, Data: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	store.during = func() {
		store.during = nil
		if err := l.DeleteRange(1, 1); err != nil {
			t.Fatal(err)
		}
	}
	if get(1) != "c" {
		t.Fatal("read before the delete")
	}
	if l.last != nil {
		t.Fatal("a read that raced a delete was kept")
	}
	if got := get(1); got != "error: log not found" {
		t.Fatalf("deleted entry read as %q", got)
	}
}
