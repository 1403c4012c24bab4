package raftgroup

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
)

// TestRaftLogLevels: raft's warnings reach slog as warnings with their
// fields, errors as errors, routine election starts as info, and infos
// not at all.
func TestRaftLogLevels(t *testing.T) {
	var buf bytes.Buffer
	l := hclogFor(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), 7)
	l.Info("entering follower state", "leader", "n1")
	l.Warn("failed to contact", "server-id", "n2")
	l.Error("failed to appendEntries to", "peer", "n3")
	l.Warn("heartbeat timeout reached, starting election", "last-leader-id", "")
	var got []map[string]any
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		got = append(got, m)
	}
	want := []struct{ level, msg, key, val string }{
		{"WARN", "failed to contact", "server-id", "n2"},
		{"ERROR", "failed to appendEntries to", "peer", "n3"},
		{"INFO", "heartbeat timeout reached, starting election", "last-leader-id", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d records, want %d: %s", len(got), len(want), buf.String())
	}
	for i, w := range want {
		g := got[i]
		if g["level"] != w.level || g["msg"] != w.msg || g[w.key] != w.val || g["group"] != float64(7) || g["component"] != "raft" {
			t.Errorf("record %d = %v, want %+v", i, g, w)
		}
	}
}
