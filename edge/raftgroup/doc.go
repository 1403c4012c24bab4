// Package raftgroup replicates the `ordered` class: a region's
// conversations are spread over a fixed number of Raft groups
// (hashicorp/raft), each replicated on the region's nodes, and Node
// implements ordering.Orderer on top of them, so a message acked to its
// sender is on a majority of the group's replicas.
//
// # Design (see ../shared/ARCHITECTURE.md for the measurements behind it)
//
//   - A bounded number of groups (Options.Groups, default 64, the same on
//     every node), not one Raft instance per conversation: an instance
//     costs goroutines, memory and heartbeats whether its conversation
//     is busy or not. A conversation belongs to group FNV-1a(conv) mod
//     Groups (GroupOf), forever: changing the number of groups of a
//     running region would move conversations between logs, which this
//     version does not do.
//   - The group's state machine (fsm) sequences each log entry with
//     ordering.Sequencer, the very rules of the single-node orderer (gap-
//     free seq per conversation, dedup on (conv, sender, client_msg_id)),
//     and writes the result to the node's message store with
//     store.ApplyGroup, together with the entry's index. Replicas hold
//     the same group state, so they assign the same seqs; an entry replayed
//     after a restart (index <= applied) is skipped, which is why Raft is
//     told not to restore the latest snapshot at start
//     (NoSnapshotRestoreOnStart): the state is on disk already. FSM writes
//     skip fsync (the Raft log is the durable copy); taking a snapshot
//     first makes the applied state durable, because Raft never replays
//     entries below a snapshot.
//   - Leaders batch: Appends wait up to BatchWindow (2 ms) and go out as
//     one log entry for many conversations of the group; the next batch is
//     gathered while the previous one replicates. The leader stamps server
//     time: a state machine must not read a clock.
//   - One log store per node for all groups (edge/raftlog, pebble keyed
//     by group and index): fsyncs per second do not grow with the number
//     of groups (pebble's group commit).
//   - Snapshots stream a group's conversations from a pebble snapshot of
//     the message store (store.ViewGroup); restoring one replaces the
//     group's conversations (store.ResetGroup). The snapshot holds the
//     conversations' whole history: message retention is not implemented
//     yet.
//   - A single node runs the same code with groups of one replica.
//
// Append on a node that does not lead the conversation's group forwards
// the write to the leader's node (Options.Forward; the edge sends it over
// raftmux, the leader answers with HandleForward) and waits out elections,
// up to ApplyTimeout; then it returns a *NotLeaderError. If leadership is
// lost while an entry is in flight, the entry may still commit: the
// client's resend with the same client_msg_id then returns it as a
// duplicate, never twice. Reads
// (Read, History, Head) come from the local replica, which may lag its
// leader by the entries in flight: never reordered, possibly shorter.
//
// The edge runs it with --raft-listen, --peers and --raft-secret-file
// (edge/replication.go; the nodes authenticate each other, edge/raftmux);
// edge/itest's TestRaftJepsen checks it under kill -9, restarts, SIGSTOP
// and a partition (raftmux's fault injection) with real processes, and
// compares the replicas' state hashes (StateHash, GET /v1/raft/groups)
// (make jepsen for a long run).
//
// Failover. Raft's followers notice a lost leader when their heartbeat
// timer runs out (one to two HeartbeatTimeouts, 2-4 s here, plus a
// pre-vote round): `edgebench raft-failover` (kill -9 of the node leading
// the most of 64 groups) measured new leaders after 3.8 s median, 5.7 s
// p99. When the leader's process died, its node is visibly gone much
// sooner (raftmux: its connections end and its port refuses new ones),
// and Node.PeerDown makes one follower of each group it led (the
// smallest id) campaign at once, as in a leadership transfer, with the
// next follower trying CampaignStagger later if that fails. A machine
// that vanishes without closing its sockets (power loss, partition)
// still costs the heartbeat timeout, which --raft-heartbeat-timeout
// trades against idle cost. Measured figures: bench/README.md. A node
// that stops on purpose (SIGTERM) first hands the groups it leads to its
// peers (Node.TransferLeadership, raft's leadership transfer), so a drain
// costs no election wait at all.
//
// Idle cost. hashicorp/raft's leaders send every follower of every group
// a heartbeat per HeartbeatTimeout/10 and an AppendEntries per
// CommitTimeout even when nothing happens: `edgebench raft-idle` (3
// nodes, 20 s, CommitTimeout 50 ms) first measured 25-31% of a core per
// node with 64 groups and 36-45% with 256, most of it per-RPC cost in
// raftmux. raftmux answers repeated empty AppendEntries from a cache and
// batches frames per connection, and the groups' log store keeps the last
// entry in memory (lastLog): 9-10% and 11-16%. What remained was the
// number of wakeups, not their cost on the wire; a CommitTimeout of
// 500 ms (Tuned: possible once the leader's replica tells followers of
// each commit at once, fsm.notify and raftmux's commit notices) and the
// edge's 5 ms timer slack (cmd/edge) brought 256 groups to 3-5% per node.
//
// Not done yet (issue 5): the throughput target (50k acked msg/s over
// 10k conversations with commit p99 at most 20 ms; this machine reaches
// about 6200 msg/s, bench/README.md says why and where to look next).
//
// It owns: the groups' Raft instances, their FSM and snapshot format, the
// entry format (command.go) and the conversation-to-group mapping. It
// must not touch: sessions, transports to clients, fan-out (OnCommit
// hands committed messages to the edge), permissions.
package raftgroup
