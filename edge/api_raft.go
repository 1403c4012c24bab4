package edge

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/edgegate/edgegate/transport/pb"
)

// The Raft admin routes (API key; 404 on an edge without --raft-listen):
//
//	GET  /v1/raft/groups   every group's replica on this node; ?hash=1 adds
//	                       each replica's state hash (reads the whole group)
//	POST /v1/raft/isolate  {"isolated": true|false}: fault injection, only
//	                       with --raft-fault-injection

// apiRaftGroup is one group's replica on this node.
type apiRaftGroup struct {
	Group     uint32 `json:"group"`
	State     string `json:"state"`            // Leader, Follower, Candidate, Shutdown
	Leader    string `json:"leader,omitempty"` // node id, empty while unknown
	Term      uint64 `json:"term"`
	Applied   uint64 `json:"applied"`    // last entry applied to the store
	LastIndex uint64 `json:"last_index"` // last entry in the Raft log
	Commit    uint64 `json:"commit"`
	// StateHash (with ?hash=1): FNV-64a of the replica's group state
	// (applied index and every message), hex; replicas that applied the
	// same entries have the same hash.
	StateHash string `json:"state_hash,omitempty"`
}

type apiRaftGroups struct {
	Node     string         `json:"node"`
	Isolated bool           `json:"isolated"`
	Groups   []apiRaftGroup `json:"groups"`
}

func (srv *Server) raftDisabled() (int, any) {
	return http.StatusNotFound, errBody(pb.ErrorCode_ERROR_CODE_NOT_FOUND, "this edge does not replicate with Raft (no --raft-listen)")
}

func (srv *Server) apiRaftGroups(w http.ResponseWriter, r *http.Request) (int, any) {
	if srv.repl == nil {
		return srv.raftDisabled()
	}
	withHash, _ := strconv.ParseBool(r.URL.Query().Get("hash"))
	out := apiRaftGroups{Node: srv.cfg.NodeID, Isolated: srv.repl.mux.Isolated()}
	for _, st := range srv.repl.node.Status() {
		g := apiRaftGroup{Group: st.Group, State: st.State, Leader: st.Leader, Term: st.Term,
			Applied: st.Applied, LastIndex: st.LastIndex, Commit: st.Commit}
		if withHash {
			applied, h, err := srv.repl.node.StateHash(st.Group)
			if err != nil {
				return http.StatusInternalServerError, errBody(pb.ErrorCode_ERROR_CODE_INTERNAL, err.Error())
			}
			g.Applied, g.StateHash = applied, strconv.FormatUint(h, 16)
		}
		out.Groups = append(out.Groups, g)
	}
	return http.StatusOK, out
}

func (srv *Server) apiRaftIsolate(w http.ResponseWriter, r *http.Request) (int, any) {
	if srv.repl == nil {
		return srv.raftDisabled()
	}
	if !srv.cfg.RaftFaultInjection {
		return http.StatusForbidden, errBody(pb.ErrorCode_ERROR_CODE_FORBIDDEN, "fault injection is off (--raft-fault-injection)")
	}
	var req struct {
		Isolated *bool `json:"isolated"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1024)).Decode(&req); err != nil || req.Isolated == nil {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, `body must be {"isolated": true|false}`)
	}
	srv.repl.mux.SetIsolated(*req.Isolated)
	srv.log.Warn("edge: raft fault injection", "isolated", *req.Isolated)
	return http.StatusOK, map[string]bool{"isolated": *req.Isolated}
}
