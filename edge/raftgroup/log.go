package raftgroup

import (
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// hclogFor gives a group's Raft instance a logger that writes warnings
// and errors to l (raft logs every election at info: hundreds of groups
// would flood the log).
func hclogFor(l *slog.Logger, group uint32) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slogWriter{l: l, group: group},
	})
}

// slogWriter turns hclog's lines into slog records.
type slogWriter struct {
	l     *slog.Logger
	group uint32
}

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(string(trimNewline(p)), "component", "raft", "group", w.group)
	return len(p), nil
}

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
