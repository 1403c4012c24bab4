package raftmux

import (
	"bytes"

	"github.com/hashicorp/raft"
)

// replica is what a leader's side knows of one follower's log for one
// group, from the last AppendEntries of the current term it accepted: see
// "Commit notices" in the package doc.
type replica struct {
	hdr      raft.AppendEntriesRequest // RPC header, term and leader of those requests (no entries)
	last     uint64                    // index of the last entry it confirmed holding
	lastTerm uint64                    // that entry's term
	told     uint64                    // highest commit index it was sent
	want     uint64                    // highest commit index to tell it
	sending  bool                      // a notice goroutine runs
}

// noteReplicated records what an AppendEntries (not a heartbeat) that
// crossed the wire tells of the follower's log: a success, the entries it
// now holds; a failure, a refusal or an answer of another term, nothing
// (what was known is forgotten).
func (p *peer) noteReplicated(group uint32, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, err error) {
	if isHeartbeat(args) {
		return
	}
	p.mu.Lock()
	r := p.replicas[group]
	if r == nil {
		r = &replica{}
		p.replicas[group] = r
	}
	start := p.noteReplicatedLocked(r, args, resp, err)
	p.mu.Unlock()
	if start {
		p.startNotices(group, r)
	}
}

// noteReplicatedLocked is noteReplicated under p.mu; it tells whether
// the caller must start a commit notice (see claim).
func (p *peer) noteReplicatedLocked(r *replica, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, err error) bool {
	if err != nil || !resp.Success || resp.Term != args.Term || len(args.Addr) == 0 {
		r.forget()
		return false
	}
	if r.hdr.Term != args.Term || !bytes.Equal(r.hdr.Addr, args.Addr) || !bytes.Equal(r.hdr.ID, args.ID) {
		r.forget()
		r.hdr = *args
		r.hdr.Entries, r.hdr.PrevLogEntry, r.hdr.PrevLogTerm, r.hdr.LeaderCommitIndex = nil, 0, 0, 0
	}
	last, lastTerm := args.PrevLogEntry, args.PrevLogTerm
	if n := len(args.Entries); n > 0 {
		last, lastTerm = args.Entries[n-1].Index, args.Entries[n-1].Term
	}
	// In one term the leader never takes back an entry a follower
	// confirmed, so a later answer about an earlier index (a notice that
	// raced a replication) does not lower what is known.
	if last > r.last {
		r.last, r.lastTerm = last, lastTerm
	}
	r.told = max(r.told, min(args.LeaderCommitIndex, last))
	return r.claim()
}

// claim tells whether a commit notice is due (the follower holds entries
// the leader committed beyond what it was told) and none is being sent,
// and if so marks one as being sent: the caller then starts it.
func (r *replica) claim() bool {
	if min(r.want, r.last) <= r.told || r.sending {
		return false
	}
	r.sending = true
	return true
}

// forget drops what is known of the follower (a running notice loop
// then stops).
func (r *replica) forget() {
	r.hdr = raft.AppendEntriesRequest{}
	r.last, r.lastTerm, r.told, r.want = 0, 0, 0, 0
}

// NotifyCommit tells the group's followers, at once, that the leader
// committed the log up to index: a follower otherwise learns it from the
// leader's next AppendEntries, which, idle, comes only after raft's
// CommitTimeout, and until then holds messages that are committed but
// not applied (not delivered to the sessions of its node). It is a no-op
// for followers this node has not replicated to in the current term (it
// is called by a leader's FSM; a stale call sends a request the follower
// refuses as of an older term, which changes nothing).
func (t *Transport) NotifyCommit(index uint64) {
	t.m.mu.Lock()
	if t.m.closed {
		t.m.mu.Unlock()
		return
	}
	peers := t.m.peerListLocked()
	t.m.mu.Unlock()
	for _, p := range peers {
		p.mu.Lock()
		r := p.replicas[t.group]
		start := false
		if r != nil && index > r.want {
			r.want = index
			start = r.claim()
		}
		p.mu.Unlock()
		if start {
			p.startNotices(t.group, r)
		}
	}
}

// startNotices runs sendNotices for r (marked sending by the caller).
func (p *peer) startNotices(group uint32, r *replica) {
	if !p.m.goTracked(func() { p.sendNotices(group) }) {
		p.mu.Lock()
		r.sending = false
		p.mu.Unlock()
	}
}

// sendNotices sends commit notices to the follower until it was told what
// the leader wants it to know or what is known of it is forgotten. A
// notice is the AppendEntries the leader itself would send with nothing
// new: the follower's last confirmed entry as the previous one, no
// entries, and the commit index capped at that entry.
func (p *peer) sendNotices(group uint32) {
	for {
		p.mu.Lock()
		r := p.replicas[group]
		commit := min(r.want, r.last)
		if commit <= r.told || p.done {
			r.sending = false
			p.mu.Unlock()
			return
		}
		req := r.hdr
		req.PrevLogEntry, req.PrevLogTerm, req.LeaderCommitIndex = r.last, r.lastTerm, commit
		p.mu.Unlock()
		var resp raft.AppendEntriesResponse
		_ = p.appendOnWire(group, &req, &resp) // noteReplicated: a failure forgets the follower
		p.m.commitNotices.Add(1)
	}
}

// goTracked runs f on a goroutine the Mux waits for on Close; false if the
// Mux is closed.
func (m *Mux) goTracked(f func()) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return false
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		f()
	}()
	return true
}
