package nodelink

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// BenchmarkForwardComment: room comments of 100 bytes sent from one node
// to another over a loopback link, in frames of 1 comment (the worst
// case: a room flushes batches of one) or 16, measured until the
// receiver's handler has them all; sent as Control so that none is
// dropped when the sender outruns the link. Reports comments/s; allocs/op is per forwarded comment,
// both ends (encode, queue, write, read, decode, dispatch).
func BenchmarkForwardComment(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			got := make(chan struct{}, 1)
			var n int
			total := b.N
			a := benchNode(b, "a", nil)
			c := benchNode(b, "b", func(_ string, m proto.Message) (proto.Message, error) {
				n += len(m.(*pb.RoomComments).Messages)
				if n >= total {
					got <- struct{}{}
				}
				return nil, nil
			})
			a.SetPeer("b", c.Addr())
			for len(a.Peers()) == 0 || len(c.Peers()) == 0 {
				time.Sleep(time.Millisecond)
			}
			msgs := make([]*pb.Message, batch)
			for i := range msgs {
				msgs[i] = &pb.Message{Room: "live:bench", Sender: "u", Body: make([]byte, 100), Seq: uint64(i)}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for sent := 0; sent < total; sent += batch {
				k := min(batch, total-sent)
				if err := a.Send("b", Control, &pb.RoomComments{Room: "live:bench", Messages: msgs[:k]}); err != nil {
					b.Fatal(err)
				}
			}
			<-got
			b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "comments/s")
		})
	}
}

// benchNode starts a quiet insecure Link whose room comments go to h.
func benchNode(b *testing.B, id string, h Handler) *Link {
	l, err := New(Config{NodeID: id, Listen: "127.0.0.1:0", Insecure: true, Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	if h != nil {
		l.Handle(transport.TypeRoomComments, h)
	}
	return l
}
