package store

import (
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestPowerLoss simulates a power cut with a crashable in-memory
// filesystem: only data that was fsynced survives. A kill -9 cannot test
// this (the OS keeps unsynced pages), so this is what shows commits are
// really fsynced, and, with NoSync, that the test can fail.
func TestPowerLoss(t *testing.T) {
	for _, tt := range []struct {
		name     string
		noSync   bool
		wantHead uint64
	}{
		{"sync", false, 5},
		{"nosync loses commits", true, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewCrashableMem()
			s, err := Open("db", Options{Logger: quiet, NoSync: tt.noSync, fs: fs})
			if err != nil {
				t.Fatal(err)
			}
			mustCommit(t, s, seqMsgs("a", 1, 3))
			mustCommit(t, s, seqMsgs("a", 4, 2))
			crashed := fs.CrashClone(vfs.CrashCloneCfg{}) // exactly what was synced
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = openTest(t, "db", Options{fs: crashed})
			if h, err := s.Head("a"); err != nil || h != tt.wantHead {
				t.Fatalf("head after power loss = %d, %v; want %d", h, err, tt.wantHead)
			}
			got, err := s.Read("a", 0, 10)
			if err != nil || uint64(len(got)) != tt.wantHead {
				t.Fatalf("read after power loss: %d msgs, %v", len(got), err)
			}
		})
	}
}
