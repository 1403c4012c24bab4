package itest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/edgegate/edgegate/client"
)

// TestPresenceBench measures, on three edge processes, gossip bytes/s per
// node while idle and while users churn (connect, disconnect) over every
// node, the presence updates the churn sends over the link, and how long a
// user's online and offline changes take to be visible from every node
// (p50, p99). It runs only with EDGEGATE_PRESENCE_BENCH=1 (it takes about
// two minutes); bench/README.md has the procedure and the figures.
//
//	EDGEGATE_PRESENCE_BENCH=1 go test ./edge/itest -run TestPresenceBench -v -timeout 10m
//
// EDGEGATE_PRESENCE_USERS (default 10000), _WINDOW (seconds, default 30)
// and _SAMPLES (default 200) change the sizes.
func TestPresenceBench(t *testing.T) {
	if os.Getenv("EDGEGATE_PRESENCE_BENCH") != "1" {
		t.Skip("set EDGEGATE_PRESENCE_BENCH=1 to run the presence benchmark")
	}
	env := func(name string, def int) int {
		if v, err := strconv.Atoi(os.Getenv("EDGEGATE_PRESENCE_" + name)); err == nil && v > 0 {
			return v
		}
		return def
	}
	users, window, samples := env("USERS", 10000), time.Duration(env("WINDOW", 30))*time.Second, env("SAMPLES", 200)
	procs := startLinkedCluster(t, 3, "--log-level", "warn", "--conn-rate-per-ip", "-1")
	for _, p := range procs { // the links are up when a user shows everywhere
		awaitPresence(t, p, "nobody", "")
	}
	c := dialClient(t, procs[0].url(), "warmup", "d", nil, nil)
	for _, p := range procs {
		awaitPresence(t, p, "warmup", "n0")
	}
	c.Close()
	time.Sleep(5 * time.Second) // settle: joins and push/pull done

	counters := func() (gossip []float64, sent, received, local float64) {
		for _, p := range procs {
			gossip = append(gossip, metricValue(t, p.addr, `edgegate_gossip_bytes_total{dir="sent"}`)+
				metricValue(t, p.addr, `edgegate_gossip_bytes_total{dir="received"}`))
			sent += metricValue(t, p.addr, `edgegate_presence_updates_total{dir="sent"}`)
			received += metricValue(t, p.addr, `edgegate_presence_updates_total{dir="received"}`)
			local += metricValue(t, p.addr, `edgegate_presence_updates_total{dir="local"}`)
		}
		return
	}
	rates := func(a, b []float64, d time.Duration) []string {
		out := make([]string, len(a))
		for i := range a {
			out[i] = fmt.Sprintf("%.0f", (b[i]-a[i])/d.Seconds())
		}
		return out
	}

	g0, _, _, _ := counters()
	time.Sleep(window)
	g1, s1, r1, l1 := counters()
	t.Logf("idle: gossip bytes/s per node (sent+received) %v", rates(g0, g1, window))

	// Churn: workers connect a user on node i%3, hold it briefly, close.
	var connects, failures atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), window)
	defer cancel()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range 48 {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1))
				user := fmt.Sprintf("churn%d", i%users)
				cl, err := client.Dial(ctx, client.Config{URL: procs[i%3].url(), Token: token(t, user, nil, nil), DeviceID: "d"})
				if err != nil {
					failures.Add(1)
					continue
				}
				connects.Add(1)
				time.Sleep(time.Duration(i%50) * time.Millisecond)
				cl.Close()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	g2, s2, r2, l2 := counters()
	t.Logf("churn: %d connects (%d failed) over %d users in %v: %.0f connects/s", connects.Load(), failures.Load(), users, took.Round(time.Millisecond), float64(connects.Load())/took.Seconds())
	t.Logf("churn: gossip bytes/s per node (sent+received) %v", rates(g1, g2, took))
	t.Logf("churn: presence entries/s on the link: sent %.0f, received %.0f; applied locally (home on the same node) %.0f",
		(s2-s1)/took.Seconds(), (r2-r1)/took.Seconds(), (l2-l1)/took.Seconds())

	// Visibility: connect a user on node i%3 and poll the other two until
	// they report it online; then close and poll until offline.
	var on, off []time.Duration
	visible := func(user, node string, want bool) time.Duration {
		t0 := time.Now()
		for _, p := range procs {
			for {
				var got userPresence
				if apiGet(t, "http://"+p.addr+"/v1/presence/users/"+user, &got) == http.StatusOK && got.Online == want &&
					(!want || (len(got.Nodes) == 1 && got.Nodes[0].Node == node)) {
					break
				}
				if time.Since(t0) > 10*time.Second {
					t.Fatalf("%s: %s never became online=%v", p.addr, user, want)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
		return time.Since(t0)
	}
	for i := range samples {
		user, node := fmt.Sprintf("probe%d", i), fmt.Sprintf("n%d", i%3)
		cl, err := client.Dial(context.Background(), client.Config{URL: procs[i%3].url(), Token: token(t, user, nil, nil), DeviceID: "d"})
		if err != nil {
			t.Fatal(err)
		}
		on = append(on, visible(user, node, true))
		cl.Close()
		off = append(off, visible(user, node, false))
	}
	pct := func(ds []time.Duration) string {
		slices.Sort(ds)
		at := func(q float64) time.Duration { return ds[min(len(ds)-1, int(q*float64(len(ds))))] }
		return fmt.Sprintf("p50 %v p99 %v max %v", at(0.5).Round(100*time.Microsecond), at(0.99).Round(100*time.Microsecond), ds[len(ds)-1].Round(100*time.Microsecond))
	}
	t.Logf("visibility from every node over %d users: online %s; offline %s", samples, pct(on), pct(off))
}
