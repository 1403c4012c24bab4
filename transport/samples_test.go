package transport

import (
	"fmt"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

// sampleMessages returns one realistic message of every frame type.
func sampleMessages() []proto.Message {
	pos := []*pb.Position{{Conversation: "dm:alice/bob", Seq: 42}, {Conversation: "group:eng", Seq: 7}}
	msg := &pb.Message{Conversation: "group:eng", Seq: 8, Sender: "alice", ServerTimeMs: 1700000000000,
		Body: []byte(`{"text":"hello team"}`), ClientMsgId: "c-1", SenderDevice: "phone"}
	return []proto.Message{
		&pb.Connect{Token: "eyJhbGciOiJIUzI1NiJ9.e30.sig", DeviceId: "phone", Positions: pos,
			Compression: []pb.Compression{CodecZstd, CodecS2}, ClientVersion: "web/1.2"},
		&pb.Connected{SessionId: "s1", UserId: "alice", DeviceId: "phone", ResumeToken: "r1", ServerTimeMs: 1,
			Compression: CodecS2, CompressionThreshold: 512, HeartbeatIntervalMs: 25000, Subscribed: pos, Rooms: []string{"live:1"}},
		&pb.Subscribe{RequestId: 1, Conversations: pos, Rooms: []string{"live:1"}},
		&pb.Subscribed{RequestId: 1, Conversations: pos, Rooms: []*pb.RoomInfo{{Room: "live:1", Viewers: 1200}}},
		&pb.Unsubscribe{RequestId: 2, Conversations: []string{"group:eng"}},
		&pb.Send{ClientMsgId: "c-2", Target: &pb.Send_Conversation{Conversation: "group:eng"}, Body: []byte("hi")},
		&pb.Ack{ClientMsgId: "c-2", Conversation: "group:eng", Seq: 9, ServerTimeMs: 2},
		&pb.Deliver{Messages: []*pb.Message{msg, msg}, Dropped: 3},
		&pb.DeliveryAck{Positions: pos},
		&pb.SyncRequest{RequestId: 3, Positions: pos, Limit: 100},
		&pb.SyncResponse{RequestId: 3, Messages: []*pb.Message{msg}, HasMore: true},
		&pb.PresenceQuery{RequestId: 4, Conversation: "group:eng"},
		&pb.Presence{RequestId: 4, Conversation: "group:eng", Users: []*pb.PresenceUser{{UserId: "bob", Devices: 2, Online: true}}},
		&pb.Ping{Nonce: 5, SentTimeMs: 3},
		&pb.Pong{Nonce: 5, SentTimeMs: 3, ServerTimeMs: 4},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, Reason: "slow down", RetryAfterMs: 1000},
		&pb.Redirect{Reason: "drain", Urls: []string{"wss://edge-2.example.com/v1/ws"}, RetryAfterMs: 100},
	}
}

var chatPhrases = []string{
	"Hey, are we still on for the design review at 3pm?",
	"I pushed the fix for the reconnect bug, can someone take a look at the PR?",
	"lol that's amazing 😂😂",
	"Bonjour à tous, la réunion est déplacée à demain matin.",
	"Danke für das Update! Ich schaue mir das heute Abend an.",
	"¿Alguien sabe si el servidor de staging está caído?",
	"今天的直播几点开始？我想提前占个位置。",
	"ありがとうございます！明日またよろしくお願いします。",
	"오늘 회의록 공유해 주실 수 있나요?",
	"Привет! Посмотри, пожалуйста, последний отчёт.",
	"+1, ship it 🚀",
	"The latency graphs look much better after the edge rollout.",
}

// chatCorpus builds n JSON-ish chat payloads of 100-2000 bytes: Deliver
// batches of messages whose bodies are JSON objects, as an edge sends them.
func chatCorpus(n int, seed uint64) [][]byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	users := []string{"alice", "bob", "chen.wei", "dmitri", "élodie", "hiro_t", "jisoo", "maria.g"}
	out := make([][]byte, 0, n)
	for len(out) < n {
		target := 100 + r.IntN(1900)
		d := &pb.Deliver{}
		seq := uint64(r.IntN(100000))
		for {
			var text strings.Builder
			for range 1 + r.IntN(3) {
				text.WriteString(chatPhrases[r.IntN(len(chatPhrases))])
				text.WriteByte(' ')
			}
			u := users[r.IntN(len(users))]
			body := fmt.Sprintf(`{"type":"text","text":%q,"mentions":[],"reply_to":null,"client":"web/1.4.2","locale":"en-US"}`,
				strings.TrimSpace(text.String()))
			seq++
			d.Messages = append(d.Messages, &pb.Message{Conversation: "group:team-" + fmt.Sprint(r.IntN(5)), Seq: seq,
				Sender: u, ServerTimeMs: 1700000000000 + int64(seq)*731, Body: []byte(body),
				ClientMsgId: fmt.Sprintf("%s-%08x", u, r.Uint32()), SenderDevice: "web"})
			if proto.Size(d) >= target {
				break
			}
		}
		b, err := proto.Marshal(d)
		if err != nil {
			panic(err)
		}
		out = append(out, b)
	}
	return out
}
