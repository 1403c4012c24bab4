package nodelink

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Class is a frame's delivery class on the link, which decides what
// happens when a peer's queue is full.
type Class uint8

const (
	// Live frames (room comments) are dropped, oldest first, when the
	// peer's queue is full, and when the peer has no link; each drop is
	// counted. A slow peer never holds up the others or the sender.
	Live Class = iota
	// Control frames (interest, requests, replies) are never dropped
	// while the link is up: a peer that lets ControlQueueFrames of them
	// pile up has its link closed (the next link starts from snapshots).
	// With no link up, sending one fails with ErrNotConnected.
	Control
)

// Handler handles one kind of frame from a peer. It runs on the link's
// reader goroutine, in the order the peer sent its frames, and must not
// block: a slow handler holds up that peer's frames (and only them); hand
// long work to another goroutine. For a request (Link.Request) its reply,
// or its error, is sent back; for other frames both are ignored.
type Handler func(from string, m proto.Message) (reply proto.Message, err error)

// Handle registers h for the inter-node frame type t (replacing any
// earlier one). Frames of a type without a handler are counted and
// dropped; a request without one is answered with an error.
func (l *Link) Handle(t transport.FrameType, h Handler) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.handlers[t] = h
}

func (l *Link) handler(t transport.FrameType) Handler {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.handlers[t]
}

// Encode encodes m as a link frame, for SendFrame.
func Encode(m proto.Message) ([]byte, transport.FrameType, error) {
	t, err := transport.TypeOf(m)
	if err != nil || !t.InterNode() {
		return nil, 0, fmt.Errorf("nodelink: %T is not an inter-node message", m)
	}
	b, err := transport.Encode(nil, m, nil)
	return b, t, err
}

// Send sends m to peer.
func (l *Link) Send(peer string, class Class, m proto.Message) error {
	b, t, err := Encode(m)
	if err != nil {
		return err
	}
	return l.SendFrame(peer, class, b, t)
}

// SendFrame queues frame b (from Encode, of type t) to peer. b is shared,
// not copied: do not modify it afterwards. Encode once and call it for
// every peer to send one message to many.
func (l *Link) SendFrame(peer string, class Class, b []byte, t transport.FrameType) error {
	var cn *conn
	if p := l.peer(peer); p != nil {
		cn = p.current()
	}
	if cn == nil {
		if class == Live {
			l.m.drop(t, "no_link")
		}
		return ErrNotConnected
	}
	return cn.enqueue(item{b: b, t: t}, class)
}

// Request sends m to peer and waits for its handler's reply (a
// RemoteError when the handler failed, ErrLinkDown when the link went down
// first), or for ctx.
func (l *Link) Request(ctx context.Context, peer string, m proto.Message) (proto.Message, error) {
	t, err := transport.TypeOf(m)
	if err != nil || !t.InterNode() {
		return nil, fmt.Errorf("nodelink: %T is not an inter-node message", m)
	}
	payload, err := proto.Marshal(m)
	if err != nil {
		return nil, err
	}
	p := l.peer(peer)
	if p == nil {
		return nil, ErrNotConnected
	}
	cn := p.current()
	if cn == nil {
		return nil, ErrNotConnected
	}
	c := l.calls.add(cn)
	defer l.calls.remove(c.id)
	b, err := transport.AppendFrame(nil, t, []transport.Extension{{Type: transport.ExtRequest, Value: binary.BigEndian.AppendUint64(nil, c.id)}}, payload, nil)
	if err != nil {
		return nil, err
	}
	if err := cn.enqueue(item{b: b, t: t}, Control); err != nil {
		return nil, err
	}
	select {
	case r := <-c.ch:
		return r.m, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-l.quit:
		return nil, ErrClosed
	}
}

// Ping sends a LinkPing request to peer and returns the round-trip time.
func (l *Link) Ping(ctx context.Context, peer string) (time.Duration, error) {
	start := time.Now()
	if _, err := l.Request(ctx, peer, &pb.LinkPing{SentUnixNano: start.UnixNano()}); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

var errBadReply = errors.New("nodelink: a request or reply id that is not 8 bytes")

// dispatch hands a received frame to its handler, or to the request
// waiting for it, and sends a request's reply.
func (l *Link) dispatch(cn *conn, f *transport.Frame) error {
	m, err := f.Message()
	if err != nil {
		return err
	}
	if v := f.ExtValue(transport.ExtReply); v != nil {
		if len(v) != 8 {
			return errBadReply
		}
		r := result{m: m}
		if e, ok := m.(*pb.LinkError); ok {
			r = result{err: &RemoteError{Peer: cn.p.id, Message: e.GetMessage()}}
		}
		l.calls.complete(binary.BigEndian.Uint64(v), r)
		return nil
	}
	req := f.ExtValue(transport.ExtRequest)
	if req != nil && len(req) != 8 {
		return errBadReply
	}
	var reply proto.Message
	if h := l.handler(f.Type); h != nil {
		reply, err = h(cn.p.id, m)
	} else if f.Type == transport.TypeLinkPing {
		reply = m
	} else {
		l.m.drop(f.Type, "no_handler")
		err = fmt.Errorf("no handler for %v", f.Type)
	}
	if req == nil {
		return nil
	}
	if err == nil && reply == nil {
		err = errors.New("the handler gave no reply")
	}
	if err != nil {
		reply = &pb.LinkError{Message: err.Error()}
	}
	t, terr := transport.TypeOf(reply)
	payload, merr := proto.Marshal(reply)
	if terr != nil || merr != nil || !t.InterNode() {
		t, payload = transport.TypeLinkError, mustMarshal(&pb.LinkError{Message: fmt.Sprintf("the handler's reply %T is not an inter-node message", reply)})
	}
	b, err := transport.AppendFrame(nil, t, []transport.Extension{{Type: transport.ExtReply, Value: req}}, payload, nil)
	if err != nil {
		return nil
	}
	_ = cn.enqueue(item{b: b, t: t}, Control)
	return nil
}

func mustMarshal(m proto.Message) []byte {
	b, _ := proto.Marshal(m)
	return b
}

// calls are the requests waiting for their reply.
type calls struct {
	mu      sync.Mutex
	next    uint64
	pending map[uint64]*call
}

type call struct {
	id   uint64
	conn *conn
	ch   chan result // cap 1
}

type result struct {
	m   proto.Message
	err error
}

func (cs *calls) add(cn *conn) *call {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.next++
	c := &call{id: cs.next, conn: cn, ch: make(chan result, 1)}
	cs.pending[c.id] = c
	return c
}

func (cs *calls) remove(id uint64) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	delete(cs.pending, id)
}

// complete hands r to the request id, if it still waits.
func (cs *calls) complete(id uint64, r result) {
	cs.mu.Lock()
	c := cs.pending[id]
	delete(cs.pending, id)
	cs.mu.Unlock()
	if c != nil {
		c.ch <- r
	}
}

// failConn fails the requests sent on cn with ErrLinkDown.
func (cs *calls) failConn(cn *conn) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, c := range cs.pending {
		if c.conn == cn {
			delete(cs.pending, id)
			c.ch <- result{err: ErrLinkDown}
		}
	}
}
