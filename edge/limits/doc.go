// Package limits holds the edge's admission and rate controls:
//
//   - [KeyedLimiter]: token buckets per key (for example new connections
//     per client IP), with a hard bound on the number of keys;
//   - [Counter]: an atomic counter with a maximum (concurrent connections);
//   - [MessageLimiter]: a per-session message rate that reports how long to
//     wait and whether the session is flooding and should be closed.
//
// It must not touch sessions, sockets, metrics or configuration parsing:
// callers decide what a key is, what to answer and when to close. Nothing
// here starts a goroutine; idle state is swept lazily on access.
package limits
