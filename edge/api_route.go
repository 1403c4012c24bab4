package edge

import (
	"net/http"
	"strconv"

	"golang.org/x/time/rate"

	"github.com/edgegate/edgegate/edge/limits"
	"github.com/edgegate/edgegate/transport/pb"
)

// GET /v1/route?region=R&limit=N: the best edges for a client, best first
// (rankEdges): {"edges": [{"node_id", "region", "zone", "ws_url",
// "quic_addr", "health", "connections", "capacity", "fallback"}]}.
//
// It needs no API key: clients call it before they connect, and hold a
// user token at most, not the backend's key. What it shows is what a
// client may use anyway (the edges' public addresses) plus their load and
// health. It is rate-limited per client IP instead (routeRatePerIP, burst
// routeBurstPerIP; off when Config.ConnRatePerIP is negative, as the
// connection limit is), answering 429 beyond. Bad parameters get 400, no
// usable edge 503; both with a JSON error body.

const (
	routeRatePerIP  = 10
	routeBurstPerIP = 40
	// maxRegionLen bounds ?region= (region names are short labels).
	maxRegionLen = 64
)

type routeResponse struct {
	Edges []routeEdge `json:"edges"`
}

// routeHandler builds the handler with its own per-IP limiter.
func (srv *Server) routeHandler() http.HandlerFunc {
	r := rate.Limit(routeRatePerIP)
	if srv.cfg.ConnRatePerIP < 0 {
		r = rate.Inf
	}
	lim := limits.NewKeyedLimiter(r, routeBurstPerIP, limits.DefaultMaxKeys)
	const route = "GET /v1/route"
	return func(w http.ResponseWriter, r *http.Request) {
		status, body := srv.apiRoute(r, lim)
		srv.m.apiRequests.WithLabelValues(route, strconv.Itoa(status)).Inc()
		switch status {
		case http.StatusTooManyRequests:
			w.Header().Set("Retry-After", "1")
		case http.StatusServiceUnavailable:
			w.Header().Set("Retry-After", "5")
		}
		// Public data, fetched by browsers before they connect.
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Cache-Control", "no-store")
		writeJSON(w, status, body)
	}
}

func (srv *Server) apiRoute(r *http.Request, lim *limits.KeyedLimiter) (int, any) {
	if !lim.Allow(clientIP(r)) {
		return http.StatusTooManyRequests, errBody(pb.ErrorCode_ERROR_CODE_RATE_LIMITED, "too many route requests from this address")
	}
	q := r.URL.Query()
	region := q.Get("region")
	if !validRegion(region) {
		return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST,
			"region must be at most 64 letters, digits, '.', '_' or '-'")
	}
	limit := routeDefaultLimit
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > routeMaxLimit {
			return http.StatusBadRequest, errBody(pb.ErrorCode_ERROR_CODE_BAD_REQUEST, "limit must be 1-16")
		}
		limit = n
	}
	edges := rankEdges(srv.routeCandidates(requestWSURL(r)), region, "", limit)
	if len(edges) == 0 {
		return http.StatusServiceUnavailable, errBody(pb.ErrorCode_ERROR_CODE_UNAVAILABLE, "no healthy edge")
	}
	return http.StatusOK, routeResponse{Edges: edges}
}

// validRegion accepts an empty region (no preference) or a short label.
func validRegion(s string) bool {
	if len(s) > maxRegionLen {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// requestWSURL is the WebSocket URL of this node as the request reached
// it (the Host it asked for), for a node that advertises none.
func requestWSURL(r *http.Request) string {
	if r.Host == "" {
		return ""
	}
	scheme := "ws"
	if r.TLS != nil {
		scheme = "wss"
	}
	return scheme + "://" + r.Host + wsPath
}
