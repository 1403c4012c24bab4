// Package raftlog is the node's one Raft log store: the log entries and
// stable state (current term, last vote) of every Raft group a node
// replicates, in one pebble database keyed by group and index.
//
// Why one store for all groups: a node replicates hundreds of groups (see
// edge/raftgroup). A log per group (raft-boltdb's file, or a raft-wal
// directory each) would cost a file, an fsync stream and a write-ahead
// log per group, so fsyncs per second would grow with the number of
// groups. Here every group's StoreLogs is one pebble batch committed with
// Sync, and pebble's commit pipeline folds the batches that arrive while
// an fsync is in flight into the next one (group commit): fsyncs per
// second follow the disk, not the number of groups. Store.Syncs counts
// them so benchmarks can show it.
//
// Keys (all integers big endian, so a group's entries sort by index):
//
//	'l' group(4) index(8)  -> encoded raft.Log (see encodeLog)
//	's' group(4) key       -> stable-store value
//
// Compaction (raft's DeleteRange after a snapshot) writes one range
// tombstone per call, without waiting for fsync: a crash that loses it
// leaves entries raft no longer needs, which it tolerates.
//
// It owns the log store's files and key layout. It must not touch the
// message store (edge/store), the FSM, or the transport.
package raftlog
