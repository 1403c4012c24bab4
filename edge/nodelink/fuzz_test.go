package nodelink

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// counterValue reads a counter.
func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// FuzzReadLoop feeds arbitrary bytes to a link's reader as a peer's
// frames: it must return a reason (bad input or the end of the stream),
// never panic, and queue at most one reply per frame read.
func FuzzReadLoop(f *testing.F) {
	comments, _ := transport.Encode(nil, &pb.RoomComments{Room: "r", Messages: []*pb.Message{{Body: []byte("hi"), Room: "r"}}}, nil)
	interest, _ := transport.Encode(nil, &pb.RoomInterest{Snapshot: true, Rooms: []*pb.RoomViewers{{Room: "r", Viewers: 3}}}, nil)
	id := binary.BigEndian.AppendUint64(nil, 7)
	ping, _ := transport.AppendFrame(nil, transport.TypeLinkPing, []transport.Extension{{Type: transport.ExtRequest, Value: id}}, nil, nil)
	reply, _ := transport.AppendFrame(nil, transport.TypeLinkError, []transport.Extension{{Type: transport.ExtReply, Value: id}}, nil, &transport.Compressor{Codec: transport.CodecS2, Threshold: 1})
	f.Add(comments)
	f.Add(append(append(interest, ping...), reply...))
	f.Add(comments[:5])
	l, err := New(Config{NodeID: "b", Listen: "127.0.0.1:0", Insecure: true, MaxFrameBytes: 1 << 16})
	if err != nil {
		f.Fatal(err)
	}
	defer l.Close()
	l.Handle(transport.TypeRoomComments, func(string, proto.Message) (proto.Message, error) { return nil, nil })
	p := newPeer(l, "a")
	f.Fuzz(func(t *testing.T, b []byte) {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		cn := newConn(p, c1)
		if reason := cn.readLoop(bufio.NewReader(bytes.NewReader(b))); reason == "" {
			t.Fatal("no reason")
		}
		cn.mu.Lock()
		defer cn.mu.Unlock()
		if len(cn.ctl) > len(b)/transport.HeaderSize {
			t.Fatalf("%d replies for %d bytes", len(cn.ctl), len(b))
		}
	})
}
