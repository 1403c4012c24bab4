package client

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// Ack confirms a sent message.
type Ack struct {
	// ClientMsgID is the id the message was sent with.
	ClientMsgID string
	// Conversation or Room is the target.
	Conversation, Room string
	// Seq is the message's sequence in the conversation (durable), or in
	// the room (in memory, per node).
	Seq uint64
	// ServerTime is when the server ordered the message.
	ServerTime time.Time
	// Duplicate is true when the server had already stored this message
	// (a resend, e.g. after a reconnect); Seq is the original one.
	Duplicate bool
}

func ackFromPB(a *pb.Ack) Ack {
	return Ack{
		ClientMsgID: a.GetClientMsgId(), Conversation: a.GetConversation(), Room: a.GetRoom(),
		Seq: a.GetSeq(), ServerTime: time.UnixMilli(a.GetServerTimeMs()), Duplicate: a.GetDuplicate(),
	}
}

// Send publishes body to a conversation with a fresh client message id and
// waits until the server has stored it durably. See SendWithID.
func (c *Client) Send(ctx context.Context, conv string, body []byte) (Ack, error) {
	return c.SendWithID(ctx, conv, NewMessageID(), body)
}

// SendWithID publishes body to a conversation under clientMsgID and waits
// for its Ack. If the connection drops first, the message is sent again
// with the same id after the reconnect; the server deduplicates, so exactly
// one message is stored and the Ack carries its seq (Duplicate set when the
// first copy had been stored). While disconnected it waits for the
// reconnect. RATE_LIMITED and OVERLOADED answers are retried after the
// server's retry_after until ctx is done; other refusals (FORBIDDEN,
// TOO_LARGE, BAD_REQUEST, NOT_FOUND) are returned as *Error.
//
// When ctx ends first the message may or may not have been stored: call
// SendWithID again with the same id to find out without duplicating it.
// body is copied; the caller may reuse it once SendWithID returns.
func (c *Client) SendWithID(ctx context.Context, conv, clientMsgID string, body []byte) (Ack, error) {
	if !validID(conv) {
		return Ack{}, fmt.Errorf("%w: conversation %q", ErrInvalidID, conv)
	}
	return c.send(ctx, &pb.Send{ClientMsgId: clientMsgID, Target: &pb.Send_Conversation{Conversation: conv},
		Body: body, Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED})
}

// SendLive publishes a comment to a room (live class) and waits until the
// server accepted it for broadcast. The sender receives its own comment on
// Messages() too.
func (c *Client) SendLive(ctx context.Context, room string, body []byte) (Ack, error) {
	if !validID(room) {
		return Ack{}, fmt.Errorf("%w: room %q", ErrInvalidID, room)
	}
	return c.send(ctx, &pb.Send{ClientMsgId: NewMessageID(), Target: &pb.Send_Room{Room: room},
		Body: body, Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE})
}

func (c *Client) send(ctx context.Context, m *pb.Send) (Ack, error) {
	if !validID(m.GetClientMsgId()) {
		return Ack{}, fmt.Errorf("%w: client message id %q", ErrInvalidID, m.GetClientMsgId())
	}
	c.mu.Lock()
	limit := c.maxMessageBytes
	c.mu.Unlock()
	if limit > 0 && len(m.GetBody()) > limit {
		return Ack{}, &Error{Code: pb.ErrorCode_ERROR_CODE_TOO_LARGE,
			Reason: fmt.Sprintf("body of %d bytes exceeds the server's limit of %d", len(m.GetBody()), limit)}
	}
	m.Body = bytes.Clone(m.Body) // the frame may still be queued if ctx ends first
	resp, err := c.roundTrip(ctx, func() (reqKey, proto.Message) { return reqKey{cmid: m.GetClientMsgId()}, m })
	if err != nil {
		return Ack{}, err
	}
	a, ok := resp.(*pb.Ack)
	if !ok {
		return Ack{}, fmt.Errorf("%w: %T to Send", ErrBadResponse, resp)
	}
	c.stats.acked.Add(1)
	return ackFromPB(a), nil
}
