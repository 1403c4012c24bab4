// Package fec will hold the forward error correction codec (Reed-Solomon
// groups over datagrams, interleaving, adaptive parity, NACK fallback), built
// in the weak-network issue. It is independent of QUIC and must not know about
// sessions, users or frames' meaning.
package fec
