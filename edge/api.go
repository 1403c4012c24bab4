package edge

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport/pb"
)

// The backend HTTP API. Every route needs an API key (Authorization:
// Bearer KEY or X-API-Key: KEY). Bodies are JSON; message bodies are
// given either as "body" (UTF-8 text) or "body_base64" (bytes).
//
//	POST /v1/conversations/{conv}/messages  publish (ordered, acked after fsync)
//	GET  /v1/conversations/{conv}/messages  history: ?before=SEQ|after=SEQ&limit=N
//	GET  /v1/conversations/{conv}/presence  users subscribed on this node
//	POST /v1/rooms/{room}/messages          broadcast a live comment
//	GET  /v1/rooms/{room}/presence          viewers on this node (and cluster_viewers: on every node, with --node-listen)
//	POST /v1/users/{user}/disconnect        close all sessions of a user
//	GET  /v1/raft/groups, POST /v1/raft/isolate: see api_raft.go
//	GET  /v1/cluster/members: see api_cluster.go
//	GET  /v1/presence/users/{user}, GET /v1/directory/rooms/{room}: see api_presence.go
//	GET  /v1/route (no API key): see api_route.go

// apiMessage is a message as the HTTP API shows it.
type apiMessage struct {
	Conversation string `json:"conversation,omitempty"`
	Room         string `json:"room,omitempty"`
	Seq          uint64 `json:"seq"`
	Sender       string `json:"sender"`
	SenderDevice string `json:"sender_device,omitempty"`
	ServerTimeMs int64  `json:"server_time_ms"`
	ClientMsgID  string `json:"client_msg_id,omitempty"`
	Body         string `json:"body,omitempty"`
	BodyBase64   string `json:"body_base64,omitempty"`
}

type publishRequest struct {
	Sender      string `json:"sender"`
	ClientMsgID string `json:"client_msg_id"`
	Body        string `json:"body"`
	BodyBase64  string `json:"body_base64"`
}

type apiError struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (srv *Server) apiRoutes(mux *http.ServeMux) {
	h := func(route string, f func(w http.ResponseWriter, r *http.Request) (int, any)) {
		mux.HandleFunc(route, func(w http.ResponseWriter, r *http.Request) {
			status, body := srv.apiAuth(r)
			if status == 0 {
				status, body = f(w, r)
			}
			srv.m.apiRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
			writeJSON(w, status, body)
		})
	}
	h("POST /v1/conversations/{conv}/messages", srv.apiPublish)
	h("GET /v1/conversations/{conv}/messages", srv.apiHistory)
	h("GET /v1/conversations/{conv}/presence", srv.apiConvPresence)
	h("POST /v1/rooms/{room}/messages", srv.apiRoomPublish)
	h("GET /v1/rooms/{room}/presence", srv.apiRoomPresence)
	h("POST /v1/users/{user}/disconnect", srv.apiDisconnect)
	h("GET /v1/raft/groups", srv.apiRaftGroups)
	h("POST /v1/raft/isolate", srv.apiRaftIsolate)
	h("GET /v1/cluster/members", srv.apiClusterMembers)
	h("GET /v1/presence/users/{user}", srv.apiUserPresence)
	h("GET /v1/directory/rooms/{room}", srv.apiRoomDirectory)
	// Public (no API key), rate-limited per IP: see api_route.go.
	mux.HandleFunc("GET /v1/route", srv.routeHandler())
}

func errBody(code pb.ErrorCode, msg string) apiError {
	return apiError{Error: msg, Code: code.String()}
}

// apiAuth checks the API key; status 0 means authorised.
func (srv *Server) apiAuth(r *http.Request) (int, any) {
	if len(srv.cfg.APIKeys) == 0 {
		return http.StatusNotFound, errBody(pb.ErrorCode_ERROR_CODE_NOT_FOUND, "backend API disabled: no API key configured")
	}
	if !auth.CheckAPIKey(auth.APIKeyFromRequest(r), srv.cfg.APIKeys) {
		return http.StatusUnauthorized, errBody(pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, "missing or invalid API key")
	}
	return 0, nil
}

// readPublish decodes and validates a publish body.
func (srv *Server) readPublish(r *http.Request) (publishRequest, []byte, int, any) {
	var req publishRequest
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, int64(srv.cfg.MaxMessageBytes)*2+4096))
	if err := dec.Decode(&req); err != nil {
		return req, nil, http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid JSON body: "+err.Error())
	}
	body := []byte(req.Body)
	if req.BodyBase64 != "" {
		b, err := base64.StdEncoding.DecodeString(req.BodyBase64)
		if err != nil {
			return req, nil, http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid body_base64")
		}
		body = b
	}
	if len(body) > srv.cfg.MaxMessageBytes {
		return req, nil, http.StatusRequestEntityTooLarge, errBody(pb.ErrorCode_ERROR_CODE_TOO_LARGE, "message body too large")
	}
	if req.Sender == "" {
		req.Sender = "system"
	}
	if !auth.ValidID(req.Sender) {
		return req, nil, http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid sender id")
	}
	if len(req.ClientMsgID) > maxClientMsgID {
		return req, nil, http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "client_msg_id too long")
	}
	return req, body, 0, nil
}

func (srv *Server) apiPublish(w http.ResponseWriter, r *http.Request) (int, any) {
	conv := r.PathValue("conv")
	if !auth.ValidID(conv) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid conversation id")
	}
	req, body, status, eb := srv.readPublish(r)
	if status != 0 {
		return status, eb
	}
	if req.ClientMsgID == "" {
		req.ClientMsgID = "api-" + newSessionID()
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	ack, err := srv.appendOrdered(ctx, ordering.Request{Conv: conv, Sender: req.Sender, SenderDevice: "api", ClientMsgID: req.ClientMsgID, Body: body})
	if err != nil {
		if errors.Is(err, ordering.ErrOverloaded) {
			return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_OVERLOADED, err.Error())
		}
		return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, err.Error())
	}
	return http.StatusOK, map[string]any{"conversation": conv, "seq": ack.Seq, "server_time_ms": ack.ServerTimeMs, "duplicate": ack.Duplicate, "client_msg_id": req.ClientMsgID}
}

func (srv *Server) apiHistory(w http.ResponseWriter, r *http.Request) (int, any) {
	conv := r.PathValue("conv")
	if !auth.ValidID(conv) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid conversation id")
	}
	q := r.URL.Query()
	limit := 50
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > 1000 {
			return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "limit must be 1-1000")
		}
		limit = n
	}
	parse := func(name string) (uint64, bool, error) {
		v := q.Get(name)
		if v == "" {
			return 0, false, nil
		}
		n, err := strconv.ParseUint(v, 10, 64)
		return n, true, err
	}
	after, hasAfter, err1 := parse("after")
	before, hasBefore, err2 := parse("before")
	if err1 != nil || err2 != nil || (hasAfter && hasBefore) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "give at most one of before= and after=, as numbers")
	}
	ctx := r.Context()
	head, err := srv.ord.Head(ctx, conv)
	if err != nil {
		return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, err.Error())
	}
	if head == 0 {
		return http.StatusNotFound, errBody(pb.ErrorCode_ERROR_CODE_NOT_FOUND, "unknown conversation "+conv)
	}
	var msgs []*pb.Message
	if hasAfter {
		msgs, err = srv.ord.Read(ctx, conv, after, limit+1)
	} else {
		msgs, err = srv.ord.History(ctx, conv, before, limit+1)
	}
	if err != nil {
		return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, err.Error())
	}
	more := len(msgs) > limit
	if more {
		msgs = msgs[:limit]
	}
	out := make([]apiMessage, len(msgs))
	for i, m := range msgs {
		out[i] = toAPIMessage(m)
	}
	order := "newest_first"
	if hasAfter {
		order = "oldest_first"
	}
	return http.StatusOK, map[string]any{"conversation": conv, "head": head, "messages": out, "has_more": more, "order": order}
}

func toAPIMessage(m *pb.Message) apiMessage {
	a := apiMessage{Conversation: m.Conversation, Room: m.Room, Seq: m.Seq, Sender: m.Sender, SenderDevice: m.SenderDevice, ServerTimeMs: m.ServerTimeMs, ClientMsgID: m.ClientMsgId}
	if json.Valid([]byte(strconv.Quote(string(m.Body)))) && isText(m.Body) {
		a.Body = string(m.Body)
	} else {
		a.BodyBase64 = base64.StdEncoding.EncodeToString(m.Body)
	}
	return a
}

// isText reports valid UTF-8 without control characters other than
// whitespace, so the JSON body is readable.
func isText(b []byte) bool {
	for _, r := range string(b) {
		if r == 0xFFFD || (r < 0x20 && r != '\n' && r != '\r' && r != '\t') {
			return false
		}
	}
	return true
}

func (srv *Server) apiConvPresence(w http.ResponseWriter, r *http.Request) (int, any) {
	conv := r.PathValue("conv")
	if !auth.ValidID(conv) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid conversation id")
	}
	users := srv.router.presence(conv)
	return http.StatusOK, map[string]any{"conversation": conv, "node": srv.cfg.NodeID, "users": presenceJSON(users)}
}

func (srv *Server) apiRoomPresence(w http.ResponseWriter, r *http.Request) (int, any) {
	room := r.PathValue("room")
	if !auth.ValidID(room) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid room id")
	}
	users, viewers := srv.rooms.presence(room)
	return http.StatusOK, map[string]any{"room": room, "node": srv.cfg.NodeID, "viewers": viewers, "users": presenceJSON(users),
		"cluster_viewers": viewers + srv.link.remoteViewers(room)}
}

type presenceEntry struct {
	UserID  string `json:"user_id"`
	Devices uint32 `json:"devices"`
}

func presenceJSON(users []*pb.PresenceUser) []presenceEntry {
	out := make([]presenceEntry, len(users))
	for i, u := range users {
		out[i] = presenceEntry{UserID: u.UserId, Devices: u.Devices}
	}
	return out
}

func (srv *Server) apiRoomPublish(w http.ResponseWriter, r *http.Request) (int, any) {
	room := r.PathValue("room")
	if !auth.ValidID(room) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid room id")
	}
	req, body, status, eb := srv.readPublish(r)
	if status != 0 {
		return status, eb
	}
	seq, now := srv.rooms.publish(room, &pb.Message{Room: room, Sender: req.Sender, SenderDevice: "api", ClientMsgId: req.ClientMsgID, Body: body, Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE})
	return http.StatusOK, map[string]any{"room": room, "seq": seq, "server_time_ms": now, "viewers": srv.rooms.viewerCount(room)}
}

func (srv *Server) apiDisconnect(w http.ResponseWriter, r *http.Request) (int, any) {
	user := r.PathValue("user")
	if !auth.ValidID(user) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "invalid user id")
	}
	n := srv.disconnectUser(user, "disconnected by backend")
	return http.StatusOK, map[string]any{"user": user, "disconnected": n}
}
