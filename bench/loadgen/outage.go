package loadgen

import (
	"time"

	"github.com/edgegate/edgegate/bench/hist"
	"github.com/edgegate/edgegate/client"
)

// outageClock measures, per client, how long each loss of the session
// lasted: from leaving StateConnected to being connected again (on the
// same edge or, with Options.Failover, another one).
type outageClock struct{ h *hist.Histogram }

// track returns a client.Config.OnStateChange that records the client's
// outages. The SDK calls it from one goroutine per client, so its state
// needs no lock.
func (o outageClock) track() func(client.State) {
	var down time.Time
	connected := false
	return func(s client.State) {
		switch {
		case s == client.StateConnected:
			if !down.IsZero() {
				o.h.RecordDuration(time.Since(down))
				down = time.Time{}
			}
			connected = true
		case connected && s == client.StateReconnecting:
			down, connected = time.Now(), false
		}
	}
}
