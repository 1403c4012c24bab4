package client

import (
	"sync"

	"github.com/edgegate/edgegate/transport/pb"
)

// convState is the receive position of one conversation.
type convState struct {
	last    uint64 // highest seq handed to the application
	known   bool   // last is meaningful (set, or something was delivered)
	held    map[uint64]*pb.Message
	syncing bool // a SyncRequest for the gap is outstanding
}

// recvState holds per-conversation receive positions. It outlives
// connections. Replacing a conversation's *convState (SubscribeFrom,
// Unsubscribe) detaches in-flight updates to the old one.
type recvState struct {
	mu    sync.Mutex
	convs map[string]*convState
	dirty map[string]struct{} // advanced since the last DeliveryAck
	since int                 // messages delivered since the last DeliveryAck
}

func (r *recvState) init(initial map[string]uint64) {
	r.convs = make(map[string]*convState, len(initial))
	r.dirty = make(map[string]struct{})
	for conv, seq := range initial {
		r.convs[conv] = &convState{last: seq, known: seq > 0}
	}
}

// state returns conv's state, creating it. Caller holds r.mu.
func (r *recvState) state(conv string) *convState {
	st := r.convs[conv]
	if st == nil {
		st = &convState{}
		r.convs[conv] = st
	}
	return st
}

// advanced records a delivery; it reports whether an ack should be flushed
// now, and whether this is the first unacknowledged delivery since the last
// flush (the caller then arms the AckInterval timer). Caller holds r.mu.
func (r *recvState) advanced(conv string, every int) (flushNow, first bool) {
	first = len(r.dirty) == 0
	r.dirty[conv] = struct{}{}
	r.since++
	return r.since >= every, first
}

// set replaces conv's position (0: unknown, let the server choose).
func (r *recvState) set(conv string, seq uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.convs[conv] = &convState{last: seq, known: seq > 0}
}

// forget drops conv's position.
func (r *recvState) forget(conv string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.convs, conv)
	delete(r.dirty, conv)
}

// position returns conv's last seq, 0 when unknown.
func (r *recvState) position(conv string) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.convs[conv]; st != nil && st.known {
		return st.last
	}
	return 0
}

// positions lists known positions for Connect.
func (r *recvState) positions() []*pb.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*pb.Position, 0, len(r.convs))
	for conv, st := range r.convs {
		if st.known && st.last > 0 {
			out = append(out, &pb.Position{Conversation: conv, Seq: st.last})
		}
	}
	return out
}

func (r *recvState) snapshot() map[string]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]uint64, len(r.convs))
	for conv, st := range r.convs {
		if st.known {
			out[conv] = st.last
		}
	}
	return out
}

// beginConn drops per-connection gap state: after a reconnect the server
// resends everything after the positions sent in Connect.
func (r *recvState) beginConn() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, st := range r.convs {
		st.held, st.syncing = nil, false
	}
}

// takeDirty returns the positions advanced since the last call.
func (r *recvState) takeDirty() []*pb.Position {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.since = 0
	if len(r.dirty) == 0 {
		return nil
	}
	out := make([]*pb.Position, 0, len(r.dirty))
	for conv := range r.dirty {
		if st := r.convs[conv]; st != nil && st.known {
			out = append(out, &pb.Position{Conversation: conv, Seq: st.last})
		}
		delete(r.dirty, conv)
	}
	return out
}

// remarkDirty marks positions whose ack could not be sent.
func (r *recvState) remarkDirty(pos []*pb.Position) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range pos {
		r.dirty[p.GetConversation()] = struct{}{}
	}
}
