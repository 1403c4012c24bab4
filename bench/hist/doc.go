// Package hist is a latency histogram for load generators: a fixed array of
// logarithmic buckets with 128 linear sub-buckets per power of two (HDR
// style), so every recorded value is reported within 0.8% of itself while
// the histogram stays a constant ~58 KiB however many samples it holds.
//
// Record is lock-free (one atomic add), so thousands of receiver goroutines
// can share one Histogram instead of storing samples. Histograms merge
// (Merge) and serialise sparsely (Snapshot / FromSnapshot) so child
// processes can ship theirs to a parent.
//
// It must not touch: anything else in the module; it has no dependencies
// beyond the standard library.
package hist
