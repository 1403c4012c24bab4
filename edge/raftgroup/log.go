package raftgroup

import (
	"context"
	"encoding/json"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/go-hclog"
)

// hclogFor gives a group's Raft instance a logger that writes warnings
// and errors to l (raft logs every election at info: hundreds of groups
// would flood the log). Raft's lines come as hclog JSON and become slog
// records with raft's fields as attributes.
func hclogFor(l *slog.Logger, group uint32) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:       "raft",
		Level:      hclog.Warn,
		JSONFormat: true,
		Output:     slogWriter{l: l, group: group},
	})
}

// expected are raft warnings about events that are routine with many
// groups: every group of a node starting (or a region of one booting)
// reports its first election this way. They are logged at info.
var expected = []string{
	"heartbeat timeout reached, starting election",
}

// idle are raft warnings that a replica holding no place in its group
// repeats at each heartbeat timeout (membership placement: a node not
// added yet, or removed while alive). They are logged at debug.
var idle = []string{
	"no known peers, aborting election",
	"not part of stable configuration, aborting election",
}

// slogWriter turns hclog's JSON lines into slog records.
type slogWriter struct {
	l     *slog.Logger
	group uint32
}

func (w slogWriter) Write(p []byte) (int, error) {
	var rec map[string]any
	if err := json.Unmarshal(p, &rec); err != nil {
		w.l.Warn(string(trimNewline(p)), "component", "raft", "group", w.group)
		return len(p), nil
	}
	msg, _ := rec["@message"].(string)
	lvl, _ := rec["@level"].(string)
	level := slog.LevelWarn
	switch {
	case lvl == "error":
		level = slog.LevelError
	case hasPrefix(msg, expected):
		level = slog.LevelInfo
	case hasPrefix(msg, idle):
		level = slog.LevelDebug
	}
	attrs := []any{"component", "raft", "group", w.group}
	for _, k := range slices.Sorted(maps.Keys(rec)) {
		if !strings.HasPrefix(k, "@") {
			attrs = append(attrs, k, rec[k])
		}
	}
	w.l.Log(context.Background(), level, msg, attrs...)
	return len(p), nil
}

func hasPrefix(msg string, prefixes []string) bool {
	for _, e := range prefixes {
		if strings.HasPrefix(msg, e) {
			return true
		}
	}
	return false
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
