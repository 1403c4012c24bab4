package edge

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

func (e *testEdge) api(t *testing.T, method, path, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, e.hs.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: status %d, body %q not JSON", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, out
}

func TestHTTPAPI(t *testing.T) {
	e := startEdge(t, nil)
	conv := "group:api"
	sub := e.dialRaw(t)
	sub.connect(e.token("bob", []string{conv}, []string{"live:api"}, time.Hour), nil)

	if st, _ := e.api(t, "POST", "/v1/conversations/"+conv+"/messages", "", `{"body":"x"}`); st != 401 {
		t.Fatalf("no key: %d", st)
	}
	if st, _ := e.api(t, "POST", "/v1/conversations/"+conv+"/messages", "wrong-key-wrong-key", `{"body":"x"}`); st != 401 {
		t.Fatalf("bad key: %d", st)
	}
	if st, b := e.api(t, "GET", "/v1/conversations/nobody:here/messages", e.apiKey, ""); st != 404 || b["code"] != "ERROR_CODE_NOT_FOUND" {
		t.Fatalf("unknown conversation: %d %v", st, b)
	}
	for i := 1; i <= 5; i++ {
		st, b := e.api(t, "POST", "/v1/conversations/"+conv+"/messages", e.apiKey, `{"sender":"bot","client_msg_id":"`+msgID(i)+`","body":"hi"}`)
		if st != 200 || b["seq"].(float64) != float64(i) {
			t.Fatalf("publish %d: %d %v", i, st, b)
		}
	}
	st, b := e.api(t, "POST", "/v1/conversations/"+conv+"/messages", e.apiKey, `{"sender":"bot","client_msg_id":"`+msgID(3)+`","body":"hi"}`)
	if st != 200 || b["seq"].(float64) != 3 || b["duplicate"] != true {
		t.Fatalf("duplicate publish: %d %v", st, b)
	}
	if st, _ := e.api(t, "POST", "/v1/conversations/"+conv+"/messages", e.apiKey, `{not json`); st != 400 {
		t.Fatalf("bad json: %d", st)
	}
	got := sub.collect(conv, 5)
	checkSeqs(t, got, 1)

	st, b = e.api(t, "GET", "/v1/conversations/"+conv+"/messages?limit=2", e.apiKey, "")
	msgs := b["messages"].([]any)
	if st != 200 || len(msgs) != 2 || msgs[0].(map[string]any)["seq"].(float64) != 5 || b["has_more"] != true {
		t.Fatalf("history: %d %v", st, b)
	}
	st, b = e.api(t, "GET", "/v1/conversations/"+conv+"/messages?after=3", e.apiKey, "")
	msgs = b["messages"].([]any)
	if st != 200 || len(msgs) != 2 || msgs[0].(map[string]any)["seq"].(float64) != 4 || b["has_more"] != false {
		t.Fatalf("history after: %d %v", st, b)
	}
	st, b = e.api(t, "GET", "/v1/conversations/"+conv+"/presence", e.apiKey, "")
	if users := b["users"].([]any); st != 200 || len(users) != 1 || users[0].(map[string]any)["user_id"] != "bob" {
		t.Fatalf("presence: %d %v", st, b)
	}

	sub.send(&pb.Subscribe{RequestId: 1, Rooms: []string{"live:api"}})
	expect[*pb.Subscribed](sub)
	st, b = e.api(t, "POST", "/v1/rooms/live:api/messages", e.apiKey, `{"body":"gift!"}`)
	if st != 200 || b["viewers"].(float64) != 1 {
		t.Fatalf("room publish: %d %v", st, b)
	}
	if d := expect[*pb.Deliver](sub); len(d.Messages) != 1 || string(d.Messages[0].Body) != "gift!" {
		t.Fatalf("room delivery: %v", d)
	}
	st, b = e.api(t, "GET", "/v1/rooms/live:api/presence", e.apiKey, "")
	if st != 200 || b["viewers"].(float64) != 1 {
		t.Fatalf("room presence: %d %v", st, b)
	}
	st, b = e.api(t, "POST", "/v1/users/bob/disconnect", e.apiKey, "")
	if st != 200 || b["disconnected"].(float64) != 1 {
		t.Fatalf("disconnect: %d %v", st, b)
	}
	if code := closeCode(t, sub.closed()); code != transport.CloseCodeFor(pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED) {
		t.Fatalf("kick close code %d", code)
	}
}

func TestHealthAndMetrics(t *testing.T) {
	e := startEdge(t, nil)
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.hs.URL + p)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %v %v", p, err, resp)
		}
		resp.Body.Close()
	}
	c := e.dialRaw(t)
	c.connect(e.token("m", nil, nil, time.Hour), nil)
	resp, err := http.Get(e.hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`edgegate_connections{transport="ws"} 1`, "process_resident_memory_bytes", "edgegate_frames_in_total",
		"edgegate_fec_data_packets_total 0", "edgegate_fec_nacked_data_total 0"} {
		if !strings.Contains(string(b), want) {
			t.Fatalf("metrics lack %q", want)
		}
	}
}

func TestDrainRedirectsClients(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.DrainRedirectURLs = []string{"ws://other:8080/v1/ws"} })
	var cs []*rawClient
	for i := 0; i < 3; i++ {
		c := e.dialRaw(t)
		c.connect(e.token("u", nil, nil, time.Hour), nil)
		cs = append(cs, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		r := expect[*pb.Redirect](c)
		if r.Reason != "drain" || len(r.Urls) != 1 {
			t.Fatalf("redirect = %v", r)
		}
		if code := closeCode(t, c.closed()); code != transport.CloseGoingAway {
			t.Fatalf("close %d", code)
		}
	}
	resp, err := http.Get(e.hs.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("readyz after drain: %d", resp.StatusCode)
	}
}
