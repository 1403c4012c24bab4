package main

import (
	"fmt"
	"strings"
	"time"
)

// defaultRegionTimerSlack is the timer slack of a node replicating with
// peers when --timer-slack is "auto".
//
// Why: hundreds of Raft groups each run their own timers (raft's
// replication, heartbeat, lease and election timers, per group and per
// follower), a few thousand wakeups a second on an idle node, each
// waking a sleeping thread on its own. Go's runtime sleeps in epoll_wait
// and futex with the next timer's deadline, and Linux lets a thread's
// sleeps run late by its timer slack (50 µs by default) so that nearby
// deadlines share one wakeup. With 5 ms, `edgebench raft-idle` (3 nodes,
// 256 groups) measured 4.0-5.0% of a core per node instead of 8.2-8.5%
// (the rest of the gain is raft's CommitTimeout, see edge/raftgroup).
// Only sleeps are stretched: a packet or a message wakes the process at
// once, and a busy process checks its timers on every scheduling round,
// so slack costs at most 5 ms on a timer that fires while the whole
// process is idle (e.g. the ordering batch window of a lone message);
// chat latency over a 3-node region did not move beyond run-to-run
// noise (bench/README.md). A node without peers keeps the kernel's
// default: nothing there wakes that often.
const defaultRegionTimerSlack = 5 * time.Millisecond

// timerSlack resolves --timer-slack: "auto" (5 ms with Raft peers other
// than this node, else the kernel's default, returned as 0), "off" or
// "0" (the kernel's default), or a duration up to 100 ms.
func timerSlack(flag string, replicated bool) (time.Duration, error) {
	switch strings.TrimSpace(flag) {
	case "", "auto":
		if replicated {
			return defaultRegionTimerSlack, nil
		}
		return 0, nil
	case "off", "0":
		return 0, nil
	}
	d, err := time.ParseDuration(flag)
	if err != nil || d < 0 || d > 100*time.Millisecond {
		return 0, fmt.Errorf("--timer-slack: want auto, off or a duration from 0 to 100ms, got %q", flag)
	}
	return d, nil
}
