package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Edge is one edge offered by an edge's GET /v1/route.
type Edge struct {
	NodeID   string `json:"node_id"`
	Region   string `json:"region"`
	Zone     string `json:"zone"`
	WSURL    string `json:"ws_url"`    // ws:// or wss:// URL for Config.URL
	QUICAddr string `json:"quic_addr"` // host:port, "" without QUIC
	// Health is the edge's score, 0-100 (edges below 20 are not offered).
	Health      int `json:"health"`
	Connections int `json:"connections"`
	Capacity    int `json:"capacity"`
	// Fallback is set on an edge outside the requested region.
	Fallback bool `json:"fallback"`
}

// ErrNoEdge is returned by Route when the edge knows no usable edge
// (HTTP 503).
var ErrNoEdge = errors.New("client: no healthy edge")

// Route asks the edge at base (http:// or https://host:port, any edge of
// the cluster) which edges to use for region ("" for any), best first.
// It needs no API key. hc nil means http.DefaultClient. Typical use:
// Config.URL = edges[0].WSURL, trying the next ones if it fails.
func Route(ctx context.Context, hc *http.Client, base, region string) ([]Edge, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	u := strings.TrimSuffix(base, "/") + "/v1/route"
	if region != "" {
		u += "?region=" + url.QueryEscape(region)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("client: route: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: route: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Edges []Edge `json:"edges"`
		Error string `json:"error"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil {
		return nil, fmt.Errorf("client: route: HTTP %d: %w", resp.StatusCode, err)
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		return nil, ErrNoEdge
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("client: route: HTTP %d: %s", resp.StatusCode, body.Error)
	case len(body.Edges) == 0:
		return nil, ErrNoEdge
	}
	return body.Edges, nil
}
