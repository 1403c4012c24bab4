// Package transport turns a client link (WebSocket today; QUIC stream and
// QUIC datagrams with FEC later) into one message-oriented Conn that carries
// edgegate frames: an 8-byte header (version, type, flags, length), optional
// TLV extensions and a Protobuf payload (schema in pb/edgegate.proto,
// described in docs/PROTOCOL.md).
//
// It owns: the frame codec, payload compression (S2 or zstd, negotiated at
// connect), the Conn interface and its implementations, close codes.
//
// It must not touch: users, sessions, conversations, rooms or storage. It
// knows frames, not what they mean; edge/ composes it.
package transport
