package webui

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// nodePath returns the Node.js binary. The SDK tests need it: a missing
// node fails the test rather than skipping it, so CI cannot silently stop
// checking the browser SDK.
func nodePath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("node"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/node"); err == nil {
		return "/usr/bin/node"
	}
	t.Fatal("node (Node.js >= 20) not found in PATH or at /usr/bin/node: it is required to test the browser SDK (static/edgegate.js); install Node.js")
	return ""
}

// runNode runs node with args in the package directory and returns stdout.
func runNode(t *testing.T, timeout time.Duration, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodePath(t), args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if stderr.Len() > 0 {
		t.Logf("node stderr:\n%s", stderr.String())
	}
	return stdout.Bytes()
}

// agreeSamples returns realistic messages of every frame type, plus edge
// cases: oneof targets (including a set empty one), non-ASCII bodies,
// times around 1.7e12, seqs up to 2^53-1, a negative int64, an unknown
// enum value and empty messages.
func agreeSamples() []proto.Message {
	pos := []*pb.Position{{Conversation: "dm:alice:bob", Seq: 42}, {Conversation: "group:eng", Seq: 7}, {Conversation: "group:new"}}
	chat := &pb.Message{Conversation: "dm:alice:bob", Seq: 43, Sender: "alice", ServerTimeMs: 1700000000123,
		Body: []byte("héllo wörld, 你好, こんにちは 🚀"), ClientMsgId: "tab-1-7-a1b2", Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED,
		SenderDevice: "tab-1"}
	live := &pb.Message{Room: "live:stream1", Seq: 1 << 40, Sender: "bob", ServerTimeMs: 1700000000456,
		Body: []byte("wow 😂"), ClientMsgId: "c-9", Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE, SenderDevice: "phone"}
	json := &pb.Message{Conversation: "group:eng", Seq: 8, Sender: "chen.wei", ServerTimeMs: 1700000000789,
		Body: []byte(`{"type":"text","text":"Привет! 今天的直播几点开始？"}`), ClientMsgId: "c-1"}
	return []proto.Message{
		&pb.Connect{Token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig", ResumeToken: "rt-1", Positions: pos,
			DeviceId: "tab-1", Compression: []pb.Compression{pb.Compression_COMPRESSION_ZSTD, pb.Compression_COMPRESSION_S2},
			ClientVersion: "edgegate-js/0.1"},
		&pb.Connect{Token: "t", DeviceId: "tab-1", ClientVersion: "edgegate-js/0.1"},
		&pb.Connected{SessionId: "s-1f2e", UserId: "alice", DeviceId: "tab-1", ResumeToken: "rt-2", Resumed: true,
			ServerTimeMs: 1700000000000, Compression: pb.Compression_COMPRESSION_S2, CompressionThreshold: 512,
			HeartbeatIntervalMs: 25000, MaxFrameBytes: 65536, MaxMessageBytes: 16384, NodeId: "edge-eu-1",
			Subscribed: pos[:2], Rooms: []string{"live:stream1", "live:2"}},
		&pb.Subscribe{RequestId: 1, Conversations: pos, Rooms: []string{"live:stream1"}},
		&pb.Subscribe{RequestId: 2, Conversations: pos[2:], FromHead: true},
		&pb.Subscribed{RequestId: 1, Conversations: pos, Rooms: []*pb.RoomInfo{{Room: "live:stream1", Viewers: 1200}, {Room: "live:2"}}},
		&pb.Unsubscribe{RequestId: 3, Conversations: []string{"group:eng", "dm:alice:bob"}, Rooms: []string{"live:2"}},
		&pb.Send{ClientMsgId: "tab-1-8-c3d4", Target: &pb.Send_Conversation{Conversation: "dm:alice:bob"},
			Body: []byte("héllo 世界 🚀"), Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED},
		&pb.Send{ClientMsgId: "tab-1-9-e5f6", Target: &pb.Send_Room{Room: "live:stream1"}, Body: []byte("wow"),
			Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE},
		&pb.Send{ClientMsgId: "c-empty", Target: &pb.Send_Conversation{Conversation: ""}},
		&pb.Ack{ClientMsgId: "tab-1-8-c3d4", Conversation: "dm:alice:bob", Seq: 1<<53 - 1, ServerTimeMs: 1700000000999, Duplicate: true},
		&pb.Ack{ClientMsgId: "tab-1-9-e5f6", Room: "live:stream1", Seq: 77, ServerTimeMs: 1700000001000},
		&pb.Deliver{Messages: []*pb.Message{chat, live, json}, Dropped: 17},
		&pb.Deliver{Messages: []*pb.Message{{Conversation: "c", Seq: 1}}},
		&pb.DeliveryAck{Positions: pos[:2]},
		&pb.DeliveryAck{},
		&pb.SyncRequest{RequestId: 4, Positions: pos[:1], Limit: 256},
		&pb.SyncResponse{RequestId: 4, Messages: []*pb.Message{chat, json}, HasMore: true},
		&pb.SyncResponse{RequestId: 5},
		&pb.PresenceQuery{RequestId: 6, Conversation: "group:eng"},
		&pb.PresenceQuery{RequestId: 7, Room: "live:stream1"},
		&pb.Presence{RequestId: 6, Conversation: "group:eng", Users: []*pb.PresenceUser{
			{UserId: "alice", Devices: 2, Online: true}, {UserId: "bob"}, {UserId: "élodie", Devices: 1, Online: true}}},
		&pb.Presence{Room: "live:stream1", Viewers: 123456},
		&pb.Ping{Nonce: 5, SentTimeMs: 1700000000000},
		&pb.Ping{Nonce: 1<<53 - 1, SentTimeMs: -5},
		&pb.Ping{},
		&pb.Pong{Nonce: 5, SentTimeMs: 1700000000000, ServerTimeMs: 1700000000042},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, Reason: "trop de messages — réessayez 🙂", ClientMsgId: "c-2", RetryAfterMs: 1000},
		&pb.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, Reason: "not a member", RequestId: 9},
		&pb.Error{Code: pb.ErrorCode(99), Reason: "\ufefffrom the future, with a leading BOM"},
		&pb.Redirect{Reason: "drain", Urls: []string{"wss://edge-2.example.com/v1/ws", "wss://edge-3.example.com/v1/ws"}, RetryAfterMs: 100},
	}
}

// frameCase is one frame handed to the JS side.
type frameCase struct {
	Name  string `json:"name"`
	Frame []byte `json:"frame"` // base64 in JSON
	goMsg proto.Message
}

// acceptedFrames returns frames that are unusual but valid: Go decodes
// them, so the JS decoder must too, to the same message.
func acceptedFrames(t *testing.T) []frameCase {
	t.Helper()
	frame := func(ft transport.FrameType, ext []transport.Extension, payload []byte) []byte {
		b, err := transport.AppendFrame(nil, ft, ext, payload, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	send, _ := proto.Marshal(&pb.Send{ClientMsgId: "c-1", Target: &pb.Send_Room{Room: "live:1"}, Body: []byte("x")})
	sentAt := []byte{0, 0, 0x06, 0x0a, 0x3b, 0x2c, 0x1d, 0x0e}

	// Unknown fields of every wire type, between and after known ones.
	deliver, _ := proto.Marshal(&pb.Deliver{Messages: []*pb.Message{{Conversation: "c", Seq: 3, Body: []byte("b")}}})
	deliver = protowire.AppendTag(deliver, 99, protowire.VarintType)
	deliver = protowire.AppendVarint(deliver, 1<<60)
	deliver = protowire.AppendTag(deliver, 100, protowire.Fixed32Type)
	deliver = protowire.AppendFixed32(deliver, 7)
	deliver = protowire.AppendTag(deliver, 101, protowire.Fixed64Type)
	deliver = protowire.AppendFixed64(deliver, 8)
	deliver = protowire.AppendTag(deliver, 102, protowire.BytesType)
	deliver = protowire.AppendBytes(deliver, []byte("unknown"))
	deliver = protowire.AppendTag(deliver, 103, protowire.StartGroupType)
	deliver = protowire.AppendTag(deliver, 1, protowire.VarintType)
	deliver = protowire.AppendVarint(deliver, 1)
	deliver = protowire.AppendTag(deliver, 103, protowire.EndGroupType)
	deliver = protowire.AppendTag(deliver, 2, protowire.VarintType) // dropped, after the unknowns
	deliver = protowire.AppendVarint(deliver, 4)

	// Repeated enum unpacked, then packed again in a second run.
	connect, _ := proto.Marshal(&pb.Connect{Token: "t"})
	connect = protowire.AppendTag(connect, 5, protowire.VarintType)
	connect = protowire.AppendVarint(connect, 2)
	connect = protowire.AppendTag(connect, 5, protowire.VarintType)
	connect = protowire.AppendVarint(connect, 1)
	connect = protowire.AppendTag(connect, 5, protowire.BytesType)
	connect = protowire.AppendBytes(connect, []byte{0, 2})

	// A known field with the wrong wire type is an unknown field; a
	// repeated singular field: the last one wins; fields out of order.
	ack := protowire.AppendTag(nil, 4, protowire.BytesType) // seq as bytes: unknown
	ack = protowire.AppendBytes(ack, []byte("zz"))
	ack = protowire.AppendTag(ack, 4, protowire.VarintType)
	ack = protowire.AppendVarint(ack, 10)
	ack = protowire.AppendTag(ack, 1, protowire.BytesType)
	ack = protowire.AppendString(ack, "first")
	ack = protowire.AppendTag(ack, 1, protowire.BytesType)
	ack = protowire.AppendString(ack, "second")
	ack = protowire.AppendTag(ack, 6, protowire.VarintType) // bool as 2
	ack = protowire.AppendVarint(ack, 2)

	cases := []frameCase{
		{Name: "extensions", Frame: frame(transport.TypeSend, []transport.Extension{{Type: transport.ExtTrace, Value: []byte("trace-1")},
			{Type: transport.ExtSentAt, Value: sentAt}, {Type: 200}}, send)},
		{Name: "empty extension block", Frame: frame(transport.TypeSend, nil, append([]byte{0, 0}, send...))},
		{Name: "unknown fields", Frame: frame(transport.TypeDeliver, nil, deliver)},
		{Name: "unpacked repeated enum", Frame: frame(transport.TypeConnect, nil, connect)},
		{Name: "wrong wire type, repeated scalar", Frame: frame(transport.TypeAck, nil, ack)},
	}
	cases[1].Frame[2] = byte(transport.FlagExtensions)
	for i := range cases {
		_, m, err := transport.Decode(cases[i].Frame, transport.Limits{})
		if err != nil {
			t.Fatalf("accepted frame %q: Go rejects it: %v", cases[i].Name, err)
		}
		cases[i].goMsg = m
	}
	return cases
}

// malformedFrames returns frames the JS decoder must reject with an
// exception. Except where jsOnly is set, Go rejects them too.
func malformedFrames(t *testing.T) []frameCase {
	t.Helper()
	good, err := transport.Encode(nil, &pb.Ping{Nonce: 1, SentTimeMs: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	with := func(payload []byte) []byte { // a valid Ack header around payload
		b, _ := transport.AppendFrame(nil, transport.TypeAck, nil, payload, nil)
		return b
	}
	mod := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	long := bytes.Repeat([]byte("hello hello hello "), 100)
	compressed, err := transport.Encode(nil, &pb.Send{ClientMsgId: "c", Target: &pb.Send_Room{Room: "r"}, Body: long},
		&transport.Compressor{Codec: transport.CodecS2})
	if err != nil || compressed[2]&byte(transport.FlagCompressed) == 0 {
		t.Fatalf("building a compressed frame: %v flags %#x", err, compressed[2])
	}
	big := make([]byte, transport.HeaderSize+transport.DefaultMaxFrameBytes+1)
	copy(big, []byte{1, byte(transport.TypeSend), 0, 0})
	big[4], big[5], big[6], big[7] = 0, 1, 0, 1

	cases := []frameCase{
		{Name: "empty", Frame: []byte{}},
		{Name: "truncated header", Frame: good[:3]},
		{Name: "header only, 7 bytes", Frame: good[:7]},
		{Name: "wrong version 2", Frame: mod(func(b []byte) []byte { b[0] = 2; return b })},
		{Name: "wrong version 0", Frame: mod(func(b []byte) []byte { b[0] = 0; return b })},
		{Name: "unknown type 0", Frame: mod(func(b []byte) []byte { b[1] = 0; return b })},
		{Name: "unknown type 18", Frame: mod(func(b []byte) []byte { b[1] = 18; return b })},
		{Name: "reserved byte set", Frame: mod(func(b []byte) []byte { b[3] = 1; return b })},
		{Name: "unknown flag", Frame: mod(func(b []byte) []byte { b[2] = 8; return b })},
		{Name: "zstd flag without compressed", Frame: mod(func(b []byte) []byte { b[2] = 2; return b })},
		{Name: "length longer than frame", Frame: mod(func(b []byte) []byte { b[7]++; return b })},
		{Name: "length shorter than frame", Frame: mod(func(b []byte) []byte { b[7]--; return b })},
		{Name: "trailing byte", Frame: append(bytes.Clone(good), 0)},
		{Name: "frame over the limit", Frame: big},
		{Name: "truncated varint", Frame: with([]byte{0x20, 0x80})},
		{Name: "truncated tag", Frame: with([]byte{0x80})},
		{Name: "varint of 11 bytes", Frame: with([]byte{0x20, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})},
		{Name: "length-delimited overrun", Frame: with([]byte{0x0a, 0x05, 'a', 'b'})},
		{Name: "nested message overrun", Frame: func() []byte {
			b, _ := transport.AppendFrame(nil, transport.TypeDeliver, nil, []byte{0x0a, 0x04, 0x0a, 0x09, 'a', 'b'}, nil)
			return b
		}()},
		{Name: "field number 0", Frame: with([]byte{0x00, 0x01})},
		{Name: "wire type 6", Frame: with([]byte{0x0e, 0x01})},
		{Name: "wire type 7", Frame: with([]byte{0x0f, 0x01})},
		{Name: "end group without start", Frame: with([]byte{0x0c})},
		{Name: "unterminated group", Frame: with([]byte{0x53, 0x08, 0x01})},
		{Name: "invalid UTF-8 string", Frame: with([]byte{0x0a, 0x02, 0xff, 0xfe})},
		{Name: "extension length missing", Frame: func() []byte {
			b := with(nil)
			b[2] = byte(transport.FlagExtensions)
			return b
		}()},
		{Name: "extension block overrun", Frame: func() []byte {
			b := with([]byte{0x00, 0x09, 0x01, 0x01, 'x'})
			b[2] = byte(transport.FlagExtensions)
			return b
		}()},
		{Name: "truncated extension entry", Frame: func() []byte {
			b := with([]byte{0x00, 0x03, 0x01, 0x05, 'x'})
			b[2] = byte(transport.FlagExtensions)
			return b
		}()},
		{Name: "compressed payload (never requested)", Frame: compressed},
	}
	jsOnly := map[string]bool{"compressed payload (never requested)": true}
	for _, c := range cases {
		if jsOnly[c.Name] {
			continue
		}
		if _, _, err := transport.Decode(c.Frame, transport.Limits{}); err == nil {
			t.Fatalf("malformed frame %q: Go accepts it", c.Name)
		}
	}
	return cases
}

type agreeFixture struct {
	Samples   []agreeSample `json:"samples"`
	Accepted  []frameCase   `json:"accepted"`
	Malformed []frameCase   `json:"malformed"`
}

type agreeSample struct {
	Type  string          `json:"type"`
	JSON  json.RawMessage `json:"json"`
	Frame []byte          `json:"frame"`
}

type agreeResult struct {
	Samples []struct {
		Type        string          `json:"type"`
		Encoded     []byte          `json:"encoded"`
		DecodedType string          `json:"decodedType"`
		Decoded     json.RawMessage `json:"decoded"`
		Reencoded   []byte          `json:"reencoded"`
	} `json:"samples"`
	Accepted []struct {
		Name        string          `json:"name"`
		DecodedType string          `json:"decodedType"`
		Decoded     json.RawMessage `json:"decoded"`
	} `json:"accepted"`
	Malformed []struct {
		Name  string `json:"name"`
		Threw bool   `json:"threw"`
		Error string `json:"error"`
	} `json:"malformed"`
}

var pjson = protojson.MarshalOptions{UseProtoNames: false, EmitUnpopulated: false}

// TestJSAgreesWithGo runs the browser SDK's codec (static/edgegate.js)
// under Node on frames of every type and checks it byte for byte against
// Go's transport.Encode, decodes Go's frames to the same messages, and
// rejects malformed frames with an exception.
func TestJSAgreesWithGo(t *testing.T) {
	samples := agreeSamples()
	seen := map[transport.FrameType]bool{}
	var fx agreeFixture
	for _, m := range samples {
		ft, err := transport.TypeOf(m)
		if err != nil {
			t.Fatal(err)
		}
		seen[ft] = true
		frame, err := transport.Encode(nil, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		js, err := pjson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		fx.Samples = append(fx.Samples, agreeSample{Type: string(m.ProtoReflect().Descriptor().Name()), JSON: js, Frame: frame})
	}
	for ft := transport.FrameType(1); ft.Known(); ft++ {
		if !seen[ft] {
			t.Fatalf("no sample of frame type %v", ft)
		}
	}
	fx.Accepted = acceptedFrames(t)
	fx.Malformed = malformedFrames(t)

	path := filepath.Join(t.TempDir(), "fixture.json")
	b, err := json.Marshal(fx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out := runNode(t, time.Minute, "testdata/agree.mjs", path)
	var res agreeResult
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("parsing node output: %v\n%s", err, out)
	}

	if len(res.Samples) != len(samples) {
		t.Fatalf("node returned %d samples, want %d", len(res.Samples), len(samples))
	}
	for i, r := range res.Samples {
		want := fx.Samples[i]
		name := want.Type + " " + string(want.JSON)
		if !bytes.Equal(r.Encoded, want.Frame) {
			t.Errorf("%s:\nJS encodeFrame %x\nGo Encode      %x", name, r.Encoded, want.Frame)
		}
		if r.DecodedType != want.Type {
			t.Errorf("%s: JS decodeFrame type %q", name, r.DecodedType)
		}
		if !bytes.Equal(r.Reencoded, want.Frame) {
			t.Errorf("%s: JS decode+encode of Go's frame\ngot  %x\nwant %x", name, r.Reencoded, want.Frame)
		}
		checkDecoded(t, name, want.Type, r.Decoded, samples[i])
	}

	if len(res.Accepted) != len(fx.Accepted) {
		t.Fatalf("node returned %d accepted cases, want %d", len(res.Accepted), len(fx.Accepted))
	}
	for i, r := range res.Accepted {
		c := fx.Accepted[i]
		// Compare without unknown fields: protojson drops them on the Go side.
		js, err := pjson.Marshal(c.goMsg)
		if err != nil {
			t.Fatal(err)
		}
		want := c.goMsg.ProtoReflect().New().Interface()
		if err := protojson.Unmarshal(js, want); err != nil {
			t.Fatal(err)
		}
		checkDecoded(t, c.Name, string(want.ProtoReflect().Descriptor().Name()), r.Decoded, want)
		if r.DecodedType != string(want.ProtoReflect().Descriptor().Name()) {
			t.Errorf("%s: JS decoded type %q", c.Name, r.DecodedType)
		}
	}

	if len(res.Malformed) != len(fx.Malformed) {
		t.Fatalf("node returned %d malformed cases, want %d", len(res.Malformed), len(fx.Malformed))
	}
	for _, r := range res.Malformed {
		if !r.Threw {
			t.Errorf("malformed frame %q: JS decodeFrame did not throw (%s)", r.Name, r.Error)
		} else if !strings.HasPrefix(r.Error, "ProtocolError:") {
			t.Errorf("malformed frame %q: JS threw %s, want a ProtocolError", r.Name, r.Error)
		} else if strings.HasPrefix(r.Name, "compressed") && !strings.Contains(r.Error, "compressed") {
			t.Errorf("malformed frame %q: JS threw %s, want it refused for being compressed", r.Name, r.Error)
		}
	}
}

// checkDecoded parses the protojson-style object printed by the JS side
// and compares it with want.
func checkDecoded(t *testing.T, name, typ string, decoded json.RawMessage, want proto.Message) {
	t.Helper()
	got := want.ProtoReflect().New().Interface()
	if err := protojson.Unmarshal(decoded, got); err != nil {
		t.Errorf("%s: JS decoded %s is not valid protojson of %s: %v", name, decoded, typ, err)
		return
	}
	if !proto.Equal(got, want) {
		w, _ := pjson.Marshal(want)
		t.Errorf("%s: JS decoded\n%s\nwant\n%s", name, decoded, w)
	}
}

// startDevEdge builds cmd/edge and runs it in dev mode on a free port; it
// returns the base URL from the banner. The edge is stopped at cleanup.
func startDevEdge(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "edge")
	build := exec.Command("go", "build", "-o", bin, "./cmd/edge")
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/edge: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--dev", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"))
	var logs syncBuffer
	cmd.Stderr = &logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	base := make(chan string, 1)
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		sc := bufio.NewScanner(stdout)
		const banner = "edgegate dev edge is up: "
		for sc.Scan() {
			if i := strings.Index(sc.Text(), banner); i >= 0 {
				base <- strings.TrimSpace(sc.Text()[i+len(banner):])
				break
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		stopped := make(chan struct{})
		go func() {
			<-drained
			_ = cmd.Wait()
			close(stopped)
		}()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-stopped
		}
		if t.Failed() {
			t.Logf("edge logs:\n%s", logs.String())
		}
	})
	select {
	case u := <-base:
		return u
	case <-drained:
		t.Fatalf("edge exited before its banner:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("no banner from the edge after 30s:\n%s", logs.String())
	}
	return ""
}

// syncBuffer is a bytes.Buffer safe for the exec copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSDKSmokeAgainstEdge runs EdgeClient under Node (with its
// experimental global WebSocket) against a real dev-mode edge: see
// testdata/smoke.mjs for the scenario. The script must exit by itself, so
// a timer or socket left behind by close() fails the test by timeout.
func TestSDKSmokeAgainstEdge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts an edge; skipped with -short")
	}
	nodePath(t) // fail early, before building the edge, when node is missing
	base := startDevEdge(t)
	out := runNode(t, time.Minute, "--experimental-websocket", "testdata/smoke.mjs", base)
	if !bytes.Contains(out, []byte(`"ok":true`)) {
		t.Fatalf("smoke script did not report ok:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}

// fakeEdge is a scripted WebSocket server for TestSDKBehaviour: the token
// in Connect names the scenario, and each scenario plays the server side
// of one behaviour of the SDK while checking what the client sends.
type fakeEdge struct {
	t     *testing.T
	url   string // ws://host
	mu    sync.Mutex
	conns map[*websocket.Conn]struct{}
	count map[string]int // connections per scenario
	// resendID is the client message id first sent in the "resend" scenario.
	resendID string
	wg       sync.WaitGroup
}

// fakeConn is one client connection to the fake edge.
type fakeConn struct {
	f      *fakeEdge
	ws     *websocket.Conn
	path   string
	hello  *pb.Connect
	noPong bool
}

func (c *fakeConn) write(m proto.Message) {
	b, err := transport.Encode(nil, m, nil)
	if err != nil {
		c.f.t.Error(err)
		return
	}
	_ = c.ws.WriteMessage(websocket.BinaryMessage, b)
}

func (c *fakeConn) writeRaw(b []byte) { _ = c.ws.WriteMessage(websocket.BinaryMessage, b) }

func (c *fakeConn) closeWith(code int, reason string) {
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	_ = c.ws.Close()
}

// read returns the next frame from the client other than Ping and
// DeliveryAck (Pings are answered unless noPong); nil when the connection
// ended.
func (c *fakeConn) read() proto.Message {
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			return nil
		}
		_, m, err := transport.Decode(b, transport.Limits{})
		if err != nil {
			c.f.t.Errorf("fake edge: bad frame from the SDK: %v (%x)", err, b)
			return nil
		}
		switch m := m.(type) {
		case *pb.Ping:
			if !c.noPong {
				c.write(&pb.Pong{Nonce: m.GetNonce(), SentTimeMs: m.GetSentTimeMs(), ServerTimeMs: time.Now().UnixMilli()})
			}
		case *pb.DeliveryAck:
		default:
			return m
		}
	}
}

// expect reads the next frame and checks it is a T.
func expect[T proto.Message](c *fakeConn) T {
	var zero T
	m := c.read()
	if m == nil {
		c.f.t.Errorf("fake edge %s: expected %T, the connection ended", c.hello.GetToken(), zero)
		return zero
	}
	v, ok := m.(T)
	if !ok {
		c.f.t.Errorf("fake edge %s: expected %T, got %T %v", c.hello.GetToken(), zero, m, m)
		return zero
	}
	return v
}

// idle serves Pings until the client goes away.
func (c *fakeConn) idle() {
	for c.read() != nil {
	}
}

func (f *fakeEdge) handle(w http.ResponseWriter, r *http.Request) {
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	f.mu.Lock()
	f.conns[ws] = struct{}{}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.conns, ws)
		f.mu.Unlock()
		_ = ws.Close()
	}()
	c := &fakeConn{f: f, ws: ws, path: r.URL.Path}
	_, b, err := ws.ReadMessage()
	if err != nil {
		return
	}
	_, m, err := transport.Decode(b, transport.Limits{})
	hello, ok := m.(*pb.Connect)
	if err != nil || !ok {
		f.t.Errorf("fake edge: first frame is not Connect: %v %T", err, m)
		return
	}
	c.hello = hello
	if hello.GetClientVersion() != "edgegate-js/0.1" || len(hello.GetCompression()) != 0 || hello.GetDeviceId() == "" {
		f.t.Errorf("fake edge: Connect %v: want client_version edgegate-js/0.1, no compression, a device id", hello)
	}
	scenario, _, _ := strings.Cut(hello.GetToken(), "-")
	f.mu.Lock()
	f.count[scenario]++
	n := f.count[scenario]
	f.mu.Unlock()
	play, ok := scenarios[scenario]
	if !ok {
		f.t.Errorf("fake edge: unknown scenario %q", hello.GetToken())
		return
	}
	play(c, n)
}

func msg(conv string, seq uint64) *pb.Message {
	return &pb.Message{Conversation: conv, Seq: seq, Sender: "bob", ServerTimeMs: 1700000000000 + int64(seq),
		Body: []byte(fmt.Sprintf("m%d", seq)), Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED}
}

func hasPosition(pos []*pb.Position, conv string, seq uint64) bool {
	for _, p := range pos {
		if p.GetConversation() == conv && p.GetSeq() == seq {
			return true
		}
	}
	return false
}

// scenarios, keyed by the token's prefix before '-'; see testdata/behave.mjs
// for the client side of each.
var scenarios = map[string]func(c *fakeConn, n int){
	// A gap is filled with paged SyncRequests; duplicates are dropped.
	"gap": func(c *fakeConn, n int) {
		const conv = "dm:a:b"
		c.write(&pb.Connected{ResumeToken: "rt-gap", HeartbeatIntervalMs: 25000, NodeId: "fake"})
		sub := expect[*pb.Subscribe](c)
		c.write(&pb.Subscribed{RequestId: sub.GetRequestId(), Conversations: []*pb.Position{{Conversation: conv, Seq: 5}}})
		c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 1)}})
		c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 4)}})
		sr := expect[*pb.SyncRequest](c)
		if sr.GetLimit() != 256 || !hasPosition(sr.GetPositions(), conv, 1) || len(sr.GetPositions()) != 1 {
			c.f.t.Errorf("gap: first SyncRequest %v", sr)
		}
		c.write(&pb.SyncResponse{RequestId: sr.GetRequestId(), Messages: []*pb.Message{msg(conv, 2)}, HasMore: true})
		sr = expect[*pb.SyncRequest](c)
		if !hasPosition(sr.GetPositions(), conv, 2) {
			c.f.t.Errorf("gap: second SyncRequest %v", sr)
		}
		c.write(&pb.SyncResponse{RequestId: sr.GetRequestId(), Messages: []*pb.Message{msg(conv, 3), msg(conv, 4)}})
		c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 3), msg(conv, 5), msg(conv, 2)}})
		// The cumulative ack for 5 must arrive (ackIntervalMs after delivery).
		for {
			_, b, err := c.ws.ReadMessage()
			if err != nil {
				c.f.t.Errorf("gap: connection ended before DeliveryAck for seq 5")
				return
			}
			if _, m, err := transport.Decode(b, transport.Limits{}); err == nil {
				if a, ok := m.(*pb.DeliveryAck); ok && hasPosition(a.GetPositions(), conv, 5) {
					break
				}
			}
		}
		c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 6)}}) // tells the client the ack was seen
		c.idle()
	},
	// A Redirect moves the session (resume token kept) to another URL.
	"redirect": func(c *fakeConn, n int) {
		if n == 1 {
			c.write(&pb.Connected{ResumeToken: "rt-r1", NodeId: "first"})
			c.write(&pb.Redirect{Reason: "drain", Urls: []string{c.f.url + "/alt"}, RetryAfterMs: 10})
			c.idle()
			return
		}
		if c.path != "/alt" || c.hello.GetResumeToken() != "rt-r1" {
			c.f.t.Errorf("redirect: second connection to %s with resume token %q", c.path, c.hello.GetResumeToken())
		}
		c.write(&pb.Connected{ResumeToken: "rt-r2", Resumed: true, NodeId: "alt"})
		c.idle()
	},
	// A compressed frame (never requested) is a protocol error: reconnect.
	"compressed": func(c *fakeConn, n int) {
		if n == 1 {
			c.write(&pb.Connected{ResumeToken: "rt-c1", NodeId: "first"})
			b, err := transport.Encode(nil, &pb.Deliver{Messages: []*pb.Message{{Conversation: "c", Seq: 1,
				Body: bytes.Repeat([]byte("compress me "), 100)}}}, &transport.Compressor{Codec: transport.CodecS2, Threshold: 1})
			if err != nil || b[2]&byte(transport.FlagCompressed) == 0 {
				c.f.t.Errorf("compressed: %v %x", err, b[:8])
			}
			c.writeRaw(b)
			c.idle()
			return
		}
		if c.hello.GetResumeToken() != "rt-c1" {
			c.f.t.Errorf("compressed: reconnect without the resume token: %v", c.hello)
		}
		c.write(&pb.Connected{NodeId: "second"})
		c.idle()
	},
	// RATE_LIMITED on a send: retried after retry_after_ms with the same id.
	"ratelimit": func(c *fakeConn, n int) {
		c.write(&pb.Connected{NodeId: "rl"})
		s := expect[*pb.Send](c)
		c.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, ClientMsgId: s.GetClientMsgId(), RetryAfterMs: 100})
		s2 := expect[*pb.Send](c)
		if !proto.Equal(s, s2) {
			c.f.t.Errorf("ratelimit: retry %v differs from %v", s2, s)
		}
		c.write(&pb.Ack{ClientMsgId: s2.GetClientMsgId(), Conversation: s2.GetConversation(), Seq: 1, ServerTimeMs: time.Now().UnixMilli()})
		c.idle()
	},
	// An unacked send is re-sent with the same id after a 1001 close;
	// subscriptions are restored from the client's positions.
	"resend": func(c *fakeConn, n int) {
		const conv = "dm:a:b"
		if n == 1 {
			c.write(&pb.Connected{ResumeToken: "rt-s1", NodeId: "first"})
			sub := expect[*pb.Subscribe](c)
			c.write(&pb.Subscribed{RequestId: sub.GetRequestId(), Conversations: []*pb.Position{{Conversation: conv, Seq: 3}}})
			c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 1), msg(conv, 2), msg(conv, 3)}})
			s := expect[*pb.Send](c)
			c.f.mu.Lock()
			c.f.resendID = s.GetClientMsgId()
			c.f.mu.Unlock()
			c.closeWith(websocket.CloseGoingAway, "draining")
			return
		}
		if c.hello.GetResumeToken() != "rt-s1" || !hasPosition(c.hello.GetPositions(), conv, 3) {
			c.f.t.Errorf("resend: reconnect Connect %v: want resume token rt-s1 and position %s@3", c.hello, conv)
		}
		c.write(&pb.Connected{ResumeToken: "rt-s2", Resumed: true, NodeId: "second"})
		sub := expect[*pb.Subscribe](c)
		if !hasPosition(sub.GetConversations(), conv, 3) {
			c.f.t.Errorf("resend: resubscribe %v: want %s from 3", sub, conv)
		}
		c.write(&pb.Subscribed{RequestId: sub.GetRequestId(), Conversations: []*pb.Position{{Conversation: conv, Seq: 3}}})
		c.write(&pb.Deliver{Messages: []*pb.Message{msg(conv, 3), msg(conv, 4)}})
		s := expect[*pb.Send](c)
		c.f.mu.Lock()
		first := c.f.resendID
		c.f.mu.Unlock()
		if s.GetClientMsgId() != first {
			c.f.t.Errorf("resend: resent with id %q, first sent as %q", s.GetClientMsgId(), first)
		}
		c.write(&pb.Ack{ClientMsgId: s.GetClientMsgId(), Conversation: conv, Seq: 7, ServerTimeMs: 1700000000000, Duplicate: true})
		c.idle()
	},
	// Token rejection: fatal without tokenProvider, one more try with it.
	"auth": func(c *fakeConn, n int) {
		if c.hello.GetToken() == "auth-good" {
			c.write(&pb.Connected{NodeId: "auth"})
			c.idle()
			return
		}
		c.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED, Reason: "token expired"})
		c.closeWith(4004, "token expired")
	},
	// No frame for 2 heartbeats: the client gives up on the connection.
	"heartbeat": func(c *fakeConn, n int) {
		if n == 1 {
			c.noPong = true
			c.write(&pb.Connected{HeartbeatIntervalMs: 100, NodeId: "silent"})
			c.idle()
			return
		}
		c.write(&pb.Connected{NodeId: "hb2"})
		c.idle()
	},
	// Request errors, pushed presence, connection-level errors, live rooms.
	"errors": func(c *fakeConn, n int) {
		c.write(&pb.Connected{NodeId: "errs"})
		sub := expect[*pb.Subscribe](c)
		c.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, Reason: "not a member", RequestId: sub.GetRequestId()})
		c.write(&pb.Presence{Room: "live:1", Viewers: 3})
		c.write(&pb.Error{Code: pb.ErrorCode_ERROR_CODE_OVERLOADED, Reason: "busy"})
		q := expect[*pb.PresenceQuery](c)
		if q.GetConversation() != "group:x" {
			c.f.t.Errorf("errors: PresenceQuery %v", q)
		}
		c.write(&pb.Presence{RequestId: q.GetRequestId(), Conversation: "group:x",
			Users: []*pb.PresenceUser{{UserId: "alice", Devices: 2, Online: true}, {UserId: "bob"}}})
		live := func(seq uint64) *pb.Message {
			return &pb.Message{Room: "live:1", Seq: seq, Sender: "x", Body: []byte("👏"), Class: pb.DeliveryClass_DELIVERY_CLASS_LIVE}
		}
		c.write(&pb.Deliver{Messages: []*pb.Message{live(5), live(5), live(3), live(6)}, Dropped: 2})
		c.idle()
	},
}

// TestSDKBehaviour runs EdgeClient under Node against a scripted fake edge
// (fakeEdge) for what a real edge does not easily produce: gaps filled by
// sync, redirects, compressed frames, rate limits, resends after a drain,
// token rejection, heartbeat timeouts, request errors and live rooms.
func TestSDKBehaviour(t *testing.T) {
	nodePath(t)
	f := &fakeEdge{t: t, conns: map[*websocket.Conn]struct{}{}, count: map[string]int{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.wg.Add(1)
		defer f.wg.Done()
		f.handle(w, r)
	}))
	f.url = "ws://" + srv.Listener.Addr().String() // before Start: handlers read it
	srv.Start()
	defer func() {
		f.mu.Lock()
		for ws := range f.conns {
			_ = ws.Close()
		}
		f.mu.Unlock()
		f.wg.Wait()
		srv.Close()
	}()
	out := runNode(t, time.Minute, "--experimental-websocket", "testdata/behave.mjs", f.url)
	if !bytes.Contains(out, []byte(`"ok":true`)) {
		t.Fatalf("behaviour script did not report ok:\n%s", out)
	}
	t.Logf("%s", bytes.TrimSpace(out))
}
