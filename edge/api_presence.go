package edge

import (
	"net/http"
	"sort"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport/pb"
)

// The node directory (API key required):
//
//	GET /v1/presence/users/{user}  where user is connected, cluster-wide:
//	    {"user", "online", "devices", "home", "nodes": [{"node", "devices"}]},
//	    asked of the user's presence home (503 when the home does not answer)
//	GET /v1/directory/rooms/{room} which nodes have viewers of room:
//	    {"room", "viewers", "nodes": [{"node", "viewers"}]}, this node's
//	    viewers now and the others' as their room interest last told
//	    (rooms_link.go; viewer counts at most a second old)

// nodeDevices is one node's device count in the presence API.
type nodeDevices struct {
	Node    string `json:"node"`
	Devices uint32 `json:"devices"`
}

// nodeViewers is one node's viewer count in the room directory.
type nodeViewers struct {
	Node    string `json:"node"`
	Viewers uint64 `json:"viewers"`
}

func (srv *Server) apiUserPresence(w http.ResponseWriter, r *http.Request) (int, any) {
	user := r.PathValue("user")
	if !auth.ValidID(user) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid user id")
	}
	locs, err := srv.presence.locate(r.Context(), []string{user})
	if err != nil {
		return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, err.Error())
	}
	nodes := make([]nodeDevices, 0, len(locs[0].GetNodes()))
	devices := uint32(0)
	for _, n := range locs[0].GetNodes() {
		nodes = append(nodes, nodeDevices{Node: n.GetNode(), Devices: n.GetDevices()})
		devices += n.GetDevices()
	}
	return http.StatusOK, map[string]any{"user": user, "online": devices > 0, "devices": devices,
		"home": srv.presence.homeOf(user), "nodes": nodes}
}

func (srv *Server) apiRoomDirectory(w http.ResponseWriter, r *http.Request) (int, any) {
	room := r.PathValue("room")
	if !auth.ValidID(room) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid room id")
	}
	nodes := []nodeViewers{}
	total := uint64(0)
	if n := srv.rooms.viewerCount(room); n > 0 {
		nodes = append(nodes, nodeViewers{Node: srv.cfg.NodeID, Viewers: n})
		total += n
	}
	for node, n := range srv.link.remoteViewersByNode(room) {
		nodes = append(nodes, nodeViewers{Node: node, Viewers: n})
		total += n
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Node < nodes[j].Node })
	return http.StatusOK, map[string]any{"room": room, "viewers": total, "nodes": nodes}
}
