package edge

import (
	"cmp"
	"slices"

	"github.com/edgegate/edgegate/gossip"
)

// Edge selection: which edges a client should use, best first. It serves
// GET /v1/route (api_route.go) and the drain redirect (Server.Shutdown).

const (
	// routeMinHealth is the lowest health score an edge is offered with:
	// below it the node is full, CPU-bound or its scheduler far behind
	// (see health.go).
	routeMinHealth = 20
	// routeDefaultLimit and routeMaxLimit bound the edges returned.
	routeDefaultLimit = 3
	routeMaxLimit     = 16
)

// routeEdge is one edge a client may connect to.
type routeEdge struct {
	NodeID      string `json:"node_id"`
	Region      string `json:"region,omitempty"`
	Zone        string `json:"zone,omitempty"`
	WSURL       string `json:"ws_url"`
	QUICAddr    string `json:"quic_addr,omitempty"`
	Health      uint8  `json:"health"`
	Connections uint32 `json:"connections"`
	Capacity    uint32 `json:"capacity"`
	// Fallback is set on an edge outside the requested region, offered
	// because the region has too few usable edges.
	Fallback bool `json:"fallback,omitempty"`
}

// routeCandidate is a member as edge selection sees it.
type routeCandidate struct {
	edge               routeEdge
	alive, metaOK      bool
	draining, leaving  bool
	protocolCompatible bool
}

// candidateFromMember turns a gossip member into a candidate.
func candidateFromMember(m gossip.Member) routeCandidate {
	return routeCandidate{
		edge: routeEdge{NodeID: m.ID, Region: m.Meta.Region, Zone: m.Meta.Zone, WSURL: m.Meta.WSAddr,
			QUICAddr: m.Meta.QUICAddr, Health: m.Meta.Health, Connections: m.Meta.Connections, Capacity: m.Meta.Capacity},
		alive: m.State == gossip.StateAlive, metaOK: m.MetaOK,
		draining: m.Meta.Draining, leaving: m.Meta.Leaving,
		protocolCompatible: m.Meta.ProtocolVersion == clusterProtocolVersion,
	}
}

// usable reports whether a client may be sent to c: alive with readable
// metadata of our protocol version, not draining or leaving, healthy
// enough, and advertising a WebSocket URL.
func (c routeCandidate) usable() bool {
	return c.alive && c.metaOK && c.protocolCompatible && !c.draining && !c.leaving &&
		c.edge.Health >= routeMinHealth && c.edge.WSURL != ""
}

// loadRatio is connections over capacity (0 when the capacity is unknown).
func (e routeEdge) loadRatio() float64 {
	if e.Capacity == 0 {
		return 0
	}
	return float64(e.Connections) / float64(e.Capacity)
}

// rankEdges returns the usable candidates, except the node named exclude,
// best first, at most limit: edges of region first (all edges are equal
// when region is empty; others are marked Fallback), then higher health,
// then lower load ratio, then node id (a stable order for equal edges).
func rankEdges(cands []routeCandidate, region, exclude string, limit int) []routeEdge {
	out := make([]routeEdge, 0, len(cands))
	for _, c := range cands {
		if !c.usable() || c.edge.NodeID == exclude {
			continue
		}
		e := c.edge
		e.Fallback = region != "" && e.Region != region
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b routeEdge) int {
		if a.Fallback != b.Fallback {
			if a.Fallback {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(b.Health, a.Health), cmp.Compare(a.loadRatio(), b.loadRatio()),
			cmp.Compare(a.NodeID, b.NodeID))
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// routeCandidates lists the edges this node knows: the cluster's members
// as it sees them, or this node alone without a cluster. selfURL stands
// for this node's WebSocket URL when it advertises none (Config.PublicURL
// unset): the URL the asking client reached it at ("" for none).
func (srv *Server) routeCandidates(selfURL string) []routeCandidate {
	if srv.cluster == nil {
		h := srv.health.current(srv.draining.Load())
		return []routeCandidate{{
			edge: routeEdge{NodeID: srv.cfg.NodeID, Region: srv.cfg.Region, Zone: srv.cfg.Zone,
				WSURL: cmp.Or(srv.cfg.PublicURL, selfURL), QUICAddr: srv.cfg.PublicQUICAddr, Health: uint8(h.Score),
				Connections: uint32(max(srv.conns.Load(), 0)), Capacity: uint32(srv.cfg.MaxConnections)},
			alive: true, metaOK: true, draining: srv.draining.Load(), protocolCompatible: true,
		}}
	}
	members := srv.cluster.Members()
	out := make([]routeCandidate, 0, len(members))
	for _, m := range members {
		c := candidateFromMember(m)
		if m.ID == srv.cfg.NodeID && c.edge.WSURL == "" {
			c.edge.WSURL = selfURL
		}
		out = append(out, c)
	}
	return out
}

// drainRedirectURLs are the URLs a draining node sends its clients: the
// WebSocket URLs of the best usable peers (this node's region first),
// then Config.DrainRedirectURLs as a fallback; empty when neither exists
// (clients then reconnect to the URL they had).
func (srv *Server) drainRedirectURLs() []string {
	var urls []string
	if srv.cluster != nil {
		for _, e := range rankEdges(srv.routeCandidates(""), srv.cfg.Region, srv.cfg.NodeID, routeDefaultLimit) {
			urls = append(urls, e.WSURL)
		}
	}
	for _, u := range srv.cfg.DrainRedirectURLs {
		if !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	return urls
}
