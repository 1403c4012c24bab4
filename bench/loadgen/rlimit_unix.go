//go:build unix

package loadgen

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises this process's soft RLIMIT_NOFILE to its hard
// limit and returns the new soft limit. Each client connection is one
// file descriptor.
func RaiseFileLimit() (uint64, error) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("loadgen: getrlimit: %w", err)
	}
	if l.Cur >= l.Max {
		return l.Cur, nil
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0, fmt.Errorf("loadgen: setrlimit: %w", err)
	}
	return l.Cur, nil
}
