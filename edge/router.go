package edge

import (
	"sort"
	"sync"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// convRouter maps conversations to the local sessions subscribed to them
// and fans committed messages out. The fan-out never blocks: each session
// queues (or falls back to the store) on its own.
//
// Subscribers are a slice per conversation, not a map: most conversations
// have one or two local subscribers (1:1 chat), a slice costs far less per
// idle connection, and fan-out iterates it faster. Removal is linear in the
// conversation's local subscribers.
type convRouter struct {
	mu   sync.RWMutex
	subs map[string][]subEntry
}

type subEntry struct {
	s  *session
	cs *convSub
}

func newConvRouter() *convRouter {
	return &convRouter{subs: make(map[string][]subEntry)}
}

func (r *convRouter) add(conv string, s *session, cs *convSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.subs[conv]
	for i := range list {
		if list[i].s == s {
			list[i].cs = cs
			return
		}
	}
	r.subs[conv] = append(list, subEntry{s, cs})
	r.presenceChangedLocked(conv, s.user, s, true)
}

// presenceChangedLocked tells the conversation's other local subscribers
// when a user's first device comes online or its last one leaves. Only
// transitions are sent, so a user's extra devices cost nothing.
func (r *convRouter) presenceChangedLocked(conv, user string, except *session, joined bool) {
	list := r.subs[conv]
	devices := uint32(0)
	for _, e := range list {
		if e.s.user == user {
			devices++
		}
	}
	if (joined && devices != 1) || (!joined && devices != 0) {
		return
	}
	var frame []byte
	for _, e := range list {
		if e.s.user == user || e.s == except {
			continue
		}
		if frame == nil {
			var err error
			frame, err = transport.Encode(nil, &pb.Presence{Conversation: conv, Users: []*pb.PresenceUser{{UserId: user, Devices: devices, Online: devices > 0}}}, nil)
			if err != nil {
				return
			}
		}
		e.s.enqueueCtrlNoFail(frame)
	}
}

func (r *convRouter) remove(conv string, s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.subs[conv]
	for i := range list {
		if list[i].s == s {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = subEntry{}
			list = list[:last]
			break
		}
	}
	if len(list) == 0 {
		delete(r.subs, conv)
	} else {
		r.subs[conv] = list
		r.presenceChangedLocked(conv, s.user, s, false)
	}
}

// fanout delivers newly committed messages (in seq order per conversation)
// to local subscribers. It is the orderer's OnCommit hook.
func (r *convRouter) fanout(msgs []*pb.Message) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i := 0; i < len(msgs); {
		j := i + 1
		for j < len(msgs) && msgs[j].Conversation == msgs[i].Conversation {
			j++
		}
		for _, e := range r.subs[msgs[i].Conversation] {
			e.s.notify(e.cs, msgs[i:j:j])
		}
		i = j
	}
}

// presence lists users subscribed to a conversation on this node, with
// their device counts.
func (r *convRouter) presence(conv string) []*pb.PresenceUser {
	r.mu.RLock()
	counts := make(map[string]uint32)
	for _, e := range r.subs[conv] {
		counts[e.s.user]++
	}
	r.mu.RUnlock()
	return presenceList(counts)
}

func presenceList(counts map[string]uint32) []*pb.PresenceUser {
	out := make([]*pb.PresenceUser, 0, len(counts))
	for u, n := range counts {
		out = append(out, &pb.PresenceUser{UserId: u, Devices: n, Online: true})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserId < out[j].UserId })
	return out
}
