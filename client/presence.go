package client

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// PresenceInfo says who is online in a conversation or room.
type PresenceInfo struct {
	// Conversation or Room is what the presence is about.
	Conversation, Room string
	// Users are the users present, with their device counts.
	Users []PresenceUser
	// Viewers is the number of viewers (rooms).
	Viewers uint64
}

// PresenceUser is one user's presence.
type PresenceUser struct {
	UserID  string
	Devices uint32
	Online  bool
}

func presenceFromPB(p *pb.Presence) *PresenceInfo {
	out := &PresenceInfo{Conversation: p.GetConversation(), Room: p.GetRoom(), Viewers: p.GetViewers()}
	for _, u := range p.GetUsers() {
		out.Users = append(out.Users, PresenceUser{UserID: u.GetUserId(), Devices: u.GetDevices(), Online: u.GetOnline()})
	}
	return out
}

// Presence asks who is online in a conversation.
func (c *Client) Presence(ctx context.Context, conv string) (*PresenceInfo, error) {
	if !validID(conv) {
		return nil, fmt.Errorf("%w: conversation %q", ErrInvalidID, conv)
	}
	return c.presence(ctx, &pb.PresenceQuery{Conversation: conv})
}

// RoomPresence asks who is watching a room.
func (c *Client) RoomPresence(ctx context.Context, room string) (*PresenceInfo, error) {
	if !validID(room) {
		return nil, fmt.Errorf("%w: room %q", ErrInvalidID, room)
	}
	return c.presence(ctx, &pb.PresenceQuery{Room: room})
}

func (c *Client) presence(ctx context.Context, q *pb.PresenceQuery) (*PresenceInfo, error) {
	resp, err := c.request(ctx, func(id uint64) proto.Message {
		return &pb.PresenceQuery{RequestId: id, Conversation: q.GetConversation(), Room: q.GetRoom()}
	})
	if err != nil {
		return nil, err
	}
	p, ok := resp.(*pb.Presence)
	if !ok {
		return nil, fmt.Errorf("%w: %T to PresenceQuery", ErrBadResponse, resp)
	}
	return presenceFromPB(p), nil
}
