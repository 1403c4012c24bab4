// Package raftmux is a node's Raft network: one TCP listener and one
// outbound connection per peer, shared by every Raft group the node
// replicates (edge/raftgroup), instead of hashicorp/raft's
// NetworkTransport, which costs a listener and a connection pool per
// group. Each group gets a Transport (a raft.Transport) from the node's
// Mux; requests carry the group id and a request id, so one connection
// multiplexes all groups' RPCs and their answers may come back in any
// order.
//
// Wire format, after the dialer's 8-byte preamble "EGRAFT1\n":
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
// Not done yet: authentication of peers (the cluster issue brings an
// authenticated inter-node link); until then the Raft address must only be
// reachable from the region's nodes.
//
// It owns the Raft wire protocol and its connections. It must not touch
// the groups' state, the stores or client connections.
package raftmux
