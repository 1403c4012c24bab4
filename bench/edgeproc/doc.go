// Package edgeproc starts and stops a real edge process for benchmarks:
// `edgebench --edge-bin PATH` runs every repetition against a fresh edge
// (new data directory, new process) so one run's leftovers (detached
// sessions kept for resume, store caches, heap high-water marks) never
// bias the next one's memory or latency figures.
//
// The edge is started in --dev mode on 127.0.0.1:0 and the listen address,
// HMAC secret and API key are read from the banner it prints on stdout, so
// nothing has to be configured by hand.
//
// It must not touch: edge internals. It only runs the binary, reads its
// banner and /readyz, and stops it with SIGTERM (then SIGKILL).
package edgeproc
