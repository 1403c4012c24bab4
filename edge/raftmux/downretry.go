package raftmux

import (
	"errors"
	"time"

	"github.com/hashicorp/raft"
)

// Why AppendEntries to an unreachable peer waits: hashicorp/raft backs off
// after each failed AppendEntries to a follower, doubling from 10 ms up to
// about 10 s (replicateTo; heartbeats up to HeartbeatTimeout/2), and a
// refused dial fails in microseconds, so a follower down for a few
// seconds runs up ten failures and, once back, waits up to the last
// back-off (2-5 s measured by `edgebench raft-failover`) before its
// leaders send it anything. Here an AppendEntries whose peer cannot be
// dialed keeps trying for downRetry before it fails: a down follower
// costs raft one failure per downRetry instead of one per dial (so the
// back-off stays short), and one that comes back gets the request at the
// next try. Dials to a peer are spaced refusedFor apart (the peer's
// calls fail at once meanwhile), so hundreds of groups do not dial a
// dead port hundreds of times a second.
const (
	// downRetry bounds how long an AppendEntries keeps trying a peer
	// that cannot be dialed.
	downRetry = time.Second
	// refusedFor is how long after a failed dial the peer's calls fail
	// without dialing.
	refusedFor = 100 * time.Millisecond
)

// errUnreachable marks a call that failed because the peer could not be
// dialed (refused, unreachable or failing the handshake).
var errUnreachable = errors.New("peer unreachable")

// appendRetryingDown is appendOnWire, tried again every refusedFor for up
// to downRetry while the peer cannot be dialed.
func (t *Transport) appendRetryingDown(p *peer, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := p.appendOnWire(t.group, args, resp)
	if !errors.Is(err, errUnreachable) {
		return err
	}
	timer := time.NewTimer(refusedFor)
	defer timer.Stop()
	for deadline := time.Now().Add(downRetry); time.Now().Before(deadline); {
		select {
		case <-timer.C:
		case <-t.closed:
			return err
		case <-t.m.quit:
			return err
		}
		if err = p.appendOnWire(t.group, args, resp); !errors.Is(err, errUnreachable) {
			return err
		}
		timer.Reset(refusedFor)
	}
	return err
}
