package transport

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// FrameType says which Protobuf message a frame carries. Values are stable.
type FrameType uint8

// Frame types. The comment names the direction: C->S client to server,
// S->C server to client.
const (
	TypeConnect      FrameType = 1  // C->S pb.Connect
	TypeConnected    FrameType = 2  // S->C pb.Connected
	TypeSubscribe    FrameType = 3  // C->S pb.Subscribe
	TypeSubscribed   FrameType = 4  // S->C pb.Subscribed
	TypeUnsubscribe  FrameType = 5  // C->S pb.Unsubscribe
	TypeSend         FrameType = 6  // C->S pb.Send
	TypeAck          FrameType = 7  // S->C pb.Ack
	TypeDeliver      FrameType = 8  // S->C pb.Deliver
	TypeDeliveryAck  FrameType = 9  // C->S pb.DeliveryAck
	TypeSyncRequest  FrameType = 10 // C->S pb.SyncRequest
	TypeSyncResponse FrameType = 11 // S->C pb.SyncResponse
	TypePresenceQ    FrameType = 12 // C->S pb.PresenceQuery
	TypePresence     FrameType = 13 // S->C pb.Presence
	TypePing         FrameType = 14 // both pb.Ping
	TypePong         FrameType = 15 // both pb.Pong
	TypeError        FrameType = 16 // S->C pb.Error
	TypeRedirect     FrameType = 17 // S->C pb.Redirect

	typeMax = TypeRedirect
)

// Inter-node frame types, for edge/nodelink only (transport/pb/nodelink.proto):
// ParseHeader accepts them only with Limits.InterNode set, which in turn
// refuses every client type, so a client can never send one to an edge and
// a peer can never send a client frame on the link.
const (
	TypeRoomInterest FrameType = 64 // node->node pb.RoomInterest
	TypeRoomComments FrameType = 65 // node->node pb.RoomComments
	TypeLinkPing     FrameType = 66 // node->node pb.LinkPing
	TypeLinkError    FrameType = 67 // node->node pb.LinkError
	TypePresenceUpd  FrameType = 68 // node->node pb.PresenceUpdate
	TypePresenceLook FrameType = 69 // node->node pb.PresenceLookup
	TypePresenceLoc  FrameType = 70 // node->node pb.PresenceLookupReply
	TypeConvPresQ    FrameType = 71 // node->node pb.ConvPresenceQuery
	TypeConvPres     FrameType = 72 // node->node pb.ConvPresenceReply
	TypeConvInterest FrameType = 73 // node->node pb.ConvInterest
	TypeConvPresUpd  FrameType = 74 // node->node pb.ConvPresenceUpdate

	typeInterNodeMin = TypeRoomInterest
	typeInterNodeMax = TypeConvPresUpd
)

var typeNames = [...]string{
	TypeConnect: "connect", TypeConnected: "connected", TypeSubscribe: "subscribe",
	TypeSubscribed: "subscribed", TypeUnsubscribe: "unsubscribe", TypeSend: "send",
	TypeAck: "ack", TypeDeliver: "deliver", TypeDeliveryAck: "delivery_ack",
	TypeSyncRequest: "sync_request", TypeSyncResponse: "sync_response",
	TypePresenceQ: "presence_query", TypePresence: "presence", TypePing: "ping",
	TypePong: "pong", TypeError: "error", TypeRedirect: "redirect",
	TypeRoomInterest: "room_interest", TypeRoomComments: "room_comments",
	TypeLinkPing: "link_ping", TypeLinkError: "link_error",
	TypePresenceUpd: "presence_update", TypePresenceLook: "presence_lookup", TypePresenceLoc: "presence_lookup_reply",
	TypeConvPresQ: "conv_presence_query", TypeConvPres: "conv_presence_reply",
	TypeConvInterest: "conv_interest", TypeConvPresUpd: "conv_presence_update",
}

// Known reports whether t is a defined frame type.
func (t FrameType) Known() bool { return t >= TypeConnect && t <= typeMax }

// InterNode reports whether t is a defined inter-node frame type.
func (t FrameType) InterNode() bool { return t >= typeInterNodeMin && t <= typeInterNodeMax }

// String returns the frame type's name, used as a metric label.
func (t FrameType) String() string {
	if t.Known() || t.InterNode() {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// NewMessage returns an empty message of the type a frame of type t carries.
func NewMessage(t FrameType) (proto.Message, error) {
	switch t {
	case TypeConnect:
		return new(pb.Connect), nil
	case TypeConnected:
		return new(pb.Connected), nil
	case TypeSubscribe:
		return new(pb.Subscribe), nil
	case TypeSubscribed:
		return new(pb.Subscribed), nil
	case TypeUnsubscribe:
		return new(pb.Unsubscribe), nil
	case TypeSend:
		return new(pb.Send), nil
	case TypeAck:
		return new(pb.Ack), nil
	case TypeDeliver:
		return new(pb.Deliver), nil
	case TypeDeliveryAck:
		return new(pb.DeliveryAck), nil
	case TypeSyncRequest:
		return new(pb.SyncRequest), nil
	case TypeSyncResponse:
		return new(pb.SyncResponse), nil
	case TypePresenceQ:
		return new(pb.PresenceQuery), nil
	case TypePresence:
		return new(pb.Presence), nil
	case TypePing:
		return new(pb.Ping), nil
	case TypePong:
		return new(pb.Pong), nil
	case TypeError:
		return new(pb.Error), nil
	case TypeRedirect:
		return new(pb.Redirect), nil
	case TypeRoomInterest:
		return new(pb.RoomInterest), nil
	case TypeRoomComments:
		return new(pb.RoomComments), nil
	case TypeLinkPing:
		return new(pb.LinkPing), nil
	case TypeLinkError:
		return new(pb.LinkError), nil
	case TypePresenceUpd:
		return new(pb.PresenceUpdate), nil
	case TypePresenceLook:
		return new(pb.PresenceLookup), nil
	case TypePresenceLoc:
		return new(pb.PresenceLookupReply), nil
	case TypeConvPresQ:
		return new(pb.ConvPresenceQuery), nil
	case TypeConvPres:
		return new(pb.ConvPresenceReply), nil
	case TypeConvInterest:
		return new(pb.ConvInterest), nil
	case TypeConvPresUpd:
		return new(pb.ConvPresenceUpdate), nil
	}
	return nil, fmt.Errorf("%w: %d", ErrUnknownType, uint8(t))
}

// TypeOf returns the frame type that carries m.
func TypeOf(m proto.Message) (FrameType, error) {
	switch m.(type) {
	case *pb.Connect:
		return TypeConnect, nil
	case *pb.Connected:
		return TypeConnected, nil
	case *pb.Subscribe:
		return TypeSubscribe, nil
	case *pb.Subscribed:
		return TypeSubscribed, nil
	case *pb.Unsubscribe:
		return TypeUnsubscribe, nil
	case *pb.Send:
		return TypeSend, nil
	case *pb.Ack:
		return TypeAck, nil
	case *pb.Deliver:
		return TypeDeliver, nil
	case *pb.DeliveryAck:
		return TypeDeliveryAck, nil
	case *pb.SyncRequest:
		return TypeSyncRequest, nil
	case *pb.SyncResponse:
		return TypeSyncResponse, nil
	case *pb.PresenceQuery:
		return TypePresenceQ, nil
	case *pb.Presence:
		return TypePresence, nil
	case *pb.Ping:
		return TypePing, nil
	case *pb.Pong:
		return TypePong, nil
	case *pb.Error:
		return TypeError, nil
	case *pb.Redirect:
		return TypeRedirect, nil
	case *pb.RoomInterest:
		return TypeRoomInterest, nil
	case *pb.RoomComments:
		return TypeRoomComments, nil
	case *pb.LinkPing:
		return TypeLinkPing, nil
	case *pb.LinkError:
		return TypeLinkError, nil
	case *pb.PresenceUpdate:
		return TypePresenceUpd, nil
	case *pb.PresenceLookup:
		return TypePresenceLook, nil
	case *pb.PresenceLookupReply:
		return TypePresenceLoc, nil
	case *pb.ConvPresenceQuery:
		return TypeConvPresQ, nil
	case *pb.ConvPresenceReply:
		return TypeConvPres, nil
	case *pb.ConvInterest:
		return TypeConvInterest, nil
	case *pb.ConvPresenceUpdate:
		return TypeConvPresUpd, nil
	}
	return 0, fmt.Errorf("transport: no frame type for %T", m)
}

// Encode appends a frame carrying m to dst.
func Encode(dst []byte, m proto.Message, c *Compressor) ([]byte, error) {
	t, err := TypeOf(m)
	if err != nil {
		return dst, err
	}
	payload, err := proto.MarshalOptions{}.Marshal(m)
	if err != nil {
		return dst, fmt.Errorf("transport: marshal %v: %w", t, err)
	}
	return AppendFrame(dst, t, nil, payload, c)
}

// Decode parses one complete frame and unmarshals its payload.
func Decode(b []byte, lim Limits) (FrameType, proto.Message, error) {
	f, err := ParseFrame(b, lim)
	if err != nil {
		return 0, nil, err
	}
	m, err := f.Message()
	return f.Type, m, err
}

// Message unmarshals the frame's payload into the message its type carries.
func (f *Frame) Message() (proto.Message, error) {
	m, err := NewMessage(f.Type)
	if err != nil {
		return nil, err
	}
	if err := proto.Unmarshal(f.Payload, m); err != nil {
		return nil, fmt.Errorf("%w: %v: %v", ErrBadPayload, f.Type, err)
	}
	return m, nil
}
