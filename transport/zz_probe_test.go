package transport

import (
	"context"
	"encoding/binary"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestZZProbe(t *testing.T) {
	var counters FECCounters
	c, s := fecPair(t, delayedLossyRelay(0.10, 25*time.Millisecond, 3), &counters, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 250
	var wg sync.WaitGroup
	run := func(w, r Conn, gap time.Duration, name string) {
		lat := make([]time.Duration, 0, n)
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range n {
				f, err := r.ReadFrame(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				sent := int64(binary.BigEndian.Uint64(f[len(f)-8:]))
				lat = append(lat, time.Since(time.Unix(0, sent)))
			}
			sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
			t.Logf("%s p50 %v p90 %v p99 %v max %v", name, lat[n/2], lat[n*9/10], lat[n*99/100], lat[n-1])
		}()
		go func() {
			defer wg.Done()
			for range n {
				body := make([]byte, 600)
				binary.BigEndian.PutUint64(body[592:], uint64(time.Now().UnixNano()))
				if err := w.WriteFrame(ctx, mustEncodeFrame(t, body)); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(gap)
			}
		}()
	}
	run(c, s, 50*time.Millisecond, "up")
	run(s, c, 33*time.Millisecond, "down")
	wg.Wait()
	st := c.(*fecConn).qc.ConnectionStats()
	t.Logf("recovered %d retransmitted %d unrecoverable %d lost %d dups %d m=%d/%d rtt %v lostpk %d sent %d", counters.Recovered.Load(), counters.Retransmitted.Load(), counters.Unrecoverable.Load(), counters.Lost.Load(), counters.Duplicates.Load(), c.(*fecConn).snd.parity(), s.(*fecConn).snd.parity(), st.SmoothedRTT, st.PacketsLost, st.PacketsSent)
}
