// Package raftgroup replicates the `ordered` class: a region's
// conversations are spread over a fixed number of Raft groups
// (hashicorp/raft), each replicated on the region's nodes (static peers)
// or on three of them chosen from the membership (Placement), and Node
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
// # Membership placement
//
// With Options.Placement (the edge: --raft-placement membership) each
// group's voters follow the region's membership instead of a static peer
// list (issue 6). Decisions:
//
//   - Who: the members the view reports (the edge: gossip members of
//     this node's region with a Raft address); Placement.Replicas (3)
//     voters per group, the top ones by rendezvous hashing of (group,
//     node id) (Place; rendezvous.go says why rendezvous: no shared
//     state, the minimum of groups move on a join or a leave, top-N is
//     just a sort), spread over the members' zones (Member.Zone, the
//     edge: --zone): the best-ranked node of each zone first, then the
//     ranking (PlaceInZones). Founders bootstrap without zones (Place);
//     the controller then moves what the zones ask for.
//   - Who acts: the leader of each group, in a controller goroutine
//     per node (controller.go) that runs on every membership event
//     (Node.MembershipChanged), whenever this node becomes a group's
//     leader (raft's leader observations), and every Placement.Interval
//     (5 s). Each pass makes at most one change per group and waits
//     for it to commit, in this order: a desired member that is missing
//     (alive ones only) is added as a non-voter (AddNonvoter), and
//     promoted (AddVoter) at a later pass once it caught up: it answered
//     the leader within a HeartbeatTimeout and its log is at most
//     MaxAppendEntries behind (progress.go: hashicorp/raft keeps its
//     followers' progress to itself, so a thin wrapper of the group's
//     transport records each follower's last log index from its
//     AppendEntries answers, heartbeats included); a member that cannot
//     be reached (a wrong --raft-advertise) thus stays a non-voter and
//     never costs its group the majority, not even a group of one voter.
//     Then, only once every desired member is a voter (so the desired
//     set's majority is never touched), RemoveServer of one that is not
//     desired, other nodes first; a leader that is not desired itself
//     hands its leadership to the best-ranked desired voter
//     (LeadershipTransferToServer), which removes it next. A change
//     rejected by Raft (leadership lost, another change in flight) is
//     logged, counted and tried again at the next pass.
//   - Flapping: a member reported dead keeps the places it holds for
//     Placement.Grace (30 s) and is given no new place; one that comes
//     back within it keeps them, with no change at all (a restart costs
//     its groups no snapshot). Draining, leaving or left members are
//     replaced at once. A server the view does not list at all counts
//     as dead from when the leader first missed it: a node that
//     restarted and has not heard from gossip yet sees only itself, and
//     removes no one. Views that differ between nodes for a moment can
//     make two leaders disagree; each change is a single committed Raft
//     configuration change, so the worst case is a change undone at the
//     next pass, never an unsafe configuration.
//   - Non-voters (Placement.Learners; the edge turns it on): every other
//     eligible member follows each group as a non-voter (AddNonvoter), so
//     it applies the log, delivers committed messages to its own
//     sessions and answers reads from its own store; a voter no longer
//     placed but alive is demoted, not removed, and a member placed later
//     is a caught-up learner already. This is how writes and deliveries work on
//     nodes that hold no vote in a group; it keeps the per-node replication
//     cost of every node following every group (the idle cost is that of
//     static peers: heartbeats go to non-voters too), and reduces the
//     quorum and the elections to three nodes. Not built: nodes that
//     follow no group at all, with committed messages forwarded to the
//     nodes that have subscribers (interest registered with the group's
//     replicas over edge/nodelink) and reads forwarded to a replica.
//   - Instances: every node runs a Raft instance for every group. One
//     with no configuration (a node never added to the group) sends
//     nothing and never campaigns (raft aborts its elections: no known
//     peers); it only wakes on its follower timer: 256 such instances
//     cost 1.2% of a core in one process, against 1.7% for 256 groups
//     of one voter led there (idle_test.go, EDGEGATE_MEASURE_IDLE=1),
//     so creating instances on demand would save little and add a
//     lifecycle to get right. An Append on such a
//     node, which knows no leader, is forwarded to one of the group's
//     desired replicas in the view (Node.askReplica), which answers it or
//     names the leader ("notleader id addr"), so writes work on any node.
//   - Founding (bootstrapServers): a node with Raft state never bootstraps
//     again. Otherwise, with placement, Options.Peers are the region's
//     founders: each founder bootstraps a group only if placed in it among
//     the founders, with exactly those placed founders (all compute the
//     same set); Peers empty: no bootstrap, the node waits to be added.
//     The edge passes --peers as founders, itself alone when it has
//     neither --peers nor --join (a new region of one), and no founders
//     with --join and no --peers.
//
// Measured (edge/itest TestRaftMembershipPlacement: 4 edge processes, 8
// groups, gossip preset local, --raft-dead-grace 3s; 3 runs): a region
// founded by one node and joined by three is fully placed (3 voters + 1
// non-voter per group) 0.54-0.78 s after the last node is ready; after a
// kill -9 of the founder, every group has three voters again 9.1-9.3 s
// later (gossip's failure detection, then the grace, then one change per
// group); the founder restarted on its data (no new bootstrap) is placed
// again 0.16-0.19 s after it is ready; a node drained with SIGTERM is
// replaced 0.38-0.53 s after the signal, its drain included.
//
// Limits: a group that loses a majority of its voters at once (two of
// three within the grace) cannot change its configuration (Raft needs a
// quorum for that too): it needs an operator. A node removed from a group
// while alive (without Learners) keeps its stale replica and may campaign
// now and then (pre-vote keeps it harmless); its reads of that group are
// stale.
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
