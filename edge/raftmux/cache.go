package raftmux

import (
	"bytes"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// appendAnswer is a follower's successful answer to an AppendEntries
// without entries, remembered by the leader's side for one group and one
// peer: an identical request (same term, leader, previous log entry and
// commit index) sent while it is fresh is answered with it, without
// crossing the wire. See the package doc for why this is safe.
type appendAnswer struct {
	conn net.Conn  // the connection it came on: valid only while it is up
	at   time.Time // last real contact with the follower for this group
	req  raft.AppendEntriesRequest
	resp raft.AppendEntriesResponse
}

// sameEmptyAppend tells whether a and b are the same AppendEntries
// without entries: every field a follower's answer depends on is equal.
// The leader is named by the RPC header (the deprecated Leader field is
// only read by followers when the header's Addr is empty, and such
// requests are never cached).
func sameEmptyAppend(a, b *raft.AppendEntriesRequest) bool {
	return len(a.Entries) == 0 && len(b.Entries) == 0 && len(a.Addr) > 0 &&
		a.Term == b.Term && a.PrevLogEntry == b.PrevLogEntry && a.PrevLogTerm == b.PrevLogTerm &&
		a.LeaderCommitIndex == b.LeaderCommitIndex && a.ProtocolVersion == b.ProtocolVersion &&
		bytes.Equal(a.ID, b.ID) && bytes.Equal(a.Addr, b.Addr)
}

// cachedAppend answers args from the cache if it can: args has no entries
// and is not a heartbeat, the group's cached answer is for the same
// request, on the connection still up, and the last real contact is
// younger than Options.EmptyAppendTTL.
func (p *peer) cachedAppend(group uint32, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) bool {
	ttl := p.m.o.EmptyAppendTTL
	if ttl <= 0 || len(args.Entries) != 0 || len(args.Addr) == 0 || isHeartbeat(args) || p.m.isolated.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.appends[group]
	if a == nil {
		return false
	}
	if a.conn != p.conn || p.conn == nil || time.Since(a.at) >= ttl || !sameEmptyAppend(&a.req, args) {
		delete(p.appends, group)
		return false
	}
	*resp = a.resp
	p.m.cachedAppends.Add(1)
	return true
}

// noteAppend records the outcome of an AppendEntries that crossed the
// wire on conn (err: its failure): a successful answer to one without
// entries is cached; a successful heartbeat of the cached answer's term
// and leader refreshes its contact time; anything else (an error, a
// refusal, a newer term, entries) drops the group's cached answer.
func (p *peer) noteAppend(group uint32, conn net.Conn, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse, err error) {
	if p.m.o.EmptyAppendTTL <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := err == nil && resp.Success && resp.Term == args.Term && conn != nil && conn == p.conn
	switch {
	case !ok || len(args.Entries) != 0:
		delete(p.appends, group)
	case isHeartbeat(args):
		if a := p.appends[group]; a != nil && a.conn == conn && a.req.Term == args.Term &&
			bytes.Equal(a.req.ID, args.ID) && bytes.Equal(a.req.Addr, args.Addr) {
			a.at = time.Now()
		}
	case len(args.Addr) == 0:
		delete(p.appends, group) // not cacheable (see sameEmptyAppend)
	default:
		p.appends[group] = &appendAnswer{conn: conn, at: time.Now(), resp: *resp, req: raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: args.ProtocolVersion, ID: bytes.Clone(args.ID), Addr: bytes.Clone(args.Addr)},
			Term:      args.Term, PrevLogEntry: args.PrevLogEntry, PrevLogTerm: args.PrevLogTerm, LeaderCommitIndex: args.LeaderCommitIndex,
		}}
	}
}

// dropAppend forgets the group's cached answer, before any other request
// of the group to this peer (an AppendEntries with entries, a snapshot, a
// vote, a leadership transfer).
func (p *peer) dropAppend(group uint32) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.appends, group)
}

// dropAppends forgets the group's cached answers from every peer: this
// node heard of another node's candidacy or leadership for the group.
func (m *Mux) dropAppends(group uint32) {
	m.mu.Lock()
	peers := m.peerListLocked()
	m.mu.Unlock()
	for _, p := range peers {
		p.dropAppend(group)
	}
}
