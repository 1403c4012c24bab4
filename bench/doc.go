// Package bench is the home of edgegate's load generator. The code lives in
// sub-packages; this package only documents them (see README.md for the
// scenarios, flags and how to reproduce the numbers):
//
//   - bench/hist: a fixed-size, lock-free log-bucket latency histogram
//     (HDR-style, <1% relative error) that merges across goroutines and
//     processes.
//   - bench/metrics: a scraper for the edge's Prometheus /metrics text
//     exposition (RSS, CPU seconds, connection gauges).
//   - bench/loadgen: the scenario runners (idle, rooms, chat) that drive
//     real client SDK connections against running edges, the loss,
//     duplicate and reorder accounting, and the multi-process fan-out.
//
// cmd/edgebench is a thin command-line front end over bench/loadgen.
//
// It must not touch: server internals (edge/, store, ordering). It talks to
// edges only the way applications do: through the client SDK, the public
// HTTP endpoints (/metrics, /readyz) and tokens minted with edge/auth.
package bench
