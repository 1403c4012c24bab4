package edge

import (
	"net/http"

	"github.com/edgegate/edgegate/transport/pb"
)

// GET /v1/cluster/members (API key; 404 on an edge without
// --gossip-listen): the cluster as this node sees it.

// apiMember is one member of the cluster.
type apiMember struct {
	ID          string `json:"id"`
	Addr        string `json:"addr"`  // gossip address
	State       string `json:"state"` // alive, dead, left
	Region      string `json:"region,omitempty"`
	Zone        string `json:"zone,omitempty"`
	RaftAddr    string `json:"raft_addr,omitempty"`
	WSURL       string `json:"ws_url,omitempty"`    // --public-url
	QUICAddr    string `json:"quic_addr,omitempty"` // --public-quic-addr
	Connections uint32 `json:"connections"`
	Capacity    uint32 `json:"capacity"`
	Health      uint8  `json:"health"`
	Draining    bool   `json:"draining"`
	// MetaOK is false when the member's metadata did not decode: its
	// fields above are then unknown.
	MetaOK bool `json:"meta_ok"`
}

type apiMembers struct {
	Node    string      `json:"node"`
	Members []apiMember `json:"members"`
}

func (srv *Server) apiClusterMembers(w http.ResponseWriter, r *http.Request) (int, any) {
	if srv.cluster == nil {
		return http.StatusNotFound, errBody(pb.ErrorCode_ERROR_CODE_NOT_FOUND, "this edge is not in a cluster (no --gossip-listen)")
	}
	return http.StatusOK, apiMembers{Node: srv.cfg.NodeID, Members: srv.clusterMembers()}
}

// clusterMembers is the member list as this node sees it (empty without
// a cluster).
func (srv *Server) clusterMembers() []apiMember {
	out := []apiMember{}
	if srv.cluster == nil {
		return out
	}
	for _, m := range srv.cluster.Members() {
		out = append(out, apiMember{ID: m.ID, Addr: m.Addr, State: m.State.String(),
			Region: m.Meta.Region, Zone: m.Meta.Zone, RaftAddr: m.Meta.RaftAddr, WSURL: m.Meta.WSAddr, QUICAddr: m.Meta.QUICAddr,
			Connections: m.Meta.Connections, Capacity: m.Meta.Capacity, Health: m.Meta.Health,
			Draining: m.Meta.Draining, MetaOK: m.MetaOK})
	}
	return out
}
