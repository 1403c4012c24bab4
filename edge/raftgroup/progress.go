package raftgroup

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// progressTransport wraps a group's transport under membership placement
// to learn how far each follower's log is: hashicorp/raft keeps its
// followers' match indexes to itself, and the controller must not promote
// a member to voter before it caught up (a voter that cannot be reached,
// or is far behind, costs its group the majority it counts in). It
// records the follower's last log index from every successful
// AppendEntries answer, heartbeats included (raft sends those every tenth
// of HeartbeatTimeout, so the figure stays fresh).
type progressTransport struct {
	raft.Transport
	mu   sync.Mutex
	last map[raft.ServerAddress]progress
}

type progress struct {
	index uint64
	at    time.Time
}

// withProgress wraps t if it offers what raft looks for on a transport
// besides the interface (pre-vote and Close), else returns nil.
func withProgress(t raft.Transport) *progressTransport {
	if _, ok := t.(raft.WithPreVote); !ok {
		return nil
	}
	if _, ok := t.(raft.WithClose); !ok {
		return nil
	}
	return &progressTransport{Transport: t, last: map[raft.ServerAddress]progress{}}
}

func (t *progressTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	err := t.Transport.AppendEntries(id, target, args, resp)
	if err == nil && resp.Success {
		t.mu.Lock()
		t.last[target] = progress{index: resp.LastLog, at: time.Now()}
		t.mu.Unlock()
	}
	return err
}

func (t *progressTransport) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.Transport.(raft.WithPreVote).RequestPreVote(id, target, args, resp)
}

func (t *progressTransport) Close() error { return t.Transport.(raft.WithClose).Close() }

// caughtUp reports whether the follower at addr answered within fresh
// and its log is at most slack entries behind last.
func (t *progressTransport) caughtUp(addr raft.ServerAddress, last, slack uint64, fresh time.Duration) bool {
	t.mu.Lock()
	p, ok := t.last[addr]
	t.mu.Unlock()
	return ok && time.Since(p.at) < fresh && p.index+slack >= last
}
