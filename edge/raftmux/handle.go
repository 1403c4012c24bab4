package raftmux

import (
	"bytes"
	"io"
	"time"

	"github.com/hashicorp/raft"
)

// handle decodes one request, hands it to its group's Raft instance and
// returns the answer's body.
func (m *Mux) handle(f frame) []byte { return m.handleHB(f, nil) }

// handleHB is handle, and tells in *isHB (if not nil) whether the request
// was a heartbeat.
func (m *Mux) handleHB(f frame, isHB *bool) []byte {
	m.mu.Lock()
	t, app := m.groups[f.group], m.app
	m.mu.Unlock()
	if f.kind == kindApp {
		if app == nil {
			return errAnswer("no application handler")
		}
		ans, err := app(f.group, f.body)
		if err != nil {
			return errAnswer(err.Error())
		}
		return append([]byte{answerOK}, ans...)
	}
	if t == nil {
		return errAnswer("unknown group")
	}
	var (
		cmd       any
		reader    io.Reader
		heartbeat bool
		err       error
	)
	switch f.kind {
	case kindAppendEntries:
		r := new(raft.AppendEntriesRequest)
		err, cmd = decode(f.body, r), r
		heartbeat = err == nil && isHeartbeat(r)
		if isHB != nil {
			*isHB = heartbeat
		}
	case kindRequestVote:
		r := new(raft.RequestVoteRequest)
		err, cmd = decode(f.body, r), r
	case kindRequestPreVote:
		r := new(raft.RequestPreVoteRequest)
		err, cmd = decode(f.body, r), r
	case kindTimeoutNow:
		r := new(raft.TimeoutNowRequest)
		err, cmd = decode(f.body, r), r
	case kindInstallSnapshot:
		var s snapshotRequest
		if err = decode(f.body, &s); err == nil && s.Args == nil {
			err = errBadFrame
		}
		cmd, reader = s.Args, bytes.NewReader(s.Data)
	default:
		return errAnswer("unknown request kind")
	}
	if err != nil {
		return errAnswer(err.Error())
	}
	if !heartbeat {
		// Another node campaigns, leads or sends a snapshot in this
		// group: whatever this node cached as its leader is stale.
		m.dropAppends(f.group)
	}
	respCh := make(chan raft.RPCResponse, 1)
	rpc := raft.RPC{Command: cmd, Reader: reader, RespChan: respCh}
	if hb := t.heartbeatHandler(); heartbeat && hb != nil {
		hb(rpc)
	} else {
		timer := time.NewTimer(m.o.Timeout)
		defer timer.Stop()
		select {
		case t.consumer <- rpc:
		case <-t.closed:
			return errAnswer("group closed")
		case <-m.quit:
			return errAnswer("node closing")
		case <-timer.C:
			return errAnswer("group busy")
		}
	}
	select {
	case r := <-respCh:
		if r.Error != nil {
			return errAnswer(r.Error.Error())
		}
		body, err := encode(r.Response)
		if err != nil {
			return errAnswer(err.Error())
		}
		return append([]byte{answerOK}, body...)
	case <-m.quit:
		return errAnswer("node closing")
	}
}

// isHeartbeat tells a heartbeat from an AppendEntries with content, as
// raft's NetworkTransport does (every node runs a raft version that sets
// RPCHeader.Addr).
func isHeartbeat(r *raft.AppendEntriesRequest) bool {
	return r.Term != 0 && len(r.Addr) > 0 && r.PrevLogEntry == 0 && r.PrevLogTerm == 0 &&
		len(r.Entries) == 0 && r.LeaderCommitIndex == 0
}

func errAnswer(msg string) []byte { return append([]byte{answerErr}, msg...) }
