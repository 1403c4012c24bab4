package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// Subscribe subscribes to conversations and returns each one's head seq.
// Delivery starts after the position the client has for a conversation;
// for one it has none for, after the device's position stored on the
// server, else from the start of the log. Subscriptions are restored after
// reconnects.
func (c *Client) Subscribe(ctx context.Context, convs ...string) (map[string]uint64, error) {
	pos := make(map[string]uint64, len(convs))
	for _, conv := range convs {
		pos[conv] = c.recv.position(conv)
	}
	return c.subscribe(ctx, pos)
}

// SubscribeFrom subscribes to conversations starting after the given
// positions, replacing the client's own positions for them: messages with
// seq <= positions[conv] are not delivered, later ones are (again, if they
// had been). A position of 0 lets the server choose (the device's stored
// position, else the whole log). It returns each conversation's head seq.
func (c *Client) SubscribeFrom(ctx context.Context, positions map[string]uint64) (map[string]uint64, error) {
	for conv := range positions {
		if !validID(conv) {
			return nil, fmt.Errorf("%w: conversation %q", ErrInvalidID, conv)
		}
	}
	for conv, seq := range positions {
		c.recv.set(conv, seq)
	}
	return c.subscribe(ctx, positions)
}

func (c *Client) subscribe(ctx context.Context, pos map[string]uint64) (map[string]uint64, error) {
	if len(pos) == 0 {
		return map[string]uint64{}, nil
	}
	list := make([]*pb.Position, 0, len(pos))
	for conv, seq := range pos {
		if !validID(conv) {
			return nil, fmt.Errorf("%w: conversation %q", ErrInvalidID, conv)
		}
		list = append(list, &pb.Position{Conversation: conv, Seq: seq})
	}
	resp, err := c.request(ctx, func(id uint64) proto.Message { return &pb.Subscribe{RequestId: id, Conversations: list} })
	if err != nil {
		return nil, err
	}
	sub, ok := resp.(*pb.Subscribed)
	if !ok {
		return nil, fmt.Errorf("%w: %T to Subscribe", ErrBadResponse, resp)
	}
	c.mu.Lock()
	for conv := range pos {
		c.subs[conv] = struct{}{}
	}
	c.mu.Unlock()
	heads := make(map[string]uint64, len(sub.GetConversations()))
	for _, p := range sub.GetConversations() {
		heads[p.GetConversation()] = p.GetSeq()
	}
	return heads, nil
}

// Unsubscribe stops delivery from conversations and forgets the client's
// positions for them.
func (c *Client) Unsubscribe(ctx context.Context, convs ...string) error {
	for _, conv := range convs {
		if !validID(conv) {
			return fmt.Errorf("%w: conversation %q", ErrInvalidID, conv)
		}
	}
	if _, err := c.request(ctx, func(id uint64) proto.Message {
		return &pb.Unsubscribe{RequestId: id, Conversations: convs}
	}); err != nil {
		return err
	}
	c.mu.Lock()
	for _, conv := range convs {
		delete(c.subs, conv)
	}
	c.mu.Unlock()
	for _, conv := range convs {
		c.recv.forget(conv)
	}
	return nil
}

// JoinRoom starts receiving a room's live comments and returns its viewer
// count. The room is rejoined after reconnects.
func (c *Client) JoinRoom(ctx context.Context, room string) (viewers uint64, err error) {
	if !validID(room) {
		return 0, fmt.Errorf("%w: room %q", ErrInvalidID, room)
	}
	resp, err := c.request(ctx, func(id uint64) proto.Message { return &pb.Subscribe{RequestId: id, Rooms: []string{room}} })
	if err != nil {
		return 0, err
	}
	sub, ok := resp.(*pb.Subscribed)
	if !ok {
		return 0, fmt.Errorf("%w: %T to Subscribe", ErrBadResponse, resp)
	}
	c.mu.Lock()
	c.rooms[room] = struct{}{}
	c.mu.Unlock()
	for _, ri := range sub.GetRooms() {
		if ri.GetRoom() == room {
			return ri.GetViewers(), nil
		}
	}
	return 0, nil
}

// LeaveRoom stops receiving a room's comments.
func (c *Client) LeaveRoom(ctx context.Context, room string) error {
	if !validID(room) {
		return fmt.Errorf("%w: room %q", ErrInvalidID, room)
	}
	if _, err := c.request(ctx, func(id uint64) proto.Message {
		return &pb.Unsubscribe{RequestId: id, Rooms: []string{room}}
	}); err != nil {
		return err
	}
	c.mu.Lock()
	delete(c.rooms, room)
	c.mu.Unlock()
	return nil
}

// request runs a request-id keyed request.
func (c *Client) request(ctx context.Context, build func(id uint64) proto.Message) (proto.Message, error) {
	return c.roundTrip(ctx, func() (reqKey, proto.Message) {
		id := c.reqID.Add(1)
		return reqKey{id: id}, build(id)
	})
}
