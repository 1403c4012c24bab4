package raftmux

import (
	"errors"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Transport is one group's raft.Transport on the node's Mux.
type Transport struct {
	m        *Mux
	group    uint32
	consumer chan raft.RPC

	hbMu sync.Mutex
	hb   func(raft.RPC)

	closeOnce sync.Once
	closed    chan struct{}
}

var (
	_ raft.Transport   = (*Transport)(nil)
	_ raft.WithClose   = (*Transport)(nil)
	_ raft.WithPreVote = (*Transport)(nil)
)

// Consumer implements raft.Transport.
func (t *Transport) Consumer() <-chan raft.RPC { return t.consumer }

// LocalAddr implements raft.Transport.
func (t *Transport) LocalAddr() raft.ServerAddress { return t.m.addr }

// AppendEntriesPipeline implements raft.Transport: not supported (see the
// package doc).
func (t *Transport) AppendEntriesPipeline(raft.ServerID, raft.ServerAddress) (raft.AppendPipeline, error) {
	return nil, raft.ErrPipelineReplicationNotSupported
}

// AppendEntries implements raft.Transport. An AppendEntries without
// entries that repeats the last one the follower accepted may be answered
// from the cache (see the package doc); heartbeats always cross the wire.
func (t *Transport) AppendEntries(_ raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	p, err := t.m.peerFor(target)
	if err != nil {
		return err
	}
	if p.cachedAppend(t.group, args, resp) {
		return nil
	}
	if len(args.Entries) != 0 {
		p.dropAppend(t.group)
	}
	return t.appendRetryingDown(p, args, resp)
}

// appendOnWire sends an AppendEntries to the peer and records what its
// answer tells (the cache of empty ones, the follower's log for commit
// notices).
func (p *peer) appendOnWire(group uint32, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	body, err := encode(args)
	if err != nil {
		return err
	}
	ans, conn, err := p.call(kindAppendEntries, group, body, p.m.o.Timeout, isHeartbeat(args))
	if err == nil {
		// Decode into a zero answer: the decoder may reuse byte slices
		// of the previous one, which a cached answer may share.
		*resp = raft.AppendEntriesResponse{}
		err = decode(ans, resp)
	}
	p.noteAppend(group, conn, args, resp, err)
	p.noteReplicated(group, args, resp, err)
	return err
}

// RequestVote implements raft.Transport.
func (t *Transport) RequestVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	return t.call(target, kindRequestVote, args, resp)
}

// RequestPreVote implements raft.WithPreVote.
func (t *Transport) RequestPreVote(_ raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	return t.call(target, kindRequestPreVote, args, resp)
}

// TimeoutNow implements raft.Transport.
func (t *Transport) TimeoutNow(_ raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	return t.call(target, kindTimeoutNow, args, resp)
}

// InstallSnapshot implements raft.Transport: the snapshot goes in one
// frame with its arguments.
func (t *Transport) InstallSnapshot(_ raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if args.Size > int64(t.m.o.MaxFrame) {
		return errors.New("raftmux: snapshot larger than the frame limit")
	}
	b, err := io.ReadAll(io.LimitReader(data, int64(t.m.o.MaxFrame)))
	if err != nil {
		return err
	}
	body, err := encode(&snapshotRequest{Args: args, Data: b})
	if err != nil {
		return err
	}
	return t.send(target, kindInstallSnapshot, body, resp, t.m.o.SnapshotTimeout)
}

// EncodePeer implements raft.Transport.
func (t *Transport) EncodePeer(_ raft.ServerID, addr raft.ServerAddress) []byte { return []byte(addr) }

// DecodePeer implements raft.Transport.
func (t *Transport) DecodePeer(b []byte) raft.ServerAddress { return raft.ServerAddress(b) }

// SetHeartbeatHandler implements raft.Transport.
func (t *Transport) SetHeartbeatHandler(cb func(raft.RPC)) {
	t.hbMu.Lock()
	t.hb = cb
	t.hbMu.Unlock()
}

func (t *Transport) heartbeatHandler() func(raft.RPC) {
	t.hbMu.Lock()
	defer t.hbMu.Unlock()
	return t.hb
}

// Close implements raft.WithClose: the group leaves the Mux (requests for
// it are answered with an error).
func (t *Transport) Close() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.m.mu.Lock()
		if t.m.groups[t.group] == t {
			delete(t.m.groups, t.group)
		}
		t.m.mu.Unlock()
	})
	return nil
}

func (t *Transport) call(target raft.ServerAddress, kind byte, args, resp any) error {
	body, err := encode(args)
	if err != nil {
		return err
	}
	return t.send(target, kind, body, resp, t.m.o.Timeout)
}

func (t *Transport) send(target raft.ServerAddress, kind byte, body []byte, resp any, timeout time.Duration) error {
	p, err := t.m.peerFor(target)
	if err != nil {
		return err
	}
	p.dropAppend(t.group) // a vote, snapshot or leadership transfer
	ans, _, err := p.call(kind, t.group, body, timeout, false)
	if err != nil {
		return err
	}
	return decode(ans, resp)
}
