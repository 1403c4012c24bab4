package raftgroup

import (
	"encoding/binary"
	"slices"
	"strings"

	"github.com/edgegate/edgegate/gossip"
)

// Place returns group's desired replicas among candidates (node ids):
// the replicas nodes with the highest rendezvous score for the group,
// best first (all of them, ranked, when there are no more than replicas).
// Every node computes the same answer from the same candidates, whatever
// their order.
//
// Rendezvous (highest random weight) hashing rather than a ring: a
// group's set depends on the group and the candidates only, with no
// state to share or keep; a node that joins takes a place only in the
// groups where it ranks in the top replicas (about replicas/n of them),
// and a node that goes away frees only its own places, each taken by the
// next node in that group's ranking, so membership changes move the
// minimum of replicas; and top-N distinct nodes is just the N highest
// scores, where a ring needs virtual nodes for balance and a walk that
// skips repeats.
func Place(group uint32, candidates []string, replicas int) []string {
	return PlaceInZones(group, candidates, nil, replicas)
}

// PlaceInZones is Place spreading the replicas over zones: going down the
// group's ranking, it first takes the best-ranked node of each zone not
// taken yet, then fills the remaining places in ranking order, so a group
// has replicas in min(replicas, zones) zones and losing a zone costs it
// as few replicas as the region allows. zone may be nil (no zones: Place).
func PlaceInZones(group uint32, candidates []string, zone func(id string) string, replicas int) []string {
	type ranked struct {
		id    string
		score uint64
	}
	rs := make([]ranked, 0, len(candidates))
	for _, id := range candidates {
		if !slices.ContainsFunc(rs, func(r ranked) bool { return r.id == id }) {
			rs = append(rs, ranked{id, score(group, id)})
		}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, 0, min(replicas, len(rs)))
	if zone != nil {
		zones := map[string]bool{}
		for _, r := range rs {
			if z := zone(r.id); len(out) < replicas && !zones[z] {
				zones[z] = true
				out = append(out, r.id)
			}
		}
	}
	for _, r := range rs {
		if len(out) < replicas && !slices.Contains(out, r.id) {
			out = append(out, r.id)
		}
	}
	return out
}

// score is the rendezvous weight of node id for group: the cluster's one
// rendezvous hash (gossip.RendezvousWeight, also used for presence homes)
// of the id and the group as 4 big-endian bytes. Stable across nodes and
// versions.
func score(group uint32, id string) uint64 {
	var key [4]byte
	binary.BigEndian.PutUint32(key[:], group)
	return gossip.RendezvousWeight(id, string(key[:]))
}
