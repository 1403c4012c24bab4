//go:build !unix

package loadgen

// RaiseFileLimit is a no-op where RLIMIT_NOFILE does not exist; it returns
// 0 (unknown).
func RaiseFileLimit() (uint64, error) { return 0, nil }
