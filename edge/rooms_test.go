package edge

import (
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

func TestRoomBroadcastBatched(t *testing.T) {
	e := startEdge(t, func(c *Config) { c.RoomBatchWindow = 30 * time.Millisecond })
	room := "live:show1"
	var viewers []*rawClient
	for i := 0; i < 4; i++ {
		v := e.dialRaw(t)
		v.connect(e.token("viewer"+string(rune('a'+i)), nil, []string{"live:*"}, time.Hour), nil)
		v.send(&pb.Subscribe{RequestId: 1, Rooms: []string{room}})
		sub := expect[*pb.Subscribed](v)
		if sub.Rooms[0].Viewers != uint64(i+1) {
			t.Fatalf("viewer count %d, want %d", sub.Rooms[0].Viewers, i+1)
		}
		viewers = append(viewers, v)
	}
	pub := viewers[0]
	const n = 40
	for i := 0; i < n; i++ {
		pub.send(&pb.Send{ClientMsgId: msgID(i), Target: &pb.Send_Room{Room: room}, Body: []byte("wow")})
	}
	for i := 0; i < n; i++ {
		if ack := expect[*pb.Ack](pub); ack.Room != room || ack.ClientMsgId != msgID(i) {
			t.Fatalf("ack %v", ack)
		}
	}
	for _, v := range viewers[1:] {
		var got []*pb.Message
		frames := 0
		for len(got) < n {
			d := expect[*pb.Deliver](v)
			frames++
			got = append(got, d.Messages...)
		}
		for i := 1; i < len(got); i++ {
			if got[i].Seq != got[i-1].Seq+1 || got[i].Class != pb.DeliveryClass_DELIVERY_CLASS_LIVE {
				t.Fatalf("room order broken at %d: %d after %d", i, got[i].Seq, got[i-1].Seq)
			}
		}
		if frames >= n {
			t.Fatalf("%d comments came in %d frames: no batching", n, frames)
		}
	}
	if v := e.srv.rooms.viewerCount(room); v != 4 {
		t.Fatalf("viewerCount = %d", v)
	}
}

func TestRoomForbidden(t *testing.T) {
	e := startEdge(t, nil)
	v := e.dialRaw(t)
	v.connect(e.token("u", nil, []string{"live:allowed"}, time.Hour), nil)
	v.send(&pb.Subscribe{RequestId: 9, Rooms: []string{"live:other"}})
	er := expect[*pb.Error](v)
	if er.Code != pb.ErrorCode_ERROR_CODE_FORBIDDEN || er.RequestId != 9 {
		t.Fatalf("error = %v", er)
	}
}
