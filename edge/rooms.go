package edge

import (
	"sync"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// roomHub holds the live (danmaku) rooms of this node. Rooms are in memory:
// live comments are broadcast, not stored.
type roomHub struct {
	srv   *Server
	mu    sync.Mutex
	rooms map[string]*room
}

// room gathers comments over RoomBatchWindow and sends each batch, encoded
// once per codec, to every viewer.
type room struct {
	hub *roomHub
	id  string

	mu      sync.Mutex
	viewers map[*session]struct{}
	seq     uint64
	pending []*pb.Message
	// forward holds the pending comments published on this node, which
	// the next flush also sends to the peers with viewers of the room
	// (rooms_link.go); comments from peers are never forwarded again.
	forward []*pb.Message
	armed   bool // a window timer is running
	// due is set when the window elapsed (or the batch is full) but the
	// previous fan-out had not reached its quorum: the batch goes when it
	// does (fanoutDone) or at the max-delay timer.
	due      bool
	inflight *liveBatch // the last fan-out, until it reaches its quorum
	scratch  []*session
}

func newRoomHub(srv *Server) *roomHub {
	return &roomHub{srv: srv, rooms: make(map[string]*room)}
}

// get returns the room, creating it when create is set.
func (h *roomHub) get(id string, create bool) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.rooms[id]
	if r == nil && create {
		// Room sequences start from the clock so they keep increasing
		// across room re-creation and node restarts (clients may use them
		// to spot drops; live delivery makes no gap-free promise).
		r = &room{hub: h, id: id, viewers: make(map[*session]struct{}), seq: uint64(time.Now().UnixMicro())}
		h.rooms[id] = r
		h.srv.m.rooms.Inc()
	}
	return r
}

// join adds a viewer and returns the viewer count.
func (h *roomHub) join(id string, s *session) uint64 {
	for {
		r := h.get(id, true)
		r.mu.Lock()
		if r.dead() {
			r.mu.Unlock()
			continue
		}
		if _, ok := r.viewers[s]; !ok {
			r.viewers[s] = struct{}{}
			h.srv.m.viewers.Inc()
		}
		n := uint64(len(r.viewers))
		r.mu.Unlock()
		h.srv.link.viewersChanged(id, n == 1)
		s.mu.Lock()
		if s.rooms == nil {
			s.rooms = make(map[string]*room)
		}
		s.rooms[id] = r
		s.mu.Unlock()
		return n
	}
}

// dead reports a room removed from the hub; callers hold r.mu.
func (r *room) dead() bool { return r.viewers == nil }

// leave removes a viewer, and the room when it is empty and idle.
func (h *roomHub) leave(r *room, s *session) {
	s.mu.Lock()
	delete(s.rooms, r.id)
	s.mu.Unlock()
	h.mu.Lock()
	r.mu.Lock()
	left := false
	if _, ok := r.viewers[s]; ok {
		delete(r.viewers, s)
		h.srv.m.viewers.Dec()
		left = true
	}
	last := left && len(r.viewers) == 0
	if len(r.viewers) == 0 && len(r.pending) == 0 && !r.armed && !r.due && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		r.viewers = nil
		h.srv.m.rooms.Dec()
	}
	r.mu.Unlock()
	h.mu.Unlock()
	if left {
		h.srv.link.viewersChanged(r.id, last)
	}
}

// publish queues a comment for the next batch and returns its room
// sequence and server time. The comment also goes to the peers with
// viewers of the room.
func (h *roomHub) publish(id string, m *pb.Message) (uint64, int64) {
	m.ServerTimeMs = time.Now().UnixMilli()
	return h.add(id, []*pb.Message{m}, true), m.ServerTimeMs
}

// inject queues comments a peer forwarded (rooms_link.go) for this node's
// viewers, if it has any, and flushes at once (the sender batched them
// already); they are not forwarded again. They get this node's room
// sequence (a viewer sees one increasing sequence per room) and keep
// their server time.
func (h *roomHub) inject(id string, ms []*pb.Message) bool {
	if h.viewerCount(id) == 0 {
		return false
	}
	h.add(id, ms, false)
	return true
}

// add queues ms for the room's next batch (and, if local, for its peers)
// and returns the last one's room sequence.
func (h *roomHub) add(id string, ms []*pb.Message, local bool) uint64 {
	for {
		r := h.get(id, true)
		r.mu.Lock()
		if r.dead() {
			r.mu.Unlock()
			continue
		}
		for _, m := range ms {
			r.seq++
			m.Seq = r.seq
		}
		r.pending = append(r.pending, ms...)
		if local {
			r.forward = append(r.forward, ms...)
			h.srv.m.liveComments.Add(float64(len(ms)))
		}
		flushNow := (len(r.pending) >= h.srv.cfg.RoomBatchMax || !local) && !r.due
		if !r.armed && !r.due && !flushNow {
			r.armed = true
			time.AfterFunc(h.srv.cfg.RoomBatchWindow, r.windowElapsed)
		}
		seq := r.seq
		r.mu.Unlock()
		if flushNow {
			r.tryFlush()
		}
		return seq
	}
}

// windowElapsed runs when a batch's window is over.
func (r *room) windowElapsed() {
	r.mu.Lock()
	r.armed = false
	r.mu.Unlock()
	r.tryFlush()
}

// tryFlush sends the pending batch now, unless the previous fan-out is
// still below its quorum and younger than RoomBatchMaxDelay: then the batch
// is marked due and goes when that fan-out reaches its quorum or at the
// max-delay timer, whichever is first.
func (r *room) tryFlush() {
	cfg := &r.hub.srv.cfg
	r.mu.Lock()
	if b := r.inflight; b != nil && !b.reached() {
		if wait := cfg.RoomBatchMaxDelay - time.Since(b.started); wait > 0 {
			if !r.due {
				r.due = true
				time.AfterFunc(wait, func() { r.maxDelayElapsed(b) })
			}
			r.mu.Unlock()
			return
		}
	}
	r.due = false
	r.mu.Unlock()
	r.flush() // replaces inflight when it sends a batch
}

// fanoutDone runs when batch b reached its quorum.
func (r *room) fanoutDone(b *liveBatch) {
	r.mu.Lock()
	if r.inflight != b {
		r.mu.Unlock()
		return
	}
	r.inflight = nil
	due := r.due
	r.mu.Unlock()
	if due {
		// On a fresh goroutine: this runs on a viewer's writer. After
		// Close nothing is sent any more, so a refused start is fine.
		r.hub.srv.goFunc(r.tryFlush)
	}
}

// maxDelayElapsed sends a due batch whose predecessor b is too slow.
func (r *room) maxDelayElapsed(b *liveBatch) {
	r.mu.Lock()
	stuck := r.inflight == b && r.due
	r.mu.Unlock()
	if stuck {
		r.hub.srv.m.liveFanoutTimeouts.Inc()
		r.tryFlush()
	}
}

// flush sends the pending batch to every viewer.
func (r *room) flush() {
	h := r.hub
	r.mu.Lock()
	batch, forward := r.pending, r.forward
	r.pending, r.forward = nil, nil
	r.due = false
	viewers := r.scratch[:0]
	for v := range r.viewers {
		viewers = append(viewers, v)
	}
	r.scratch = nil
	empty := len(r.viewers) == 0
	var lb *liveBatch
	if len(batch) > 0 && len(viewers) > 0 {
		lb = &liveBatch{room: r, started: time.Now(), comments: uint64(len(batch)), trigger: quorumTrigger(len(viewers), h.srv.cfg.RoomFanoutQuorum)}
		lb.remaining.Store(int64(len(viewers)))
		r.inflight = lb
	}
	r.mu.Unlock()
	h.srv.link.forward(r.id, forward)
	if lb != nil {
		var frames [3]*transport.SharedFrame
		for _, v := range viewers {
			c := v.comp.Codec
			if int(c) >= len(frames) {
				c = transport.CodecNone
			}
			if frames[c] == nil {
				b, err := transport.Encode(nil, &pb.Deliver{Messages: batch}, &transport.Compressor{Codec: c, Threshold: h.srv.cfg.CompressThreshold})
				if err != nil {
					h.srv.log.Error("encoding room batch", "room", r.id, "err", err)
					return
				}
				frames[c] = transport.NewSharedFrame(b)
				h.srv.m.liveBatches.Inc()
			}
			if !v.enqueueLive(liveItem{frame: frames[c], batch: lb}) {
				lb.done()
			}
		}
		h.srv.m.delivered.WithLabelValues("live").Add(float64(len(batch) * len(viewers)))
	}
	clear(viewers)
	r.mu.Lock()
	if r.scratch == nil {
		r.scratch = viewers[:0]
	}
	r.mu.Unlock()
	if empty {
		h.mu.Lock()
		r.mu.Lock()
		if len(r.viewers) == 0 && len(r.pending) == 0 && !r.armed && !r.due && h.rooms[r.id] == r {
			delete(h.rooms, r.id)
			r.viewers = nil
			h.srv.m.rooms.Dec()
		}
		r.mu.Unlock()
		h.mu.Unlock()
	}
}

// presence lists the room's viewers by user, and the viewer count.
func (h *roomHub) presence(id string) ([]*pb.PresenceUser, uint64) {
	r := h.get(id, false)
	if r == nil {
		return nil, 0
	}
	counts := make(map[string]uint32)
	r.mu.Lock()
	for s := range r.viewers {
		counts[s.user]++
	}
	n := uint64(len(r.viewers))
	r.mu.Unlock()
	return presenceList(counts), n
}

// viewerCount returns the number of viewers of a room on this node.
func (h *roomHub) viewerCount(id string) uint64 {
	r := h.get(id, false)
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return uint64(len(r.viewers))
}
