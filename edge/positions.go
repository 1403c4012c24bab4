package edge

import (
	"sync"
	"time"
)

// positionWriter batches devices' delivery-ack positions and writes them to
// the store every flushEvery. Positions are advisory (clients also send
// theirs on reconnect), so they are written in batches, not per ack.
type positionWriter struct {
	srv     *Server
	mu      sync.Mutex
	pending map[devKey]map[string]uint64
}

type devKey struct{ user, device string }

const positionFlushEvery = 500 * time.Millisecond

func newPositionWriter(srv *Server) *positionWriter {
	return &positionWriter{srv: srv, pending: make(map[devKey]map[string]uint64)}
}

func (p *positionWriter) update(user, device string, upd map[string]uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := devKey{user, device}
	m := p.pending[k]
	if m == nil {
		m = make(map[string]uint64, len(upd))
		p.pending[k] = m
	}
	for c, s := range upd {
		if s > m[c] {
			m[c] = s
		}
	}
}

// flush writes what is pending. The store keeps positions monotonic.
func (p *positionWriter) flush() {
	p.mu.Lock()
	pending := p.pending
	p.pending = make(map[devKey]map[string]uint64)
	p.mu.Unlock()
	for k, m := range pending {
		if err := p.srv.store.SetPositions(k.user, k.device, m); err != nil {
			p.srv.log.Warn("storing positions", "user", k.user, "device", k.device, "err", err)
		}
	}
}
