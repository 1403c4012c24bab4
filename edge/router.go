package edge

import (
	"sort"
	"sync"

	"github.com/edgegate/edgegate/transport/pb"
)

// convRouter maps conversations to the local sessions subscribed to them
// and fans committed messages out. The fan-out never blocks: each session
// queues (or falls back to the store) on its own.
type convRouter struct {
	mu   sync.RWMutex
	subs map[string]map[*session]*convSub
}

func newConvRouter() *convRouter {
	return &convRouter{subs: make(map[string]map[*session]*convSub)}
}

func (r *convRouter) add(conv string, s *session, cs *convSub) {
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.subs[conv]
	if m == nil {
		m = make(map[*session]*convSub)
		r.subs[conv] = m
	}
	m[s] = cs
}

func (r *convRouter) remove(conv string, s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m := r.subs[conv]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(r.subs, conv)
		}
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
		for s, cs := range r.subs[msgs[i].Conversation] {
			s.notify(cs, msgs[i:j:j])
		}
		i = j
	}
}

// presence lists users subscribed to a conversation on this node, with
// their device counts.
func (r *convRouter) presence(conv string) []*pb.PresenceUser {
	r.mu.RLock()
	counts := make(map[string]uint32)
	for s := range r.subs[conv] {
		counts[s.user]++
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
