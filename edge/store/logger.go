package store

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// pebbleLogger adapts a *slog.Logger to pebble's Logger interface.
type pebbleLogger struct{ l *slog.Logger }

// Infof logs pebble's informational lines at Debug level: they are
// operational detail (flushes, WAL recycling) an operator rarely needs.
func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

// Errorf logs at Error level.
func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf logs at Error level and panics: pebble calls it only on broken
// invariants (e.g. on-disk corruption) and expects it not to return.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	panic("store: pebble fatal: " + msg)
}

// PebbleLogger adapts l to pebble's Logger interface (for the node's other
// pebble databases, such as the Raft log store): info lines at Debug,
// errors at Error, fatal ones at Error and then a panic.
func PebbleLogger(l *slog.Logger) pebble.Logger { return pebbleLogger{l} }
