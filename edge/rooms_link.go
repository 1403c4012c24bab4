package edge

import (
	"maps"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/nodelink"
	"github.com/edgegate/edgegate/gossip"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Rooms across nodes (Config.NodeListen). Each node tells its peers, over
// the inter-node link, which rooms it has viewers of (RoomInterest: a full
// snapshot when a link comes up, then changes) and keeps the same from
// each peer. A comment published on this node is delivered to its own
// viewers and sent once per flushed batch to each peer with viewers of the
// room (RoomComments, a Live frame: dropped, not queued without bound, if
// the peer lags); the receiver delivers it to its viewers and never
// forwards it again, so there are no loops and a comment crosses each link
// once, whatever the number of viewers behind it.
//
// Interest is sent at once when a room gets its first local viewer or
// loses its last; plain viewer-count changes are sent at most once per
// interestRefresh (they only feed the cluster-wide viewer count of
// GET /v1/rooms/{room}/presence). A peer that leaves or is declared dead
// by gossip is removed from every room; a link that comes back starts
// with snapshots both ways, so interest converges after restarts and
// partitions. One goroutine sends all interest messages, reading the
// current counts when it sends, so a later message never carries an
// older count than an earlier one.

// interestRefresh bounds how often viewer-count changes are sent.
const interestRefresh = time.Second

// linkResync is how often the peers are re-read from the member list (on
// top of membership events, whose buffer may drop some).
const linkResync = 5 * time.Second

// maxForwardBytes bounds one RoomComments frame; a larger batch is split.
const maxForwardBytes = 1 << 20

// roomLink is this node's side of cross-node rooms. A nil *roomLink (no
// NodeListen) does nothing.
type roomLink struct {
	srv  *Server
	link *nodelink.Link

	mu       sync.Mutex
	remote   map[string]map[string]uint64 // room -> peer -> viewers there
	byPeer   map[string]map[string]struct{}
	dirty    map[string]struct{} // rooms whose local count changed since told
	snapshot map[string]struct{} // peers owed a snapshot (their link came up)
	wake     chan struct{}       // cap 1: something urgent to send

	forwarded *prometheus.CounterVec // peer
	received  *prometheus.CounterVec // peer
}

// startLink listens for the inter-node link (Config.NodeListen).
func (srv *Server) startLink() (*roomLink, error) {
	cfg := srv.cfg
	rl := &roomLink{srv: srv, remote: map[string]map[string]uint64{}, byPeer: map[string]map[string]struct{}{},
		dirty: map[string]struct{}{}, snapshot: map[string]struct{}{}, wake: make(chan struct{}, 1),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_room_comments_forwarded_total",
			Help: "Room comments published on this node and sent to a peer with viewers of the room, by peer."}, []string{"peer"}),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "edgegate_room_comments_received_total",
			Help: "Room comments received from a peer for this node's viewers, by peer."}, []string{"peer"}),
	}
	cl := newConvLink(srv)
	l, err := nodelink.New(nodelink.Config{
		NodeID: cfg.NodeID, Listen: cfg.NodeListen, Secret: cfg.RaftSecret, Insecure: cfg.RaftInsecure,
		Logger: srv.log, Registerer: srv.m.reg,
		OnPeerUp: func(peer string) { rl.peerUp(peer); srv.presence.peerUp(peer); cl.peerUp(peer) },
	})
	if err != nil {
		return nil, err
	}
	rl.link = l
	srv.m.reg.MustRegister(rl.forwarded, rl.received)
	l.Handle(transport.TypeRoomInterest, rl.onInterest)
	l.Handle(transport.TypeRoomComments, rl.onComments)
	srv.presence.attach(l)
	l.Handle(transport.TypeConvPresQ, srv.convPres.onQuery)
	cl.attach(l)
	return rl, nil
}

// advertise is the link address peers dial (Config.NodeAdvertise, else
// the listener's).
func (rl *roomLink) advertise() string {
	if a := rl.srv.cfg.NodeAdvertise; a != "" {
		return a
	}
	return rl.link.Addr()
}

// close closes the link.
func (rl *roomLink) close() error {
	if rl == nil {
		return nil
	}
	return rl.link.Close()
}

// viewersChanged notes that room id's local viewer count changed; edge is
// set when it went from 0 to 1 or 1 to 0 (peers are told at once).
func (rl *roomLink) viewersChanged(id string, edge bool) {
	if rl == nil {
		return
	}
	rl.mu.Lock()
	rl.dirty[id] = struct{}{}
	rl.mu.Unlock()
	if edge {
		rl.kick()
	}
}

func (rl *roomLink) kick() { wake(rl.wake) }

// wake signals ch (capacity 1) without blocking: a signal already pending
// stands for this one too.
func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// peerUp owes peer a snapshot (the first frame on its new link).
func (rl *roomLink) peerUp(peer string) {
	rl.mu.Lock()
	rl.snapshot[peer] = struct{}{}
	rl.mu.Unlock()
	rl.kick()
}

// interestLoop sends interest snapshots and changes until the server stops.
func (rl *roomLink) interestLoop() {
	t := time.NewTicker(interestRefresh)
	defer t.Stop()
	for {
		select {
		case <-rl.srv.quit:
			return
		case <-rl.wake:
		case <-t.C:
		}
		rl.mu.Lock()
		dirty, snap := rl.dirty, rl.snapshot
		rl.dirty, rl.snapshot = map[string]struct{}{}, map[string]struct{}{}
		rl.mu.Unlock()
		if len(snap) > 0 {
			msg := &pb.RoomInterest{Snapshot: true, Rooms: rl.srv.rooms.localViewers(nil)}
			for peer := range snap {
				if err := rl.link.Send(peer, nodelink.Control, msg); err != nil {
					rl.srv.log.Debug("rooms: interest snapshot not sent", "peer", peer, "err", err)
				}
			}
		}
		if len(dirty) > 0 {
			msg := &pb.RoomInterest{Rooms: rl.srv.rooms.localViewers(dirty)}
			b, kind, err := nodelink.Encode(msg)
			if err != nil {
				continue
			}
			for _, peer := range rl.link.Peers() {
				_ = rl.link.SendFrame(peer, nodelink.Control, b, kind)
			}
		}
	}
}

// onInterest applies a peer's RoomInterest.
func (rl *roomLink) onInterest(from string, m proto.Message) (proto.Message, error) {
	in := m.(*pb.RoomInterest)
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if in.GetSnapshot() {
		rl.dropPeerLocked(from)
	}
	for _, r := range in.GetRooms() {
		room := r.GetRoom()
		if r.GetViewers() == 0 {
			delete(rl.remote[room], from)
			if len(rl.remote[room]) == 0 {
				delete(rl.remote, room)
			}
			delete(rl.byPeer[from], room)
			continue
		}
		if rl.remote[room] == nil {
			rl.remote[room] = map[string]uint64{}
		}
		rl.remote[room][from] = r.GetViewers()
		if rl.byPeer[from] == nil {
			rl.byPeer[from] = map[string]struct{}{}
		}
		rl.byPeer[from][room] = struct{}{}
	}
	return nil, nil
}

// dropPeerLocked forgets every room of peer.
func (rl *roomLink) dropPeerLocked(peer string) {
	for room := range rl.byPeer[peer] {
		delete(rl.remote[room], peer)
		if len(rl.remote[room]) == 0 {
			delete(rl.remote, room)
		}
	}
	delete(rl.byPeer, peer)
}

// onComments delivers comments a peer forwarded to this node's viewers.
func (rl *roomLink) onComments(from string, m proto.Message) (proto.Message, error) {
	c := m.(*pb.RoomComments)
	rl.received.WithLabelValues(from).Add(float64(len(c.GetMessages())))
	if len(c.GetMessages()) > 0 {
		rl.srv.rooms.inject(c.GetRoom(), c.GetMessages())
	}
	return nil, nil
}

// forward sends comments published here to every peer with viewers of the
// room: encoded once, one frame per peer (split past maxForwardBytes).
func (rl *roomLink) forward(room string, ms []*pb.Message) {
	if rl == nil || len(ms) == 0 {
		return
	}
	rl.mu.Lock()
	peers := make([]string, 0, len(rl.remote[room]))
	for p := range rl.remote[room] {
		peers = append(peers, p)
	}
	rl.mu.Unlock()
	if len(peers) == 0 {
		return
	}
	for len(ms) > 0 {
		n, size := 0, 0
		for n < len(ms) && (n == 0 || size+proto.Size(ms[n]) <= maxForwardBytes) {
			size += proto.Size(ms[n])
			n++
		}
		b, kind, err := nodelink.Encode(&pb.RoomComments{Room: room, Messages: ms[:n]})
		if err != nil {
			rl.srv.log.Error("rooms: encoding comments for peers", "room", room, "err", err)
			return
		}
		for _, p := range peers {
			if rl.link.SendFrame(p, nodelink.Live, b, kind) == nil {
				rl.forwarded.WithLabelValues(p).Add(float64(n))
			}
		}
		ms = ms[n:]
	}
}

// remoteViewers returns the viewers of room on the other nodes, as they
// last told (at most interestRefresh old).
func (rl *roomLink) remoteViewers(room string) uint64 {
	if rl == nil {
		return 0
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	var n uint64
	for _, v := range rl.remote[room] {
		n += v
	}
	return n
}

// watchPeers keeps the link's peers in step with the gossip members that
// advertise a link address, and forgets the rooms of members that left or
// died, until the server stops.
func (rl *roomLink) watchPeers() {
	sub := rl.srv.cluster.Subscribe(256)
	defer sub.Close()
	t := time.NewTicker(linkResync)
	defer t.Stop()
	known := map[string]string{}
	resync := func() {
		alive := map[string]string{}
		for _, m := range rl.srv.cluster.Members() {
			if m.State == gossip.StateAlive && m.MetaOK && m.Meta.NodeAddr != "" && m.ID != rl.srv.cfg.NodeID {
				alive[m.ID] = m.Meta.NodeAddr
			}
		}
		for id, addr := range alive {
			if known[id] != addr {
				rl.link.SetPeer(id, addr)
			}
		}
		for id := range known {
			if _, ok := alive[id]; !ok {
				rl.link.RemovePeer(id)
				rl.mu.Lock()
				rl.dropPeerLocked(id)
				rl.mu.Unlock()
				rl.srv.convLink.dropPeer(id)
			}
		}
		known = maps.Clone(alive)
	}
	resync()
	for {
		select {
		case <-rl.srv.quit:
			return
		case <-sub.Events():
		case <-t.C:
		}
		resync()
	}
}

// localViewers returns this node's viewer count of the rooms in only (0
// for a room it has no viewers of), or of every room with viewers when
// only is nil.
func (h *roomHub) localViewers(only map[string]struct{}) []*pb.RoomViewers {
	var out []*pb.RoomViewers
	if only != nil {
		for id := range only {
			out = append(out, &pb.RoomViewers{Room: id, Viewers: h.viewerCount(id)})
		}
		return out
	}
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		n := uint64(len(r.viewers))
		r.mu.Unlock()
		if n > 0 {
			out = append(out, &pb.RoomViewers{Room: r.id, Viewers: n})
		}
	}
	return out
}

// remoteViewersByNode returns the viewers of room on each other node, as
// they last told (the node directory, GET /v1/directory/rooms/{room}).
func (rl *roomLink) remoteViewersByNode(room string) map[string]uint64 {
	if rl == nil {
		return nil
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return maps.Clone(rl.remote[room])
}
