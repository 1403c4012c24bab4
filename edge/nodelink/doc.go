// Package nodelink is the inter-node link of a region: one authenticated,
// multiplexed TCP connection per pair of nodes, carrying inter-node
// messages (room interest and room comments, presence updates and
// lookups today; chat forwarding later) as edgegate frames.
//
// # Wire
//
// A link opens with the dialer's preamble ("EGLINK1\n", flags, the
// dialer's node id and the id of the node it means to reach, a nonce) and,
// with the region secret, the mutual HMAC-SHA256 handshake of
// edge/peerauth under the label "edgegate nodelink v1" over both ids
// (handshake.go). Then both sides send frames of transport's codec (8-byte
// header, optional TLV extensions, Protobuf payload) with the inter-node
// frame types of transport/pb/nodelink.proto (64 and up): the reader parses
// with transport.Limits.InterNode, which refuses client frame types, and
// client connections refuse inter-node types. A request carries the TLV
// extension transport.ExtRequest (its id); its reply, of any inter-node
// type or a LinkError, carries transport.ExtReply.
//
// # Decisions
//
//   - TCP, not QUIC: nodes of a region sit on a private network or VPN
//     where loss is rare, a long-lived TCP connection needs no TLS
//     certificates (authentication is the region secret, as for Raft),
//     and head-of-line blocking matters little for what the link carries:
//     live comments that a full queue drops anyway, and small control
//     messages.
//   - A separate connection from Raft's (edge/raftmux): bulk room traffic
//     (a hot room forwards megabytes per second) must never queue ahead of
//     Raft heartbeats, whose delay beyond the heartbeat timeout starts
//     elections. Separate sockets give separate kernel buffers and
//     separate writers; raftmux stays a pure Raft transport.
//   - Key: the region's Raft secret (edge.Config.RaftSecret), the one
//     secret every node of a region already shares; the label keeps the
//     two protocols' handshakes apart (neither verifies on the other's
//     port). Without a secret the link runs only with Config.Insecure
//     (edge: RaftInsecure), for tests on loopback. As for Raft, frames
//     after the handshake are neither encrypted nor integrity-protected:
//     keep the link port on the private network.
//   - Who dials: the node with the lower id (byte order) dials, the other
//     accepts and refuses a dialer whose id is not below its own, so each
//     pair has exactly one link and there is no duplicate to resolve. A
//     new link from the same peer (it restarted) replaces the old one.
//   - Queues per peer, two classes (Class): Live frames are dropped,
//     oldest first, beyond Config.QueueFrames (4096) and when the peer has
//     no link, each counted; Control frames are never dropped while the
//     link is up, and a peer that lets Config.ControlQueueFrames of them
//     pile up is disconnected instead (its next link starts from
//     snapshots, which is how the state it missed is restored). Queues
//     belong to a connection: what was queued when it broke is gone, and
//     senders resynchronise in Config.OnPeerUp.
//   - Write batching: one writer goroutine per link takes everything
//     queued (control first, up to Config.MaxWriteBytes) and writes it
//     with one syscall; reads go through a 64 KiB buffer.
//   - Reconnect: the dialer retries with exponential backoff and full
//     jitter (Config.MinBackoff to MaxBackoff) and redials after a link
//     ends; peers are added and removed by the caller (edge: from the
//     gossip member list, Meta.NodeAddr), and a removed peer is no
//     longer dialed.
//   - Bad input (a malformed, oversized or unknown frame, a payload that
//     does not decode, a bad request id) closes that link with a logged
//     reason and edgegate_nodelink_bad_input_total{reason}; it never
//     panics (FuzzReadLoop).
//   - Handlers (Link.Handle) are registered per frame type and run on the
//     link's reader goroutine, in order; Link.Request sends a request and
//     waits for the reply (LinkPing is answered by the package itself).
//     Presence homes and chat forwarding add their message types to
//     nodelink.proto and register handlers.
//
// # Metrics
//
// edgegate_nodelink_frames_total{dir,kind}, edgegate_nodelink_bytes_total{dir},
// edgegate_nodelink_dropped_frames_total{kind,reason},
// edgegate_nodelink_peers_connected, edgegate_nodelink_dial_failures_total,
// edgegate_nodelink_auth_failures_total, edgegate_nodelink_refused_total,
// edgegate_nodelink_bad_input_total{reason}, edgegate_nodelink_writes_total.
//
// It owns the link's sockets, handshake, queues and frame dispatch. It
// must not touch rooms, sessions, stores or gossip: what the messages
// mean, and which peers exist, is the caller's (edge/rooms_link.go).
//
// Lock order: Link.mu, then peer.mu, then conn.mu, then calls.mu;
// handlers and callbacks run with none held.
package nodelink
