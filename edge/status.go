package edge

import (
	"net/http"
	"time"

	"github.com/edgegate/edgegate/edge/webui"
)

// statusReport is the JSON of GET /v1/status, read from the same registry
// as /metrics (so the status page and Prometheus never disagree). Counters
// are totals; the page derives rates from successive polls.
type statusReport struct {
	NodeID           string             `json:"node_id"`
	Dev              bool               `json:"dev"`
	Draining         bool               `json:"draining"`
	UptimeS          float64            `json:"uptime_s"`
	Connections      map[string]float64 `json:"connections"`
	MaxConnections   int                `json:"max_connections"`
	ConnectionsTotal float64            `json:"connections_total"`
	FramesInTotal    float64            `json:"frames_in_total"`
	FramesOutTotal   float64            `json:"frames_out_total"`
	OrderedTotal     float64            `json:"ordered_messages_total"`
	DeliveredTotal   map[string]float64 `json:"delivered_total"`
	LiveComments     float64            `json:"live_comments_total"`
	LiveDropped      float64            `json:"live_dropped_total"`
	SlowClosed       float64            `json:"slow_consumers_closed_total"`
	Rooms            float64            `json:"rooms"`
	RoomViewers      float64            `json:"room_viewers"`
	RSSBytes         float64            `json:"rss_bytes"`
	Health           health             `json:"health"`
	// Nodes are the cluster's members as this node sees them (their
	// gossiped connections, health and draining flag, refreshed every
	// few seconds); without a cluster, this node alone.
	Nodes []apiMember `json:"nodes"`
}

// status gathers the report from the metrics registry.
func (srv *Server) status() (statusReport, error) {
	g, err := gather(srv.m.reg)
	if err != nil {
		return statusReport{}, err
	}
	byLabel, total := g.byLabel, g.total
	r := statusReport{
		NodeID:           srv.cfg.NodeID,
		Dev:              srv.cfg.Dev,
		Draining:         srv.draining.Load(),
		UptimeS:          time.Since(srv.started).Seconds(),
		Connections:      byLabel("edgegate_connections", "transport"),
		MaxConnections:   srv.cfg.MaxConnections,
		ConnectionsTotal: total("edgegate_connections_total"),
		FramesInTotal:    total("edgegate_frames_in_total"),
		FramesOutTotal:   total("edgegate_frames_out_total"),
		OrderedTotal:     total("edgegate_ordered_messages_total"),
		DeliveredTotal:   byLabel("edgegate_delivered_messages_total", "class"),
		LiveComments:     total("edgegate_live_comments_total"),
		LiveDropped:      total("edgegate_live_dropped_total"),
		SlowClosed:       total("edgegate_slow_consumers_closed_total"),
		Rooms:            total("edgegate_rooms"),
		RoomViewers:      total("edgegate_room_viewers"),
		RSSBytes:         total("process_resident_memory_bytes"),
	}
	if r.Connections["ws"] == 0 {
		r.Connections["ws"] = 0
	}
	r.Health = srv.health.current(r.Draining)
	if r.Nodes = srv.clusterMembers(); len(r.Nodes) == 0 {
		r.Nodes = []apiMember{{ID: srv.cfg.NodeID, State: "alive", Region: srv.cfg.Region, Zone: srv.cfg.Zone,
			WSURL: srv.cfg.PublicURL, Connections: uint32(max(srv.conns.Load(), 0)), Capacity: uint32(srv.cfg.MaxConnections),
			Health: uint8(r.Health.Score), Draining: r.Draining, MetaOK: true}}
	}
	return r, nil
}

// statusRoutes serves the operator status page and its JSON. Outside dev
// mode both need the API key (Bearer, X-API-Key, or HTTP Basic with the
// key as password so a browser can log in).
func (srv *Server) statusRoutes(mux *http.ServeMux) {
	guard := func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !srv.cfg.Dev {
				if status, body := srv.apiAuth(r); status != 0 {
					if status == http.StatusUnauthorized {
						w.Header().Set("WWW-Authenticate", `Basic realm="edgegate status", charset="UTF-8"`)
					}
					writeJSON(w, status, body)
					return
				}
			}
			h.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /status", guard(webui.FileHandler("status.html", "text/html; charset=utf-8")))
	mux.Handle("GET /status.js", guard(webui.FileHandler("status.js", "text/javascript; charset=utf-8")))
	mux.Handle("GET /v1/status", guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rep, err := srv.status()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, rep)
	})))
}
