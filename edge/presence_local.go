package edge

import (
	"sync"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// presenceLocal is this node's side of presence as a sender: the live
// devices of each user connected here, which users changed since the last
// flush, and which home each online user was last told to. It does no I/O:
// its methods return the entries to send, grouped by home node, and the
// caller sends them. Safe for concurrent use.
type presenceLocal struct {
	mu      sync.Mutex
	devices map[string]uint32   // user -> live sessions here (absent: none)
	dirty   map[string]struct{} // users changed since the last flush
	sentTo  map[string]string   // online user -> home last told
	version uint64              // last version given to an entry
}

func newPresenceLocal() *presenceLocal {
	return &presenceLocal{devices: map[string]uint32{}, dirty: map[string]struct{}{}, sentTo: map[string]string{},
		// Versions start at the start time so that a restarted node's
		// entries are newer than any it sent before.
		version: uint64(time.Now().UnixNano())}
}

// change adds delta (+1: a session came up, -1: one ended) to user's
// devices. It reports whether the dirty set was empty before (the caller
// schedules a flush).
func (p *presenceLocal) change(user string, delta int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := int(p.devices[user]) + delta
	if n <= 0 {
		delete(p.devices, user)
	} else {
		p.devices[user] = uint32(n)
	}
	first := len(p.dirty) == 0
	p.dirty[user] = struct{}{}
	return first
}

// count returns user's live devices here.
func (p *presenceLocal) count(user string) uint32 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.devices[user]
}

// users returns how many users have a live device here.
func (p *presenceLocal) users() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.devices)
}

// entryLocked makes the next entry for user with its current count.
func (p *presenceLocal) entryLocked(user string) *pb.PresenceEntry {
	p.version++
	return &pb.PresenceEntry{User: user, Devices: p.devices[user], Version: p.version}
}

// outbox groups entries by the home node they go to.
type outbox map[string][]*pb.PresenceEntry

func (o outbox) add(home string, e *pb.PresenceEntry) {
	if home != "" {
		o[home] = append(o[home], e)
	}
}

// flush takes the users changed since the last flush (changes within one
// flush window are coalesced: only the current count is sent) and returns
// their entries by home (homeOf gives the home, "" for none). A user whose
// home changed since it was last told also gets devices 0 sent to the old
// home, so it does not keep a stale entry.
func (p *presenceLocal) flush(homeOf func(string) string) outbox {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := outbox{}
	for user := range p.dirty {
		home := homeOf(user)
		if old, ok := p.sentTo[user]; ok && old != home {
			p.version++
			out.add(old, &pb.PresenceEntry{User: user, Version: p.version})
		}
		out.add(home, p.entryLocked(user))
		if p.devices[user] > 0 && home != "" {
			p.sentTo[user] = home
		} else {
			delete(p.sentTo, user)
		}
	}
	clear(p.dirty)
	return out
}

// rehome returns, by new home, the entries of the online users whose home
// (homeOf) is no longer the one they were told to, and notes the new
// homes. The old home gets devices 0 for them (a hand-off): if it is
// still alive (a node joined and won the user) it must not keep an entry
// that would be stale when the user comes back to it; if it is gone, the
// send fails and nothing is lost. It also returns how many users moved.
func (p *presenceLocal) rehome(homeOf func(string) string) (outbox, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	out, moved := outbox{}, 0
	for user, old := range p.sentTo {
		home := homeOf(user)
		if home == old {
			continue
		}
		moved++
		p.version++
		out.add(old, &pb.PresenceEntry{User: user, Version: p.version})
		if home == "" {
			delete(p.sentTo, user)
			continue
		}
		out.add(home, p.entryLocked(user))
		p.sentTo[user] = home
	}
	return out, moved
}

// snapshot returns the entries of every online user last told to home
// (after rehome, the users homed there), to be sent as a snapshot.
func (p *presenceLocal) snapshot(home string) []*pb.PresenceEntry {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*pb.PresenceEntry
	for user, h := range p.sentTo {
		if h == home {
			out = append(out, p.entryLocked(user))
		}
	}
	return out
}
