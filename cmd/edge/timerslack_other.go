//go:build !linux

package main

import (
	"errors"
	"time"
)

// applyTimerSlack is Linux only: elsewhere a slack other than 0 is
// reported and the process runs on with the system's timers.
func applyTimerSlack(d time.Duration) error {
	if d <= 0 {
		return nil
	}
	return errors.New("timer slack: only supported on Linux")
}
