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
//
// remote holds, for the conversations with local subscribers only, the
// device counts of their subscribers on other nodes (conv_link.go), so
// that presence pushes follow a user's cluster-wide state.
type convRouter struct {
	mu     sync.RWMutex
	subs   map[string][]subEntry
	remote map[string]map[string]map[string]uint32 // conv -> user -> node -> devices
	link   *convLink                               // nil: no peers (set before serving)
}

type subEntry struct {
	s  *session
	cs *convSub
}

func newConvRouter() *convRouter {
	return &convRouter{subs: make(map[string][]subEntry), remote: map[string]map[string]map[string]uint32{}}
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
	if len(list) == 0 {
		r.link.interestChanged(conv)
	}
	r.presenceChangedLocked(conv, s.user, s, true)
}

// presenceChangedLocked tells the conversation's other local subscribers
// when a user's first device on this node comes online or its last one
// here leaves, unless the user has devices on other nodes (no change
// cluster-wide); peers with subscribers of the conversation are told too.
// Only transitions are sent, so a user's extra devices cost nothing.
func (r *convRouter) presenceChangedLocked(conv, user string, except *session, joined bool) {
	devices := r.localDevicesLocked(conv, user)
	if (joined && devices != 1) || (!joined && devices != 0) {
		return
	}
	r.link.userChanged(conv, user)
	if remote := r.remoteDevicesLocked(conv, user); remote == 0 {
		r.pushLocked(conv, user, devices, except)
	}
}

// pushLocked sends a Presence frame about user (devices cluster-wide) to
// the conversation's local subscribers other than user's devices and
// except, and returns how many got it.
func (r *convRouter) pushLocked(conv, user string, devices uint32, except *session) int {
	var frame []byte
	n := 0
	for _, e := range r.subs[conv] {
		if e.s.user == user || e.s == except {
			continue
		}
		if frame == nil {
			var err error
			frame, err = transport.Encode(nil, &pb.Presence{Conversation: conv, Users: []*pb.PresenceUser{{UserId: user, Devices: devices, Online: devices > 0}}}, nil)
			if err != nil {
				return n
			}
		}
		e.s.enqueueCtrlNoFail(frame)
		n++
	}
	return n
}

func (r *convRouter) localDevicesLocked(conv, user string) uint32 {
	n := uint32(0)
	for _, e := range r.subs[conv] {
		if e.s.user == user {
			n++
		}
	}
	return n
}

func (r *convRouter) remoteDevicesLocked(conv, user string) uint32 {
	n := uint32(0)
	for _, d := range r.remote[conv][user] {
		n += d
	}
	return n
}

func (r *convRouter) remove(conv string, s *session) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.subs[conv]
	found := false
	for i := range list {
		if list[i].s == s {
			last := len(list) - 1
			list[i] = list[last]
			list[last] = subEntry{}
			list = list[:last]
			found = true
			break
		}
	}
	if !found {
		return
	}
	if len(list) == 0 {
		delete(r.subs, conv)
		delete(r.remote, conv)
		r.link.interestChanged(conv)
	} else {
		r.subs[conv] = list
	}
	r.presenceChangedLocked(conv, s.user, s, false)
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
