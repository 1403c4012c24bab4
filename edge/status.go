package edge

import (
	"fmt"
	"math"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"

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
}

// health is a 0-100 score of how well this node can take more clients,
// with the reasons for every point taken off. The cluster issue gossips it
// to choose edges; for now it is shown on the status page.
type health struct {
	Score   int      `json:"score"`
	Reasons []string `json:"reasons"`
}

// status gathers the report from the metrics registry.
func (srv *Server) status() (statusReport, error) {
	mfs, err := srv.m.reg.Gather()
	if err != nil {
		return statusReport{}, err
	}
	byName := make(map[string]*dto.MetricFamily, len(mfs))
	for _, mf := range mfs {
		byName[mf.GetName()] = mf
	}
	// byLabel sums a family's values per value of label (all under "" when
	// label is empty).
	byLabel := func(name, label string) map[string]float64 {
		out := map[string]float64{}
		mf := byName[name]
		if mf == nil {
			return out
		}
		for _, m := range mf.GetMetric() {
			key := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					key = lp.GetValue()
				}
			}
			switch {
			case m.Counter != nil:
				out[key] += m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[key] += m.GetGauge().GetValue()
			}
		}
		return out
	}
	total := func(name string) float64 { return byLabel(name, "")[""] }
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
	var conns float64
	for _, v := range r.Connections {
		conns += v
	}
	r.Health = scoreHealth(r.Draining, conns, float64(srv.cfg.MaxConnections))
	return r, nil
}

// scoreHealth scores a node: 0 when draining; above 70% of the connection
// cap, points go off linearly down to 10 at the cap.
func scoreHealth(draining bool, conns, maxConns float64) health {
	h := health{Score: 100, Reasons: []string{}}
	if draining {
		return health{Score: 0, Reasons: []string{"draining"}}
	}
	if maxConns > 0 {
		if use := conns / maxConns; use > 0.7 {
			h.Score = max(10, int(math.Round(100-(use-0.7)/0.3*90)))
			h.Reasons = append(h.Reasons, fmt.Sprintf("connections at %.0f%% of the cap", 100*use))
		}
	}
	return h
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
