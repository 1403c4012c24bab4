package edge

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func cand(id, region string, health uint8, conns, capa uint32) routeCandidate {
	return routeCandidate{edge: routeEdge{NodeID: id, Region: region, WSURL: "ws://" + id + "/v1/ws", Health: health,
		Connections: conns, Capacity: capa}, alive: true, metaOK: true, protocolCompatible: true}
}

func ids(edges []routeEdge) []string {
	out := make([]string, len(edges))
	for i, e := range edges {
		out[i] = e.NodeID
		if e.Fallback {
			out[i] += "*"
		}
	}
	return out
}

func TestRankEdges(t *testing.T) {
	draining := cand("drain", "eu", 100, 0, 100)
	draining.draining = true
	leaving := cand("leave", "eu", 100, 0, 100)
	leaving.leaving = true
	dead := cand("dead", "eu", 100, 0, 100)
	dead.alive = false
	badMeta := cand("badmeta", "eu", 100, 0, 100)
	badMeta.metaOK = false
	noURL := cand("nourl", "eu", 100, 0, 100)
	noURL.edge.WSURL = ""
	oldProto := cand("old", "eu", 100, 0, 100)
	oldProto.protocolCompatible = false
	cands := []routeCandidate{
		cand("us1", "us", 100, 0, 100),
		cand("eu-b", "eu", 90, 10, 100),
		cand("eu-a", "eu", 90, 10, 100), // same as eu-b: node id decides
		cand("eu-busy", "eu", 90, 50, 100),
		cand("eu-best", "eu", 95, 90, 100), // health before load
		cand("eu-sick", "eu", routeMinHealth-1, 0, 100),
		cand("eu-weak", "eu", routeMinHealth, 0, 100),
		draining, leaving, dead, badMeta, noURL, oldProto,
	}
	for _, tc := range []struct {
		name, region, exclude string
		limit                 int
		want                  []string
	}{
		{"region first, then fallback", "eu", "", 16, []string{"eu-best", "eu-a", "eu-b", "eu-busy", "eu-weak", "us1*"}},
		{"limit", "eu", "", 3, []string{"eu-best", "eu-a", "eu-b"}},
		{"other region", "us", "", 3, []string{"us1", "eu-best*", "eu-a*"}},
		{"unknown region: all fallback", "ap", "", 2, []string{"us1*", "eu-best*"}},
		{"no region: health order", "", "", 3, []string{"us1", "eu-best", "eu-a"}},
		{"exclude self", "eu", "eu-best", 2, []string{"eu-a", "eu-b"}},
	} {
		// The input order must not matter.
		rev := slices.Clone(cands)
		slices.Reverse(rev)
		for _, in := range [][]routeCandidate{cands, rev} {
			if got := ids(rankEdges(in, tc.region, tc.exclude, tc.limit)); !slices.Equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
	}
	if got := rankEdges([]routeCandidate{draining, dead}, "eu", "", 3); len(got) != 0 {
		t.Errorf("only unusable edges: %v", got)
	}
}

func TestRouteAPI(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.Region = "eu"; c.PublicQUICAddr = "127.0.0.1:8443" })
	get := func(query string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Get(e.hs.URL + "/v1/route" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	// No API key needed; a node without a cluster offers itself, at the
	// URL it was reached at when it advertises none.
	code, body := get("?region=eu")
	if code != http.StatusOK {
		t.Fatalf("status %d: %v", code, body)
	}
	edges := body["edges"].([]any)
	self := edges[0].(map[string]any)
	if len(edges) != 1 || self["node_id"] != "test" || self["ws_url"] != e.url || self["quic_addr"] != "127.0.0.1:8443" ||
		self["region"] != "eu" || self["fallback"] != nil {
		t.Fatalf("edges %v, want this node at %s", edges, e.url)
	}
	for _, q := range []string{"?limit=0", "?limit=17", "?limit=x", "?region=a%20b", "?region=" + strings.Repeat("r", 65)} {
		if code, body := get(q); code != http.StatusBadRequest || body["code"] != "ERROR_CODE_BAD_REQUEST" {
			t.Errorf("%s: %d %v", q, code, body)
		}
	}
	e.srv.draining.Store(true)
	if code, body := get(""); code != http.StatusServiceUnavailable {
		t.Errorf("draining: %d %v", code, body)
	}
}

func TestRouteAPIRateLimited(t *testing.T) {
	e := startEdge(t, nil)
	limited := false
	for range routeBurstPerIP * 2 {
		resp, err := http.Get(e.hs.URL + "/v1/route")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			limited = resp.Header.Get("Retry-After") != ""
			break
		}
	}
	if !limited {
		t.Fatal("no 429 with Retry-After after twice the burst")
	}
}
