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
//     QUIC modes.
//
// # quic-fec design
//
// Every frame gets a connection sequence number and goes out at once as a
// datagram (seq + frame as the FEC payload); parity follows when the
// group fills or its 10 ms flush timer fires, paced 1 ms apart because
// quic-go packs datagrams queued together into one packet, whose loss
// would take a group's parity with it. Frames too large for a datagram
// go on the control stream. The receiver rebuilds what it can, puts
// frames back in sequence order and drops repeats, so ReadFrame keeps the
// Conn contract of the other modes: every frame once, in order. We keep
// order here rather than in the session layer because everything above
// (handshake, acks after sends, per-conversation sequences) assumes an
// ordered frame stream, and a frame lost beyond FEC's reach is rare (the
// parity adapts to the loss the receiver reports).
//
// The control stream (reliable) carries: cumulative acks (received,
// read by the application = flow control window, highest seen), NACKs
// of the FEC packets the decoder gave up on (GroupTimeout after the
// group's first packet), which the sender answers by sending those frames
// again on the stream, and timeout retransmission of a lost tail (frames
// after the highest the receiver saw: nothing else would report them).
// Loss feedback for adaptive parity travels as FEC feedback datagrams.
// Close waits until the peer acknowledged every frame (a Redirect
// written just before Close arrives), then FIN, then CONNECTION_CLOSE
// with the code, like quic-stream.
//
// It must not touch: users, sessions, conversations, rooms or storage. It
// knows frames, not what they mean; edge/ composes it.
package transport
