// Package transport turns a client link into one message-oriented Conn that
// carries edgegate frames: an 8-byte header (version, type, flags, length),
// optional TLV extensions and a Protobuf payload (schema in
// pb/edgegate.proto, described in docs/PROTOCOL.md).
//
// It owns: the frame codec, payload compression (S2 or zstd, negotiated at
// connect), the Conn interface and its three implementations, close codes:
//
//   - "ws": WebSocket (gorilla/websocket), the default; passes every proxy.
//   - "quic-stream": frames on one reliable QUIC stream (quic-go), ALPN
//     edgegate/1.
//   - "quic-fec": frames in QUIC datagrams (RFC 9221) protected by the fec
//     package, ALPN edgegate-fec/1 (quicfec*.go). One listener serves both
//     QUIC modes (and tells them apart by ALPN).
//
// # quic-fec design
//
// Every frame gets a connection sequence number and goes out at once as a
// datagram (seq + frame as the FEC payload). Parity follows when the group
// fills or its flush timer fires. The receiver rebuilds what it can, puts
// frames back in sequence order and drops repeats, so ReadFrame keeps the
// Conn contract of the other modes: every frame once, in order. We keep
// order here rather than in the session layer because everything above
// (handshake, acks after sends, per-conversation sequences) assumes an
// ordered frame stream, and a frame lost beyond FEC's reach is rare.
//
// Decisions, each from a measurement with edgebench lossy (see
// bench/README.md):
//
//   - Loss is measured from QUIC's own counters (packets lost / sent, by
//     QUIC's acknowledgements), sampled every 500 ms and smoothed, not
//     from fec decoder feedback: chat is sparse, so most groups hold one
//     data packet, and the decoder cannot tell the size of a group whose
//     parity was all lost; its estimate ran far too high. Nothing needs to
//     be sent for it either. A connection starts at a 5% prior
//     (QUICConfig.FECInitialLoss): clients come here because their link
//     is lossy.
//   - Parity fits the group: fec sizes a group flushed early for its
//     actual k (one packet at 5% loss gets 2 copies, not the 4 a group of
//     8 needs). Below 0.2% loss frames go as bare datagrams with no FEC;
//     a rare loss is then NACKed by seq.
//   - Every datagram is paced 1 ms apart, data before parity: quic-go
//     packs datagrams queued together into one QUIC packet, and the loss
//     of that packet was a burst (several data packets of one group)
//     that parity sized for independent loss could not absorb.
//   - The flush interval is an eighth of the RTT (5 to 60 ms; parity
//     goes out when its group is due) and the decoder's group timeout
//     follows it (at least 80 ms): on a long path a lost packet may wait
//     a little longer for parity, and fuller groups save packets where
//     QUIC's congestion window (which datagrams count against, and which
//     shrinks with loss) is smallest. At 10% loss and 200 ms RTT that
//     window is still too small for the parity: the known limit of
//     carrying FEC inside QUIC (quic-go's congestion controller cannot be
//     changed).
//   - Frames too large for a datagram go on the control stream; the
//     edge sizes its Deliver batches to fit (FrameSizer).
//
// The control stream (reliable) carries: acks every 100 ms (received,
// read by the application = flow control window, highest seen), NACKs of
// the FEC packets the decoder gave up on and of frames missing by seq,
// which the sender answers by sending those frames on the stream, and
// timeout retransmission of a lost tail (frames after the highest the
// receiver saw). Close waits until the peer acknowledged every frame (a
// Redirect written just before Close arrives), then FIN, then
// CONNECTION_CLOSE with the code, like quic-stream.
//
// It must not touch: users, sessions, conversations, rooms or storage. It
// knows frames, not what they mean; edge/ composes it.
package transport
