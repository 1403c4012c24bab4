package raftmux

// Fault injection for tests of the region under partitions
// (edge/itest's TestRaftJepsen, through the edge's --raft-fault-injection
// and POST /v1/raft/isolate). An isolated Mux behaves as a node whose
// network to its peers went silent, not as one whose peers closed their
// connections: it sends nothing (requests wait out their timeout, as they
// would for a peer that never answers), drops every frame it reads
// (requests go unanswered, answers are lost), and does not answer empty
// AppendEntries from its cache. Connections stay open, so healing is
// immediate, as when a partition ends.

// SetIsolated cuts this node off its peers (true) or heals it (false).
func (m *Mux) SetIsolated(on bool) {
	m.isolated.Store(on)
	if on {
		m.mu.Lock()
		peers := m.peerListLocked()
		m.mu.Unlock()
		for _, p := range peers {
			p.mu.Lock()
			clear(p.appends)
			p.mu.Unlock()
		}
	}
}

// Isolated reports whether SetIsolated(true) is in force.
func (m *Mux) Isolated() bool { return m.isolated.Load() }
