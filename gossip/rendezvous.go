package gossip

// Rendezvous placement (highest random weight): a key's owner among a set of
// nodes is the node whose hash of (node, key) is highest. It is used for
// presence homes (edge/presence_*.go) and, through RendezvousWeight, for
// the replicas of Raft groups (edge/raftgroup.PlaceInZones).
//
// Why rendezvous rather than a hash ring: it needs no ring state (no virtual
// nodes to build, store or agree on) and only the member list, which every
// node already has from gossip; and when a node joins or leaves, only the
// keys it wins or owned move (1/n of them on average), every other key
// keeps its owner. The cost, O(nodes) hashes per lookup, is nothing for a
// region of a few to a few dozen edges.

// RendezvousWeight is the rendezvous weight of key on node, the same in
// every process (no random seed): FNV-1a over node, a separator and key,
// then a 64-bit finaliser (SplitMix64) so that nodes with similar ids do
// not get correlated weights. The highest weight owns the key.
func RendezvousWeight(node, key string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(node); i++ {
		h = (h ^ uint64(node[i])) * prime
	}
	h = (h ^ 0xff) * prime
	for i := 0; i < len(key); i++ {
		h = (h ^ uint64(key[i])) * prime
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// Rendezvous returns the node of nodes that owns key by highest random
// weight ("" when nodes is empty). Ties, which need a 64-bit collision,
// go to the lower id, so the answer does not depend on the order of nodes.
func Rendezvous(key string, nodes []string) string {
	best, bestW := "", uint64(0)
	for _, n := range nodes {
		w := RendezvousWeight(n, key)
		if best == "" || w > bestW || (w == bestW && n < best) {
			best, bestW = n, w
		}
	}
	return best
}

// HomeCandidates returns the ids of the members that can be a presence
// home: alive, with decoded metadata that names an inter-node link address
// (Meta.NodeAddr), and neither leaving nor draining (a draining node is
// about to go: homing users there would only move them twice).
func HomeCandidates(members []Member) []string {
	out := make([]string, 0, len(members))
	for _, m := range members {
		if m.State == StateAlive && m.MetaOK && m.Meta.NodeAddr != "" && !m.Meta.Leaving && !m.Meta.Draining {
			out = append(out, m.ID)
		}
	}
	return out
}
