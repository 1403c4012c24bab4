package edge

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/nodelink"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Conversation presence pushes across the cluster. A conversation's
// subscribers get a Presence frame when a user comes online in it (its
// first device subscribes) or goes offline (its last device leaves), and
// this holds cluster-wide: a user with devices on two nodes is online
// until the last of them leaves.
//
// Decision: the transition is defined per node (a user's first device
// subscribed to C on this node, or its last one here gone, as router.go
// always did) and each node adds up what it knows. Nodes tell each other
// which conversations they have subscribers of (ConvInterest, like
// RoomInterest in rooms_link.go: a change at once on a conversation's
// first local subscriber or last leave, a full snapshot when a link comes
// up, a dead peer forgotten). A node sends a user's per-node device count
// in C (ConvPresenceUpdate, a Control frame: never dropped while the link
// is up) only to the peers with interest in C, and only on its per-node
// transitions. A peer that takes interest in C gets a snapshot of this
// node's subscribers of C first. The receiver keeps, per conversation
// with local subscribers, user -> node -> devices (convRouter.remote) and
// pushes to its local subscribers (other than the user's own devices)
// only when the user's cluster-wide total goes 0 -> >0 or >0 -> 0; the
// local transitions follow the same total, so a user's device joining on
// a second node pushes nothing anywhere.
//
// One goroutine (convLink.loop) sends everything, reading the current
// counts when it sends: counts are absolute, so a later frame never
// carries an older count than an earlier one, and quick join/leave pairs
// coalesce.
//
// Costs and limits:
//   - Per conversation with subscribers on k nodes, each transition costs
//     k-1 Control frames (one per interested peer, several conversations
//     share a frame); conversations with subscribers on one node cost
//     nothing on the link beyond the interest messages.
//   - State: per peer, the set of its conversations (at most
//     maxConvInterest; more are ignored and counted); per local
//     conversation, at most maxConvRemoteUsers users learned from other
//     nodes (more are not tracked: no pushes about them, counted as
//     capped; PresenceQuery still asks every peer and stays complete).
//     A snapshot carries at most maxConvRemoteUsers users per
//     conversation and a frame at most maxPresenceFrame users.
//   - Snapshots (link up, new interest) are applied without pushes: a
//     client learns the state at subscribe time with a PresenceQuery.
//     Changes missed while a link was down are repaired by the snapshot
//     when it comes back, silently. A peer declared dead is forgotten
//     with pushes (its users go offline where no other node has them).

const (
	// maxConvRemoteUsers caps the users of one conversation learned from
	// other nodes (and the users of one conversation in a snapshot).
	maxConvRemoteUsers = 1024
	// maxConvInterest caps the conversations kept per peer.
	maxConvInterest = 1 << 20
)

// convLink is this node's side of cross-node conversation presence. A nil
// *convLink (no NodeListen) does nothing.
type convLink struct {
	srv  *Server
	link *nodelink.Link

	mu           sync.Mutex
	interest     map[string]map[string]struct{} // conv -> peers with subscribers of it
	byPeer       map[string]map[string]struct{} // peer -> its conversations
	dirtyConvs   map[string]struct{}            // our interest changed
	dirtyUsers   map[string]map[string]struct{} // conv -> users with an unsent transition
	owedInterest map[string]struct{}            // peers owed our interest snapshot
	owedUsers    map[string]map[string]struct{} // peer -> conversations owed a users snapshot
	wake         chan struct{}                  // cap 1

	changes *prometheus.CounterVec // dir: sent, received, ignored, capped
	pushes  prometheus.Counter
}

func newConvLink(srv *Server) *convLink {
	cl := &convLink{srv: srv,
		interest: map[string]map[string]struct{}{}, byPeer: map[string]map[string]struct{}{},
		dirtyConvs: map[string]struct{}{}, dirtyUsers: map[string]map[string]struct{}{},
		owedInterest: map[string]struct{}{}, owedUsers: map[string]map[string]struct{}{},
		wake: make(chan struct{}, 1),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_conv_presence_changes_total",
			Help: "Conversation presence entries (one user's device count in one conversation on one node) by direction: sent to a peer with subscribers of the conversation, received from one, ignored (no local subscribers left, bad id, interest over the cap), or capped (over maxConvRemoteUsers users of one conversation)."}, []string{"dir"}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_conv_presence_remote_pushes_total",
			Help: "Presence frames pushed to local subscribers because a user's state changed on another node."}),
	}
	srv.m.reg.MustRegister(cl.changes, cl.pushes,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_conv_presence_remote_entries",
			Help: "(conversation, user, node) device counts learned from peers for this node's conversations."}, func() float64 { return float64(srv.router.remoteEntries()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_conv_interest_peer_conversations",
			Help: "Conversations with subscribers on peers, summed over the peers."}, func() float64 { return float64(cl.peerConversations()) }))
	return cl
}

// attach registers the handlers on the link and the router's hook (before
// the server serves anything).
func (cl *convLink) attach(l *nodelink.Link) {
	cl.link = l
	l.Handle(transport.TypeConvInterest, cl.onInterest)
	l.Handle(transport.TypeConvPresUpd, cl.onUpdate)
	cl.srv.convLink = cl
	cl.srv.router.link = cl
}

// interestChanged notes that conv got its first local subscriber or lost
// its last (called with the router lock held).
func (cl *convLink) interestChanged(conv string) {
	if cl == nil {
		return
	}
	cl.mu.Lock()
	cl.dirtyConvs[conv] = struct{}{}
	cl.mu.Unlock()
	wake(cl.wake)
}

// userChanged notes a per-node transition of user in conv (called with
// the router lock held).
func (cl *convLink) userChanged(conv, user string) {
	if cl == nil {
		return
	}
	cl.mu.Lock()
	addKey(cl.dirtyUsers, conv, user)
	cl.mu.Unlock()
	wake(cl.wake)
}

// peerUp owes peer our interest snapshot (the first on its new link).
func (cl *convLink) peerUp(peer string) {
	cl.mu.Lock()
	cl.owedInterest[peer] = struct{}{}
	cl.mu.Unlock()
	wake(cl.wake)
}

// dropPeer forgets a peer that left or died, pushing the resulting
// transitions to local subscribers.
func (cl *convLink) dropPeer(peer string) {
	if cl == nil {
		return
	}
	cl.mu.Lock()
	cl.dropInterestLocked(peer)
	delete(cl.owedUsers, peer)
	cl.mu.Unlock()
	cl.pushes.Add(float64(cl.srv.router.dropNode(peer)))
}

func (cl *convLink) dropInterestLocked(peer string) {
	for conv := range cl.byPeer[peer] {
		delKey(cl.interest, conv, peer)
	}
	delete(cl.byPeer, peer)
}

func (cl *convLink) peerConversations() int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	n := 0
	for _, convs := range cl.byPeer {
		n += len(convs)
	}
	return n
}

// hasInterest reports whether peer told it has subscribers of conv.
func (cl *convLink) hasInterest(conv, peer string) bool {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	_, ok := cl.interest[conv][peer]
	return ok
}

// onInterest applies a peer's ConvInterest and owes it a snapshot of this
// node's subscribers of each conversation it added.
func (cl *convLink) onInterest(from string, m proto.Message) (proto.Message, error) {
	in := m.(*pb.ConvInterest)
	ignored := 0
	cl.mu.Lock()
	if in.GetSnapshot() {
		cl.dropInterestLocked(from)
		delete(cl.owedUsers, from)
	}
	for _, conv := range in.GetAdd() {
		if !auth.ValidID(conv) || len(cl.byPeer[from]) >= maxConvInterest {
			ignored++
			continue
		}
		addKey(cl.interest, conv, from)
		addKey(cl.byPeer, from, conv)
		addKey(cl.owedUsers, from, conv)
	}
	for _, conv := range in.GetRemove() {
		delKey(cl.interest, conv, from)
		delKey(cl.byPeer, from, conv)
		delKey(cl.owedUsers, from, conv)
	}
	cl.mu.Unlock()
	cl.changes.WithLabelValues("ignored").Add(float64(ignored))
	wake(cl.wake)
	return nil, nil
}

// onUpdate applies a peer's ConvPresenceUpdate to the router.
func (cl *convLink) onUpdate(from string, m proto.Message) (proto.Message, error) {
	for _, cu := range m.(*pb.ConvPresenceUpdate).GetConversations() {
		n := float64(len(cu.GetUsers()))
		cl.changes.WithLabelValues("received").Add(n)
		res := cl.srv.router.applyRemote(from, cu)
		cl.pushes.Add(float64(res.pushed))
		cl.changes.WithLabelValues("ignored").Add(float64(res.ignored))
		cl.changes.WithLabelValues("capped").Add(float64(res.capped))
	}
	return nil, nil
}

// loop sends interest and presence changes until the server stops.
func (cl *convLink) loop() {
	for {
		select {
		case <-cl.srv.quit:
			return
		case <-cl.wake:
		}
		cl.flush()
	}
}

// flush sends what is owed and what changed, reading the current counts.
func (cl *convLink) flush() {
	cl.mu.Lock()
	dirtyConvs, dirtyUsers, owedInterest, owedUsers := cl.dirtyConvs, cl.dirtyUsers, cl.owedInterest, cl.owedUsers
	cl.dirtyConvs, cl.dirtyUsers = map[string]struct{}{}, map[string]map[string]struct{}{}
	cl.owedInterest, cl.owedUsers = map[string]struct{}{}, map[string]map[string]struct{}{}
	cl.mu.Unlock()
	r := cl.srv.router
	if len(owedInterest) > 0 {
		msg := &pb.ConvInterest{Snapshot: true, Add: r.convs()}
		for peer := range owedInterest {
			cl.send(peer, msg)
		}
	}
	if len(dirtyConvs) > 0 {
		msg := &pb.ConvInterest{}
		for conv := range dirtyConvs {
			if r.has(conv) {
				msg.Add = append(msg.Add, conv)
			} else {
				msg.Remove = append(msg.Remove, conv)
			}
		}
		for _, peer := range cl.link.Peers() {
			cl.send(peer, msg)
		}
	}
	for peer, convs := range owedUsers {
		var out []*pb.ConvUsers
		for conv := range convs {
			users := r.presence(conv)
			out = append(out, &pb.ConvUsers{Conversation: conv, Snapshot: true, Users: users[:min(len(users), maxConvRemoteUsers)]})
		}
		cl.sendUsers(peer, out)
	}
	byPeer := map[string][]*pb.ConvUsers{}
	for conv, users := range dirtyUsers {
		cu := &pb.ConvUsers{Conversation: conv}
		for user := range users {
			n := r.devices(conv, user)
			cu.Users = append(cu.Users, &pb.PresenceUser{UserId: user, Devices: n, Online: n > 0})
		}
		cl.mu.Lock()
		for peer := range cl.interest[conv] {
			byPeer[peer] = append(byPeer[peer], cu)
		}
		cl.mu.Unlock()
	}
	for peer, out := range byPeer {
		cl.sendUsers(peer, out)
	}
}

// sendUsers sends out to peer, at most maxPresenceFrame users a frame (a
// conversation's entry is never split: it has at most maxConvRemoteUsers).
func (cl *convLink) sendUsers(peer string, out []*pb.ConvUsers) {
	for len(out) > 0 {
		n, users := 0, 0
		for n < len(out) && (n == 0 || users+len(out[n].GetUsers()) <= maxPresenceFrame) {
			users += len(out[n].GetUsers())
			n++
		}
		if !cl.send(peer, &pb.ConvPresenceUpdate{Conversations: out[:n]}) {
			return
		}
		cl.changes.WithLabelValues("sent").Add(float64(users))
		out = out[n:]
	}
}

// send sends m to peer as a Control frame. A failure (no link) is not
// retried: the snapshots sent when the link comes up carry the state.
func (cl *convLink) send(peer string, m proto.Message) bool {
	if err := cl.link.Send(peer, nodelink.Control, m); err != nil {
		cl.srv.log.Debug("conversation presence: not sent", "peer", peer, "err", err)
		return false
	}
	return true
}

// addKey and delKey add and remove b in a set-of-sets keyed by a.
func addKey(m map[string]map[string]struct{}, a, b string) {
	if m[a] == nil {
		m[a] = map[string]struct{}{}
	}
	m[a][b] = struct{}{}
}

func delKey(m map[string]map[string]struct{}, a, b string) {
	delete(m[a], b)
	if len(m[a]) == 0 {
		delete(m, a)
	}
}

// remoteResult is what applying a peer's entries did.
type remoteResult struct{ pushed, ignored, capped int }

// applyRemote applies a peer's users of one conversation: a snapshot
// replaces what node told before, silently; changes push the users whose
// cluster-wide total went to or from 0. Conversations without local
// subscribers are ignored (this node told, or will tell, it has no
// interest).
func (r *convRouter) applyRemote(node string, cu *pb.ConvUsers) remoteResult {
	var res remoteResult
	conv := cu.GetConversation()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.subs[conv]) == 0 {
		res.ignored = len(cu.GetUsers())
		return res
	}
	users := r.remote[conv]
	if users == nil {
		users = map[string]map[string]uint32{}
		r.remote[conv] = users
	}
	if cu.GetSnapshot() {
		for user, nodes := range users {
			delete(nodes, node)
			if len(nodes) == 0 {
				delete(users, user)
			}
		}
	}
	for _, u := range cu.GetUsers() {
		user, devices := u.GetUserId(), u.GetDevices()
		if users[user] == nil && devices > 0 && len(users) >= maxConvRemoteUsers {
			res.capped++
			continue
		}
		before := r.localDevicesLocked(conv, user) + r.remoteDevicesLocked(conv, user)
		if devices == 0 {
			delete(users[user], node)
			if len(users[user]) == 0 {
				delete(users, user)
			}
		} else {
			if users[user] == nil {
				users[user] = map[string]uint32{}
			}
			users[user][node] = devices
		}
		after := r.localDevicesLocked(conv, user) + r.remoteDevicesLocked(conv, user)
		if !cu.GetSnapshot() && (before == 0) != (after == 0) {
			res.pushed += r.pushLocked(conv, user, after, nil)
		}
	}
	if len(users) == 0 {
		delete(r.remote, conv)
	}
	return res
}

// dropNode forgets node's entries in every conversation, pushing the users
// that went offline cluster-wide; it returns the frames pushed.
func (r *convRouter) dropNode(node string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	pushed := 0
	for conv, users := range r.remote {
		for user, nodes := range users {
			if _, ok := nodes[node]; !ok {
				continue
			}
			delete(nodes, node)
			if len(nodes) == 0 {
				delete(users, user)
				if r.localDevicesLocked(conv, user) == 0 {
					pushed += r.pushLocked(conv, user, 0, nil)
				}
			}
		}
		if len(users) == 0 {
			delete(r.remote, conv)
		}
	}
	return pushed
}

// convs lists the conversations with local subscribers.
func (r *convRouter) convs() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.subs))
	for conv := range r.subs {
		out = append(out, conv)
	}
	sort.Strings(out)
	return out
}

// has reports whether conv has local subscribers.
func (r *convRouter) has(conv string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.subs[conv]) > 0
}

// devices returns user's local devices subscribed to conv.
func (r *convRouter) devices(conv, user string) uint32 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.localDevicesLocked(conv, user)
}

// remoteEntries counts the (conversation, user, node) entries learned from
// peers.
func (r *convRouter) remoteEntries() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, users := range r.remote {
		for _, nodes := range users {
			n += len(nodes)
		}
	}
	return n
}
