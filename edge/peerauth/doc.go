// Package peerauth is the mutual HMAC-SHA256 challenge-response that
// authenticates the nodes of a region to each other with the region secret,
// shared by every inter-node protocol: edge/raftmux (Raft) and
// edge/nodelink (the inter-node link).
//
// Each protocol opens its connections with its own preamble (a version
// line, the dialer's identity, the dialer's nonce), which it reads and
// writes itself; this package runs what follows. With D the dialer's
// nonce, A the acceptor's and id the dialer's identity (as in its
// preamble):
//
//	acceptor -> A (32 bytes), HMAC(secret, Label+" acceptor\0" D A uvarint len(id) id)
//	dialer   -> HMAC(secret, Label+" dialer\0" D A uvarint len(id) id)
//
// The dialer checks the acceptor's MAC before answering with its own, so
// it never computes a MAC for a peer that has not proved the secret, and
// the acceptor checks the dialer's before it reads a frame. Each side's MAC
// covers a fresh nonce of its own (a recorded handshake cannot be
// replayed), a role (a MAC echoed back to its maker, a reflection, does not
// verify) and the protocol's Label: a handshake of one protocol does not
// verify on another (a Raft handshake cannot be replayed on the link, or
// the reverse), although both use the same region secret. MACs are
// compared in constant time (hmac.Equal).
//
// Why one shared secret rather than mutual TLS, and what the handshake
// does not protect (the frames after it), is written down in
// edge/raftmux's package doc.
//
// It owns the handshake's messages and MACs, and a rate limiter for the
// Warn logs of refused handshakes. It must not touch connections'
// deadlines, preambles or frames: its callers own those.
package peerauth
