package raftmux

// Stats are a Mux's counters since Listen.
type Stats struct {
	// CachedAppends counts empty AppendEntries answered from the cache
	// (cache.go).
	CachedAppends uint64
	// CommitNotices counts commit notices sent to followers (commit.go).
	CommitNotices uint64
	// RefusedConns counts inbound connections refused before their first
	// frame (auth.go): a wrong or missing region secret, a preamble of an
	// older version while this node has a secret, garbage, or no
	// handshake within Options.Timeout. A connection closed before its
	// first byte (a port probe) is not counted.
	RefusedConns uint64
	// PeerAuthFailures counts outbound connections dropped because the
	// peer's answer to the handshake did not prove the region secret.
	PeerAuthFailures uint64
}

// Stats returns the Mux's counters.
func (m *Mux) Stats() Stats {
	return Stats{CachedAppends: m.cachedAppends.Load(), CommitNotices: m.commitNotices.Load(), RefusedConns: m.refused.Load(), PeerAuthFailures: m.peerAuthFailures.Load()}
}
