package edge

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// FuzzSessionFrames feeds arbitrary frames to a live session after a valid
// Connect: the server must answer or close, never panic or hang. Seeds are
// real frames of every client type.
func FuzzSessionFrames(f *testing.F) {
	for _, m := range []proto.Message{
		&pb.Send{ClientMsgId: "a", Target: &pb.Send_Conversation{Conversation: "c:1"}, Body: []byte("hi")},
		&pb.Send{ClientMsgId: "b", Target: &pb.Send_Room{Room: "r:1"}, Body: []byte("wow")},
		&pb.Subscribe{RequestId: 1, Conversations: []*pb.Position{{Conversation: "c:1", Seq: 3}}, Rooms: []string{"r:1"}},
		&pb.Unsubscribe{RequestId: 2, Conversations: []string{"c:1"}, Rooms: []string{"r:1"}},
		&pb.DeliveryAck{Positions: []*pb.Position{{Conversation: "c:1", Seq: 1}}},
		&pb.SyncRequest{RequestId: 3, Positions: []*pb.Position{{Conversation: "c:1"}}, Limit: 10},
		&pb.PresenceQuery{RequestId: 4, Conversation: "c:1"},
		&pb.Ping{Nonce: 5},
		&pb.Connect{Token: "x"},
	} {
		b, err := transport.Encode(nil, m, nil)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 6, 1, 0, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xff})
	srv, err := New(Config{NodeID: "fuzz", DataDir: f.TempDir(), AuthHMACSecret: []byte(testSecret), NoSync: true, Logger: discardLogger()})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { srv.Close() })
	tok, _ := auth.MintHS256([]byte(testSecret), auth.MintClaims{Subject: "fuzz", Convs: []string{"*"}, Rooms: []string{"*"}, TTL: time.Hour})
	connect, _ := transport.Encode(nil, &pb.Connect{Token: tok}, nil)
	f.Fuzz(func(t *testing.T, frame []byte) {
		c := newGatedConn()
		close(c.gate)
		c.in <- connect
		c.in <- frame
		ping, _ := transport.Encode(nil, &pb.Ping{Nonce: 99}, nil)
		c.in <- ping
		if !srv.conns.TryAcquire() {
			t.Fatal("no slot")
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			if d := srv.serveConn(c, "fuzz"); d != nil {
				<-d
			}
		}()
		// Either the session answers the ping after handling the frame,
		// or it closes the connection.
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-c.out:
				if p, ok := m.(*pb.Pong); ok && p.Nonce == 99 {
					c.Close(1000, "")
					<-done
					return
				}
			case <-c.closed:
				<-done
				return
			case <-deadline:
				t.Fatal("session neither answered nor closed")
			}
		}
	})
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
