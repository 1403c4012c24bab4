package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
)

// startCPUProfile writes this process's CPU profile to
// DIR/edgebench-<role>-<pid>.pprof until the returned stop is called.
func startCPUProfile(dir, role string) (func(), error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("EDGEBENCH_CPUPROFILE: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("edgebench-%s-%d.pprof", role, os.Getpid())))
	if err != nil {
		return nil, fmt.Errorf("EDGEBENCH_CPUPROFILE: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("EDGEBENCH_CPUPROFILE: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
