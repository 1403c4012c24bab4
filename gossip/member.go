package gossip

import (
	"fmt"

	"github.com/hashicorp/memberlist"
)

// State is a member's state as this node sees it.
type State uint8

// Member states. Dead means the node failed probes and its suspicion timed
// out; Left means it announced its departure (Cluster.Leave) before
// stopping.
//
// There is no "suspect" state: memberlist (v0.7.0) reports no suspicion
// event, and the nodes its Members method returns are updated in place under
// its lock, so their State cannot be read without a data race. The view is
// therefore built from memberlist's join/update/leave callbacks only, and a
// suspected node stays alive in it until the suspicion resolves (refuted:
// alive; timed out: dead).
const (
	StateAlive State = iota
	StateDead
	StateLeft
)

func (s State) String() string {
	switch s {
	case StateAlive:
		return "alive"
	case StateDead:
		return "dead"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// Member is one node of the cluster as this node sees it.
type Member struct {
	// ID is the node's NodeID.
	ID string
	// Addr is the node's gossip address (host:port).
	Addr string
	// Meta is the node's metadata, valid only when MetaOK.
	Meta Meta
	// MetaOK is false when the node's metadata did not decode (a newer
	// incompatible format, corruption); the failure is counted in
	// Stats.MetaDecodeErrors. Such a member still counts for membership but
	// its addresses, load and health are unknown.
	MetaOK bool
	// State is alive, dead or left.
	State State
}

// member converts a memberlist node, decoding its metadata.
func (c *Cluster) member(n *memberlist.Node) Member {
	m := Member{ID: n.Name, Addr: n.Address(), State: StateAlive}
	if err := m.Meta.UnmarshalBinary(n.Meta); err != nil {
		c.metaErrors.Add(1)
		c.log.Debug("skipping undecodable node metadata", "node", n.Name, "err", err)
		m.Meta = Meta{}
	} else {
		m.MetaOK = true
	}
	return m
}
