package client

import (
	"context"
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// FuzzHandleFrame feeds arbitrary server frames to a live connection's
// frame handler: it must never panic, whatever the bytes.
func FuzzHandleFrame(f *testing.F) {
	msg := func(conv string, seq uint64) *pb.Message {
		return &pb.Message{Conversation: conv, Seq: seq, Body: []byte("hello")}
	}
	seeds := []proto.Message{
		&pb.Deliver{Messages: []*pb.Message{msg("c1", 1), msg("c1", 2), msg("c1", 2), msg("c1", 5)}},
		&pb.Deliver{Messages: []*pb.Message{{Room: "r", Seq: 3}, {Room: "r", Seq: 1}, {}}, Dropped: 7},
		&pb.Ack{ClientMsgId: "m1", Conversation: "c1", Seq: 1, Duplicate: true},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, ClientMsgId: "m1", RetryAfterMs: 10},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, RequestId: 3},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED},
		&pb.Subscribed{RequestId: 1, Conversations: []*pb.Position{{Conversation: "c1", Seq: 9}}},
		&pb.Presence{Conversation: "c1", Users: []*pb.PresenceUser{{UserId: "u"}}},
		&pb.SyncResponse{RequestId: 1, Messages: []*pb.Message{msg("c1", 3)}, HasMore: true},
		&pb.Pong{Nonce: 1}, &pb.Ping{Nonce: 2}, &pb.Redirect{Urls: []string{"ws://x"}},
		&pb.Connected{SessionId: "s"},
	}
	for _, m := range seeds {
		b, err := transport.Encode(nil, m, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	big, _ := transport.Encode(nil, &pb.Deliver{Messages: []*pb.Message{{Conversation: "c", Seq: 1, Body: make([]byte, 2000)}}},
		&transport.Compressor{Codec: transport.CodecZstd})
	f.Add(big)
	f.Add([]byte{1, 8, 0, 0, 0, 0, 0, 0})

	f.Fuzz(func(t *testing.T, b []byte) {
		c := newClient(Config{URL: "ws://x", Token: "t", Dial: func(context.Context, string) (transport.Conn, error) { return nil, nil }})
		defer c.cancel()
		a, _ := memPipe(1)
		cn := newConnection(c, a, &pb.Connected{})
		defer cn.cancel()
		// A gap starts a sync; resolve that path with a request id known to it.
		cn.syncs[1] = "c1"
		var wg sync.WaitGroup
		stop := make(chan struct{})
		wg.Go(func() {
			for {
				select {
				case <-c.msgs:
				case <-cn.out:
				case <-stop:
					return
				}
			}
		})
		_ = cn.handleFrame(b)
		close(stop)
		wg.Wait()
	})
}
