package edge

import (
	"errors"
	"sync"
	"time"

	"github.com/edgegate/edgegate/edge/auth"
)

// detachedSet keeps the state of disconnected sessions for ResumeGrace so a
// device that reconnects gets its subscriptions back. Bounded by MaxDetached:
// when full, the entry closest to expiry is evicted (positions stay in the
// store, so an evicted device still resumes its conversations).
type detachedSet struct {
	mu      sync.Mutex
	max     int
	entries map[string]*detachState
}

func newDetachedSet(max int) *detachedSet {
	return &detachedSet{max: max, entries: make(map[string]*detachState)}
}

func (d *detachedSet) put(st *detachState) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.entries) >= d.max {
		d.evictLocked(time.Now())
		if len(d.entries) >= d.max {
			var oldest *detachState
			for _, e := range d.entries {
				if oldest == nil || e.expires.Before(oldest.expires) {
					oldest = e
				}
			}
			delete(d.entries, oldest.id)
		}
	}
	d.entries[st.id] = st
}

func (d *detachedSet) take(id string) *detachState {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.entries[id]
	delete(d.entries, id)
	if st != nil && time.Now().After(st.expires) {
		return nil
	}
	return st
}

func (d *detachedSet) evictLocked(now time.Time) {
	for id, e := range d.entries {
		if now.After(e.expires) {
			delete(d.entries, id)
		}
	}
}

// sweep drops expired entries; called periodically.
func (d *detachedSet) sweep() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.evictLocked(time.Now())
	return len(d.entries)
}

// takeResume validates a resume token and returns the state to resume, with
// a metric label for the result. If the session is still attached (the old
// connection is half-open), it is closed and its state taken over.
func (srv *Server) takeResume(tok, user, device string) (*detachState, string) {
	rc, err := srv.resumeSigner.Verify(tok)
	if err != nil {
		if errors.Is(err, auth.ErrResumeExpired) {
			return nil, "expired"
		}
		return nil, "invalid"
	}
	if rc.User != user || rc.Device != device {
		return nil, "mismatch"
	}
	srv.mu.Lock()
	old := srv.sessions[rc.SessionID]
	srv.mu.Unlock()
	if old != nil {
		st := old.snapshot()
		st.expires = time.Now().Add(srv.cfg.ResumeGrace)
		old.takenOver.Store(true)
		old.fail(1000, "resumed on another connection")
		return st, "taken_over"
	}
	if st := srv.detached.take(rc.SessionID); st != nil && st.user == user && st.device == device {
		return st, "ok"
	}
	return nil, "unknown"
}
