// Package store is edgegate's embedded on-disk store, built on
// cockroachdb/pebble. It keeps the ordered conversation logs, their heads,
// the idempotency (dedup) index and the per-device delivery positions of one
// node. It is the embedded default: a single node needs nothing else.
//
// What it owns: the on-disk layout below and the durability of each commit
// (every commit is fsynced unless Options.NoSync). What it must not touch:
// sequencing. The store never assigns sequence numbers; the caller (package
// ordering, later a Raft FSM) does, and CommitMessages only checks that a
// batch continues each conversation's head without a gap. It knows nothing
// of sessions, transports, users' permissions or the network.
//
// # Key layout
//
// Every key starts with a one-byte table tag. String components (ids) are
// escaped so that any byte string is safe and no two distinct tuples share a
// key: byte 0x00 is written as 0x00 0xFF and each component ends with the
// terminator 0x00 0x01. The escaping preserves byte order (a component sorts
// before any longer component it prefixes), so range scans over a prefix of
// components are exact. Sequence numbers are 8-byte big-endian, so a
// conversation's log scans in seq order.
//
//	0x00 "format"                              -> uint64 format version (1)
//	0x01 conv⊥ seq(8 BE)                       -> pb.Message (protobuf)   conversation log
//	0x02 conv⊥                                 -> uint64 last seq         conversation head
//	0x03 conv⊥ sender⊥ client_msg_id⊥          -> uint64 seq              dedup index
//	0x04 user⊥ device⊥ conv⊥                   -> uint64 seq              delivery positions
//	0x05 group(4 BE) conv⊥                     -> empty                   conversations of a Raft group
//	0x06 group(4 BE)                           -> uint64 log index        a Raft group's applied index
//
// where x⊥ is escape(x) followed by 0x00 0x01 and every uint64 value is
// 8 bytes big-endian. Log records carry the full pb.Message (conversation,
// seq, sender, sender_device, server_time_ms, body, client_msg_id, class);
// on read the store checks that conversation and seq match the key.
//
// The dedup index is keyed by conversation first so that a conversation's
// entries can later be pruned together with its log; (sender,
// client_msg_id) is unique within a conversation.
//
// # Raft groups
//
// When ordering is replicated (edge/raftgroup), every replica's FSM writes
// through ApplyGroup: the messages of one log entry, their conversations'
// membership in the group and the group's applied index, in one batch, so
// a replayed entry is recognised (index <= applied) and skipped. ViewGroup
// reads a group's state at one point in time (Raft snapshots) and
// ResetGroup removes it before a snapshot is restored.
//
// # Positions
//
// Positions are monotonic: SetPositions keeps max(old, new). They are written
// without fsync unless Options.SyncPositions: a crash may lose the latest
// position updates, which only causes redelivery (delivery is at least once).
package store
