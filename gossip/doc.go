// Package gossip is the edge cluster's membership layer: which nodes exist,
// whether they are alive, and what each says about itself (region, zone,
// client and inter-node addresses, load, health, draining), carried by
// hashicorp/memberlist (SWIM failure detection plus gossip and push/pull
// anti-entropy).
//
// # What it owns, and what it must not touch
//
// It owns the memberlist instance, this node's metadata and the membership
// view. It knows nodes and, later, presence (which node is home for a user);
// it never sees client sockets, sessions or messages, and imports nothing
// from edge/ or transport/. edge/ composes it: edge/ reads Members to place
// Raft replicas and pick forwarding targets, and calls UpdateMeta with its
// load and health.
//
// # Design choices
//
// Presets. Config.Preset picks memberlist's own LAN, WAN or local timings,
// unchanged except that "local" retransmits like LAN (see Preset for the
// figures and why). The cluster targets of the cluster issue (a killed node
// dead everywhere within 10 s p99, a join visible everywhere within 2 s p99)
// are stated for "lan" and measured by BenchmarkMembership.
//
// Metadata. Meta is encoded by hand in a compact binary form (a format byte,
// flags, health, varints, length-prefixed strings; see Meta.MarshalBinary),
// about 130 bytes for a typical node, well under memberlist's 512-byte limit
// (MaxMetaSize), which UpdateMeta enforces. Fields are only ever appended,
// and decoders ignore trailing bytes, so nodes of adjacent versions read each
// other. Metadata from a peer that does not decode is skipped and counted
// (Stats.MetaDecodeErrors), never a panic; the decoder is fuzzed (FuzzMeta).
// Metadata is for slow-changing, per-node facts only: gossip packets (about
// 1.4 KB, a few per second) cannot carry per-user events.
//
// Membership view and events. The view (Members) is built from memberlist's
// join, update and leave callbacks rather than read from memberlist's node
// list, which is updated in place under memberlist's lock and cannot be read
// without a data race. Consequences: there is no "suspect" state, and since
// memberlist v0.7.0 does not report whether a node left or failed, Leave
// first advertises Meta.Leaving so observers can tell (see Cluster.Leave).
// Events go to subscribers (Subscribe) through bounded buffers: they are
// produced in memberlist's goroutines, which must never block, so an event
// that does not fit is dropped and counted, and the consumer re-reads
// Members.
//
// Partitions. memberlist gossips to dead nodes only for GossipToTheDeadTime;
// to merge the sides of a longer partition the cluster retries one dead
// member every Config.ReconnectInterval (as Serf does).
//
// Tests. Package memnet is an in-memory memberlist transport with
// partitions, per-link loss and delay; the tests run 50 nodes on it, and
// three nodes on real loopback UDP and TCP.
//
// # Presence and the node directory
//
// The package knows which node is home for a user but never sees the
// user: Rendezvous (highest random weight) places a key on one of a set
// of nodes, and HomeCandidates picks the members that may be homes (alive,
// with a link address, not draining or leaving). Rendezvous needs no ring
// state and moves only the keys a joining node wins or a leaving node
// owned. Presence changes travel on the inter-node link to the home
// (edge/presence_link.go), never in gossip, so gossip traffic does not
// grow with users: Stats.BytesSent and BytesReceived count every gossip
// byte on the wire (a wrapper around the transport, counting.go), and
// bench/README.md compares a 3-node cluster idle with 10k users churning.
//
// # Not built yet (later parts of the cluster issue)
//
//   - per-node summaries (hot-room viewer counts, room interest digests)
//     in gossip (room interest travels on the inter-node link today).
package gossip
