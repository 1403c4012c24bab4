package edge

import (
	"net/http"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

func TestStatusNeedsAPIKeyOutsideDev(t *testing.T) {
	e := startEdge(t, nil)
	resp, err := http.Get(e.hs.URL + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: status %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", e.hs.URL+"/v1/status", nil)
	req.SetBasicAuth("ops", e.apiKey)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("basic auth with the API key: status %d", resp.StatusCode)
	}
	// The demo page exists only in dev mode.
	resp, err = http.Get(e.hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET / outside dev: status %d", resp.StatusCode)
	}
}

func TestStatusReportsTheMetrics(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.MaxConnections = 4 })
	c := e.dialRaw(t)
	c.connect(e.token("ann", []string{"c:s"}, nil, time.Hour), nil)
	sendConv(c, "c:s", "m1", "hi")
	expect[*pb.Ack](c)
	code, st := e.api(t, "GET", "/v1/status", e.apiKey, "")
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	conns := st["connections"].(map[string]any)["ws"].(float64)
	if conns != 1 || st["ordered_messages_total"].(float64) != 1 || st["node_id"] != "test" {
		t.Fatalf("status %v", st)
	}
	// The score itself depends on the machine's load (CPU, scheduler lag:
	// TestScoreHealth covers the formula); here: it is reported, and the
	// node list (this node alone, no cluster) carries the same figures.
	h := st["health"].(map[string]any)
	score, ok := h["score"].(float64)
	if !ok || score < 0 || score > 100 {
		t.Fatalf("health %v", h)
	}
	nodes, _ := st["nodes"].([]any)
	if len(nodes) != 1 {
		t.Fatalf("nodes %v, want this node alone", st["nodes"])
	}
	n := nodes[0].(map[string]any)
	if n["id"] != "test" || n["state"] != "alive" || n["connections"] != float64(1) || n["capacity"] != float64(4) || n["health"] != score {
		t.Fatalf("node %v (score %v)", n, score)
	}
}

func TestSDKServedWithCORS(t *testing.T) {
	e := startEdge(t, nil)
	resp, err := http.Get(e.hs.URL + "/sdk/edgegate.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("status %d, CORS %q", resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin"))
	}
	resp, err = http.Get(e.hs.URL + "/sdk/../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("the SDK path serves files outside the SDK")
	}
}
