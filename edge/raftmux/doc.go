// Package raftmux is a node's Raft network: one TCP listener and one
// outbound connection per peer, shared by every Raft group the node
// replicates (edge/raftgroup), instead of hashicorp/raft's
// NetworkTransport, which costs a listener and a connection pool per
// group. Each group gets a Transport (a raft.Transport) from the node's
// Mux; requests carry the group id and a request id, so one connection
// multiplexes all groups' RPCs and their answers may come back in any
// order.
//
// Wire format. A connection opens with the dialer's preamble: a version
// line, then its advertised address (uvarint length, bytes). With a region
// secret (Options.Secret) it is "EGRAFT3\n", the address and a 32-byte
// nonce, and the authentication handshake follows (auth.go, and below);
// without one it is "EGRAFT2\n" and the address ("EGRAFT1\n" without
// the address is still accepted). Then frames:
//
//	uvarint length of the rest, kind(1), group(4 BE), request id(8 BE),
//	body: msgpack (hashicorp/go-msgpack, as raft's own transport) of the
//	request, or of {Resp, Err} in the answer (kind | 0x80). An
//	InstallSnapshot request carries the snapshot after its arguments.
//
// Each request is handled on its own goroutine, so a group whose Raft
// loop is slow to take an RPC never holds up the other groups sharing the
// connection. Heartbeats go to the group's heartbeat handler directly, as
// in raft's NetworkTransport. Pipelining is not offered (raft then sends
// AppendEntries one at a time per follower; leaders batch many messages
// per entry instead). Snapshots are sent in one frame (bounded by
// Options.MaxFrame).
//
// # Idle cost
//
// Idle, hashicorp/raft still sends, per group and per follower, a
// heartbeat every HeartbeatTimeout/10 to /5 (200-400 ms with
// edge/raftgroup's settings) and an AppendEntries without entries every
// CommitTimeout to 2xCommitTimeout (50-100 ms at raft's default; 0.5-1 s
// in edge/raftgroup's Tuned now), which only repeats the commit index. With hundreds of groups that is thousands of RPCs a
// second per node, each a frame written with its own syscall, a goroutine
// and msgpack by reflection on both sides. `edgebench raft-idle` (3
// nodes, 20 s) measured 25-31% of a core per node at 64 groups and 36-45%
// at 256 before the two remedies below (and edge/raftgroup's in-memory
// last log entry), 9-10% and 11-16% after (RSS unchanged: about 39 MB and
// 60-70 MB). That was still above the 5% target at 256 groups. A CPU
// profile of a node at 256 groups shows what remains: about 45% Go
// scheduler work around many small wakeups (findRunnable, futex,
// netpoll), 25% raft's replication loops (one timer per follower per
// group per CommitTimeout, mostly answered from the cache now), 8% raft's
// heartbeat loops, 8% GC, msgpack under 10%. A CommitTimeout of 500 ms
// instead of 50 (tried, not adopted) gave 12% per node: the remainder is
// the number of wakeups (heartbeats, timers) rather than their cost on
// the wire, so the next steps are on the Raft side: fewer heartbeats
// (a longer HeartbeatTimeout) and a longer CommitTimeout once followers no
// longer deliver from their own replica (see edge/raftgroup's doc). A
// binary encoding of heartbeats was not done: msgpack is under a tenth of
// what remains, and it would change the wire format (a new preamble and a
// rolling-upgrade story).
//
// Empty AppendEntries answered from a cache. The leader's side remembers,
// per peer and group, the follower's last successful answer to an
// AppendEntries without entries (cache.go). The next one that is
// identical (same term, leader, previous log index and term, commit index,
// RPC header) is answered with it locally, if the connection it came on is
// still up and the last real contact with that follower for that group
// (that answer, or a successful heartbeat of the same term and leader
// since) is younger than Options.EmptyAppendTTL (500 ms; it must stay well
// under LeaderLeaseTimeout, 1 s, and above the heartbeat interval so that
// heartbeats keep it fresh). Anything else crosses the wire: a heartbeat
// (raft's liveness and lease signal, always sent), an AppendEntries with
// entries or with any field changed (a new commit index reaches the
// follower once, by the wire), and every request after the cache was
// dropped: on an error, a refusal or a newer term in an answer, an
// AppendEntries with entries, a vote, snapshot or leadership transfer sent
// to that peer for the group, any non-heartbeat request received for the
// group (another node campaigns or leads it), and a lost connection.
//
// Why it is safe. On a successful empty AppendEntries raft's leader does
// three things (replication.go: replicateTo, updateLastAppended): it
// records contact with the follower (setLastContact), clears its failure
// count, and tells pending VerifyLeader calls it is still leader
// (notifyAll). It records no replication progress: nextIndex and
// matchIndex only move for entries, so a cached answer can never make the
// leader count an entry as stored on a follower, commit anything, or skip
// sending an entry. The answer itself is one the follower really gave to
// the very same request, and repeating that request would not change the
// follower's state: the follower's log and commit index can only change
// through this leader's requests in this term (which go by the wire and
// drop or replace the cache) or through a newer term (which a real
// heartbeat answer reports, dropping the cache) or a restart (which breaks
// the connection). What a cached answer does overstate is freshness: the
// leader's idea of its last contact may be up to EmptyAppendTTL older than
// it believes. Raft uses last contact for the leader lease (a leader
// steps down after LeaderLeaseTimeout without a quorum's contact), so a
// leader cut off from its followers steps down at most EmptyAppendTTL
// later than it would; real heartbeats keep failing meanwhile, and no
// cached answer is given beyond the TTL. VerifyLeader could likewise be
// confirmed by contact up to EmptyAppendTTL old; edge/raftgroup does not
// use it (reads are local). Followers lose nothing: their election timer
// is reset by the heartbeats, which always arrive.
//
// Frame batching (writer.go). A connection's frames, requests or
// answers, are appended to one buffer; whoever sends while no write is
// under way writes the whole buffer with one syscall, and keeps writing
// what others queued meanwhile, so a burst of RPCs of many groups costs a
// few syscalls, without a writer goroutine to wake for a lone frame. Reads
// go through a 64 KiB bufio.Reader, so a batch is read with one syscall
// too. Heartbeats and their answers are lazy: they wait up to
// Options.HeartbeatLinger (20 ms, 1% of raft's HeartbeatTimeout) for
// other frames to share a write, which turns hundreds of lone heartbeat
// writes a second into a few dozen. The wire format is unchanged.
//
// Commit notices (commit.go). Raft tells a follower the leader's commit
// index only inside its next AppendEntries: with nothing new to send, that
// is the next CommitTimeout tick, and a follower delivers a committed
// message to the sessions of its node only once it knows. So the leader's
// side remembers, per peer and group, the last entry the follower
// confirmed in the current term (from successful AppendEntries), and
// edge/raftgroup's leader replica calls Transport.NotifyCommit after each
// apply: the follower is sent at once the AppendEntries raft itself would
// send with nothing new (same term and header, that entry as the previous
// one, no entries, the commit index capped at that entry). The follower
// checks it like any other, so it is safe for the same reasons as raft's
// own: in one term the leader never takes back an entry a follower
// confirmed, and a follower commits only entries that match the leader's
// log up to the index it was told. A notice that arrives late or out of
// order changes nothing (commit indexes only grow); one of an older term
// is refused by the follower. One goroutine per peer and group sends
// them, coalescing commits that happen while one is on the wire, and a
// commit the follower had not yet confirmed is told when it confirms the
// entry. Measured with `edgebench chat` over 3 nodes: delivery p50 from
// 70 ms (raft's CommitTimeout then 50 ms) to 10-14 ms, the same as the
// sender's ack.
//
// A follower that is down does not get a long back-off (downretry.go):
// an AppendEntries whose peer cannot be dialed keeps trying for a second
// before it fails, so raft's exponential back-off (up to about 10 s after
// ten quick failures) stays short and a restarted follower is caught up
// at the next try.
//
// Dead peers are found fast (peerdown.go): when a peer's connection
// ends and its port refuses a new one, Options.OnPeerDown is told, and
// edge/raftgroup starts the elections of the groups it led at once
// (Transport.Campaign) instead of waiting for Raft's heartbeat timeout.
// Partitions can be injected for tests (fault.go, Mux.SetIsolated).
//
// Authentication (auth.go). With Options.Secret, the region's shared key
// (at least 32 bytes, the same on every node), every connection passes a
// mutual HMAC-SHA256 challenge-response before its first frame: the
// dialer sends a fresh nonce in its preamble; the acceptor answers with
// its own nonce and HMAC(secret, "acceptor" label, both nonces, the
// dialer's address); the dialer checks it (hmac.Equal) and answers with
// the MAC under the "dialer" label, which the acceptor checks before it
// reads a frame. Fresh nonces on both sides defeat replay; the labels
// defeat reflection (a MAC echoed back to its maker does not verify). A
// connection that fails, speaks an older preamble, or does not finish
// within Options.Timeout is closed before any of its frames is read, and
// counted (Stats.RefusedConns; a failed peer seen by the dialer:
// Stats.PeerAuthFailures). Refusals are logged at Warn, at most one per
// 10 s (with how many were not), the rest at Debug: anyone who reaches
// the port can cause them, and a log line each would let a scanner flood
// the logs. Each handshake runs on its connection's own goroutine, so a
// slow client never holds up the accept loop; on the dialing side one
// call dials and runs the handshake outside the peer's lock while other
// calls to that peer wait for it, each until its own deadline, so a peer
// that accepts but never answers (a stopped process) delays no call past
// its timeout, and Close interrupts it. Without a secret nothing is
// authenticated, and a dialer that authenticates is refused; nodes with
// and without a secret (or with different ones) cannot talk, so turning
// authentication on means restarting the whole region with the secret.
// edge requires a secret for a region of more than one node (unless
// --raft-insecure, for tests on loopback).
//
// What it guarantees: a connection is served, or kept by a dialer, only
// if the other end proved it holds the region secret at the time of the
// handshake. What it does not: frames after the handshake are neither
// encrypted nor integrity-protected, so an attacker on the path can read
// the region's traffic (messages included) and, by hijacking the TCP
// connection, inject frames. Run the Raft port on a private network, or
// over a VPN (WireGuard) between sites. HMAC was chosen over mutual TLS
// because a region secret needs no certificate authority, issuance or
// rotation of per-node certificates, and costs nothing per frame (the
// handshake is three small messages per connection, and connections are
// long-lived); what TLS would add, confidentiality and integrity on the
// wire, the private network or VPN gives.
//
// It owns the Raft wire protocol and its connections. It must not touch
// the groups' state, the stores or client connections.
package raftmux
