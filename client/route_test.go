package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestRoute(t *testing.T) {
	var status int
	var body string
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/route" || r.URL.Query().Get("region") != "eu west" {
			t.Errorf("asked %s", r.URL)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer hs.Close()
	ctx := context.Background()

	status, body = 200, `{"edges":[{"node_id":"n1","region":"eu","ws_url":"ws://n1/v1/ws","quic_addr":"n1:443","health":97,"connections":3,"capacity":100},{"node_id":"n2","ws_url":"ws://n2/v1/ws","health":50,"fallback":true}]}`
	edges, err := Route(ctx, nil, hs.URL+"/", "eu west")
	if err != nil || len(edges) != 2 || edges[0] != (Edge{NodeID: "n1", Region: "eu", WSURL: "ws://n1/v1/ws", QUICAddr: "n1:443", Health: 97, Connections: 3, Capacity: 100}) || !edges[1].Fallback {
		t.Fatalf("Route: %+v, %v", edges, err)
	}
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{503, `{"error":"no healthy edge","code":"ERROR_CODE_UNAVAILABLE"}`, ErrNoEdge.Error()},
		{200, `{"edges":[]}`, ErrNoEdge.Error()},
		{400, `{"error":"limit must be 1-16"}`, "HTTP 400: limit must be 1-16"},
		{200, `not json`, "HTTP 200"},
	} {
		status, body = tc.status, tc.body
		if _, err := Route(ctx, hs.Client(), hs.URL, "eu west"); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%d %s: %v, want %q", tc.status, tc.body, err, tc.want)
		}
	}
	status, body = 503, `{}`
	if _, err := Route(ctx, nil, hs.URL, "eu west"); !errors.Is(err, ErrNoEdge) {
		t.Errorf("503: %v, want ErrNoEdge", err)
	}
}
