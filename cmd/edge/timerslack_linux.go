package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// slackReexecEnv marks the process image started by applyTimerSlack, so
// a slack the kernel did not keep cannot loop. It is outside the
// EDGEGATE_ prefix, which is read as flags.
const slackReexecEnv = "_EDGE_TIMER_SLACK_REEXEC"

// applyTimerSlack gives every thread of the process the timer slack d
// (0: leave the kernel's default). A thread's slack is set by prctl for
// that thread only and new threads inherit their creator's, but Go has
// started threads before main runs; so the slack is set on this thread
// and the binary re-executes itself from it (execve keeps the calling
// thread's slack, and every thread of the new image descends from it).
// It returns only if nothing was to be done or on failure (the process
// then runs on with the kernel's default).
func applyTimerSlack(d time.Duration) error {
	reexeced := os.Getenv(slackReexecEnv) != ""
	os.Unsetenv(slackReexecEnv)
	if d <= 0 {
		return nil
	}
	cur, err := currentTimerSlack()
	if err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	if cur == d {
		return nil
	}
	if reexeced {
		return fmt.Errorf("timer slack: still %v after re-exec (wanted %v)", cur, d)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("timer slack: %w", err)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(d.Nanoseconds()), 0, 0, 0); err != nil {
		return fmt.Errorf("timer slack: prctl: %w", err)
	}
	err = syscall.Exec(exe, os.Args, append(os.Environ(), slackReexecEnv+"=1"))
	return fmt.Errorf("timer slack: re-exec %s: %w", exe, err)
}

// currentTimerSlack reads the main thread's timer slack.
func currentTimerSlack() (time.Duration, error) {
	b, err := os.ReadFile("/proc/self/timerslack_ns")
	if err != nil {
		return 0, err
	}
	ns, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return time.Duration(ns), err
}
