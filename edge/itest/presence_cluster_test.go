package itest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/edgegate/edgegate/gossip"
)

// userPresence is GET /v1/presence/users/{user}'s answer.
type userPresence struct {
	Online bool   `json:"online"`
	Home   string `json:"home"`
	Nodes  []struct {
		Node    string `json:"node"`
		Devices uint32 `json:"devices"`
	} `json:"nodes"`
}

// awaitPresence polls p's presence API (15 s at most) until it reports
// user online on node only (node "": offline everywhere). Polled: the
// change travels to the user's home and is read back, no event to await.
func awaitPresence(t *testing.T, p *edgeProc, user, node string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got userPresence
		status := apiGet(t, "http://"+p.addr+"/v1/presence/users/"+user, &got)
		ok := status == http.StatusOK && got.Online == (node != "")
		if ok && node != "" {
			ok = len(got.Nodes) == 1 && got.Nodes[0].Node == node && got.Nodes[0].Devices == 1
		} else if ok {
			ok = len(got.Nodes) == 0
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: presence of %s is %d %+v, want on %q", p.addr, user, status, got, node)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestClusterPresence: three edge processes. A user connected on n0, with
// its presence home on n1 (rendezvous over the three), is reported online
// on n0 by all three; offline everywhere after it disconnects; and after a
// kill -9 of its home, the survivors re-home it and report it again.
func TestClusterPresence(t *testing.T) {
	procs := startLinkedCluster(t, 3)
	ids := []string{"n0", "n1", "n2"}
	user := ""
	for i := 0; user == ""; i++ {
		if u := fmt.Sprintf("user%d", i); gossip.Rendezvous(u, ids) == "n1" {
			user = u
		}
	}
	c := dialClient(t, procs[0].url(), user, "d1", nil, nil)
	for _, p := range procs {
		awaitPresence(t, p, user, "n0")
	}
	c.Close()
	for _, p := range procs {
		awaitPresence(t, p, user, "")
	}
	dialClient(t, procs[0].url(), user, "d2", nil, nil)
	for _, p := range procs {
		awaitPresence(t, p, user, "n0")
	}
	procs[1].kill9()
	for _, p := range []*edgeProc{procs[0], procs[2]} {
		awaitPresence(t, p, user, "n0")
		var got userPresence
		apiGet(t, "http://"+p.addr+"/v1/presence/users/"+user, &got)
		if got.Home == "n1" {
			t.Fatalf("%s still homes %s at the killed node", p.addr, user)
		}
	}
}
