package edge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/nodelink"
	"github.com/edgegate/edgegate/gossip"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Presence across the cluster (presence homes). Each user has a home node,
// gossip.Rendezvous of the user id over gossip.HomeCandidates (alive
// members with a link address, not leaving or draining). Every node counts
// its users' live sessions (presenceLocal) and sends the changes, coalesced
// over presenceFlushWindow, to each user's home over the inter-node link
// as Control frames (PresenceUpdate, one frame per home per flush); the
// home keeps user -> node -> devices (homeTable). Where a user is
// connected is asked of its home (PresenceLookup, one request per home
// for a batch of users). When the home is this node, nothing crosses the
// link.
//
// Membership changes: every node re-sends its online users whose home
// changed to the new home (and devices 0 to the old one, a hand-off);
// a home drops the entries of nodes that are no longer alive; a link that
// comes up starts with a snapshot of the users homed at that peer; and
// every presenceAntiEntropy each node sends every home a snapshot, which
// repairs what transient disagreement between member views left behind.
// Gossip itself carries nothing per user, so its traffic does not grow
// with user churn (bench/README.md).
//
// A session counts as a device while its transport is attached: a session
// kept for resume (ResumeGrace) is offline until it is resumed. Online
// means reachable now, and the resume grace (minutes) would otherwise hold
// users online long after they left; a quick reconnect within one flush
// window is coalesced and never seen by the home. The same rule holds for
// the conversation presence (router.go; across nodes: presence_conv.go).

const (
	// presenceFlushWindow coalesces the changes of one user within it.
	presenceFlushWindow = 25 * time.Millisecond
	// presenceAntiEntropy is how often every home gets a full snapshot.
	presenceAntiEntropy = 30 * time.Second
	// presenceLookupTimeout bounds one lookup at a home.
	presenceLookupTimeout = 2 * time.Second
	// maxPresenceLookup caps the users of one lookup.
	maxPresenceLookup = 1000
	// maxPresenceFrame caps the entries of one PresenceUpdate frame; a
	// larger snapshot is split (the first part carries snapshot=true).
	maxPresenceFrame = 8192
)

// Presence lookup errors.
var (
	errPresenceTooMany = fmt.Errorf("presence: more than %d users in one lookup", maxPresenceLookup)
	errPresenceHome    = errors.New("presence: home node unreachable")
)

// presence is this node's presence: sender side (local), home side (home),
// and the glue to the link and the member list. It works without a
// cluster or link too: every user is then homed here.
type presence struct {
	srv   *Server
	self  string
	local *presenceLocal
	home  *homeTable
	link  *nodelink.Link // nil: no link, every user is homed here

	mu    sync.Mutex
	homes []string            // home candidates, sorted (empty: this node)
	owed  map[string]struct{} // peers owed a snapshot (their link came up)
	wake  chan struct{}       // cap 1

	updates *prometheus.CounterVec // dir: sent, received, local, stale
	lookups *prometheus.CounterVec // result: ok, error
	rehomed prometheus.Counter
}

func newPresence(srv *Server) *presence {
	p := &presence{srv: srv, self: srv.cfg.NodeID, local: newPresenceLocal(), home: newHomeTable(),
		owed: map[string]struct{}{}, wake: make(chan struct{}, 1),
		updates: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_presence_updates_total",
			Help: "Presence entries (one user's device count on one node) by direction: sent to a home over the link, received as a home, applied locally (this node is the home), or ignored as stale."}, []string{"dir"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_presence_lookups_total",
			Help: "Presence lookups (where is user U) by result."}, []string{"result"}),
		rehomed: prometheus.NewCounter(prometheus.CounterOpts{Name: "edgegate_presence_rehomed_users_total",
			Help: "Online users of this node re-sent to a new home after a membership change."}),
	}
	srv.m.reg.MustRegister(p.updates, p.lookups, p.rehomed,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_presence_homed_users",
			Help: "Users homed at this node that are online somewhere in the cluster."}, func() float64 { return float64(p.home.onlineUsers()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "edgegate_presence_local_users",
			Help: "Users with at least one live session on this node."}, func() float64 { return float64(p.local.users()) }))
	return p
}

// attach registers the presence handlers on the link.
func (p *presence) attach(l *nodelink.Link) {
	p.link = l
	l.Handle(transport.TypePresenceUpd, p.onUpdate)
	l.Handle(transport.TypePresenceLook, p.onLookup)
}

// sessionUp and sessionDown count a user's live sessions on this node.
func (p *presence) sessionUp(user string)   { p.changed(user, 1) }
func (p *presence) sessionDown(user string) { p.changed(user, -1) }

func (p *presence) changed(user string, delta int) {
	if p.local.change(user, delta) {
		wake(p.wake)
	}
}

// peerUp owes peer a snapshot of the users homed there (sent by loop).
func (p *presence) peerUp(peer string) {
	p.mu.Lock()
	defer wake(p.wake)
	defer p.mu.Unlock()
	p.owed[peer] = struct{}{}
}

// homeOf returns user's home node.
func (p *presence) homeOf(user string) string {
	p.mu.Lock()
	homes := p.homes
	p.mu.Unlock()
	if len(homes) == 0 || p.link == nil {
		return p.self
	}
	return gossip.Rendezvous(user, homes)
}

// loop flushes changes, follows membership and sends snapshots until the
// server stops.
func (p *presence) loop() {
	var events <-chan gossip.Event
	if p.srv.cluster != nil {
		sub := p.srv.cluster.Subscribe(256)
		defer sub.Close()
		events = sub.Events()
	}
	flush := time.NewTimer(time.Hour)
	flush.Stop()
	armed := false
	tick := time.NewTicker(linkResync)
	defer tick.Stop()
	lastFull := time.Now()
	p.membership()
	for {
		select {
		case <-p.srv.quit:
			return
		case <-p.wake:
			p.sendOwed()
			if !armed {
				flush.Reset(presenceFlushWindow)
				armed = true
			}
		case <-flush.C:
			armed = false
			p.send(p.local.flush(p.homeOf), false)
		case <-events:
			p.membership()
		case now := <-tick.C:
			p.membership()
			p.home.sweep()
			if now.Sub(lastFull) >= presenceAntiEntropy {
				lastFull = now
				p.snapshotAll()
			}
		}
	}
}

// membership re-reads the member list: homes whose candidates changed get
// the users that moved to them; entries of nodes no longer alive are
// dropped.
func (p *presence) membership() {
	if p.srv.cluster == nil {
		return
	}
	members := p.srv.cluster.Members()
	alive := map[string]bool{p.self: true}
	for _, m := range members {
		if m.State == gossip.StateAlive {
			alive[m.ID] = true
		}
	}
	p.home.dropNodesExcept(alive)
	cands := gossip.HomeCandidates(members)
	p.mu.Lock()
	changed := !slices.Equal(cands, p.homes)
	p.homes = cands
	p.mu.Unlock()
	if changed {
		out, moved := p.local.rehome(p.homeOf)
		p.rehomed.Add(float64(moved))
		p.send(out, false)
	}
}

// sendOwed sends the snapshots owed to peers whose link came up.
func (p *presence) sendOwed() {
	p.mu.Lock()
	owed := p.owed
	p.owed = map[string]struct{}{}
	p.mu.Unlock()
	for peer := range owed {
		p.sendTo(peer, true, p.local.snapshot(peer))
	}
}

// snapshotAll sends every home candidate (this node too) a snapshot.
func (p *presence) snapshotAll() {
	p.mu.Lock()
	homes := slices.Clone(p.homes)
	p.mu.Unlock()
	if !slices.Contains(homes, p.self) {
		homes = append(homes, p.self)
	}
	for _, h := range homes {
		p.sendTo(h, true, p.local.snapshot(h))
	}
}

// send sends each home its entries.
func (p *presence) send(out outbox, snapshot bool) {
	for home, entries := range out {
		p.sendTo(home, snapshot, entries)
	}
}

// sendTo sends entries to home, applying them here when home is this
// node. A failed send (no link to the home) is not retried: the snapshot
// sent when the link comes up carries the state.
func (p *presence) sendTo(home string, snapshot bool, entries []*pb.PresenceEntry) {
	if home == p.self {
		stale := p.home.apply(p.self, snapshot, entries, time.Now())
		p.updates.WithLabelValues("local").Add(float64(len(entries)))
		p.updates.WithLabelValues("stale").Add(float64(stale))
		return
	}
	if p.link == nil {
		return
	}
	for first := true; first || len(entries) > 0; first = false {
		n := min(len(entries), maxPresenceFrame)
		err := p.link.Send(home, nodelink.Control, &pb.PresenceUpdate{Snapshot: snapshot && first, Users: entries[:n]})
		if err != nil {
			p.srv.log.Debug("presence: update not sent", "home", home, "err", err)
			return
		}
		p.updates.WithLabelValues("sent").Add(float64(n))
		entries = entries[n:]
	}
}

// onUpdate applies a peer's PresenceUpdate (this node is the users' home).
func (p *presence) onUpdate(from string, m proto.Message) (proto.Message, error) {
	u := m.(*pb.PresenceUpdate)
	stale := p.home.apply(from, u.GetSnapshot(), u.GetUsers(), time.Now())
	p.updates.WithLabelValues("received").Add(float64(len(u.GetUsers())))
	p.updates.WithLabelValues("stale").Add(float64(stale))
	return nil, nil
}

// onLookup answers a peer's PresenceLookup from this node's home table.
func (p *presence) onLookup(from string, m proto.Message) (proto.Message, error) {
	users := m.(*pb.PresenceLookup).GetUsers()
	if len(users) > maxPresenceLookup {
		return nil, errPresenceTooMany
	}
	return &pb.PresenceLookupReply{Users: p.home.lookup(users)}, nil
}

// locate returns where each user is connected, in the order asked: one
// request per home (in parallel, each bounded by presenceLookupTimeout),
// this node's own devices taken from its local counts (always current).
// It fails if a home does not answer.
func (p *presence) locate(ctx context.Context, users []string) ([]*pb.PresenceLocation, error) {
	if len(users) > maxPresenceLookup {
		p.lookups.WithLabelValues("error").Inc()
		return nil, errPresenceTooMany
	}
	byHome := map[string][]int{}
	for i, u := range users {
		h := p.homeOf(u)
		byHome[h] = append(byHome[h], i)
	}
	out := make([]*pb.PresenceLocation, len(users))
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for home, idx := range byHome {
		asked := make([]string, len(idx))
		for k, i := range idx {
			asked[k] = users[i]
		}
		if home == p.self {
			for k, loc := range p.home.lookup(asked) {
				out[idx[k]] = loc
			}
			continue
		}
		wg.Go(func() {
			locs, err := p.ask(ctx, home, asked)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			for k, loc := range locs {
				out[idx[k]] = loc
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		p.lookups.WithLabelValues("error").Inc()
		return nil, errors.Join(errs...)
	}
	for i, loc := range out {
		p.withLocal(loc, users[i])
	}
	p.lookups.WithLabelValues("ok").Inc()
	return out, nil
}

// ask sends one PresenceLookup to home.
func (p *presence) ask(ctx context.Context, home string, users []string) ([]*pb.PresenceLocation, error) {
	ctx, cancel := context.WithTimeout(ctx, presenceLookupTimeout)
	defer cancel()
	r, err := p.link.Request(ctx, home, &pb.PresenceLookup{Users: users})
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", errPresenceHome, home, err)
	}
	reply, ok := r.(*pb.PresenceLookupReply)
	if !ok || len(reply.GetUsers()) != len(users) {
		return nil, fmt.Errorf("%w: %s: bad reply", errPresenceHome, home)
	}
	return reply.GetUsers(), nil
}

// withLocal replaces this node's entry in loc with its local count.
func (p *presence) withLocal(loc *pb.PresenceLocation, user string) {
	loc.Nodes = slices.DeleteFunc(loc.Nodes, func(n *pb.PresenceNode) bool { return n.GetNode() == p.self })
	if n := p.local.count(user); n > 0 {
		loc.Nodes = append(loc.Nodes, &pb.PresenceNode{Node: p.self, Devices: n})
		slices.SortFunc(loc.Nodes, func(a, b *pb.PresenceNode) int { return strings.Compare(a.GetNode(), b.GetNode()) })
	}
}
