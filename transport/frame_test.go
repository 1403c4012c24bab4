package transport

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport/pb"
)

func TestEncodeDecodeAllTypes(t *testing.T) {
	comps := map[string]*Compressor{
		"none":      nil,
		"s2-always": {Codec: CodecS2, Threshold: 1},
		"zstd-1":    {Codec: CodecZstd, Threshold: 1},
		"zstd-def":  {Codec: CodecZstd},
	}
	for _, m := range sampleMessages() {
		for cname, c := range comps {
			wantType, err := TypeOf(m)
			if err != nil {
				t.Fatal(err)
			}
			t.Run(wantType.String()+"/"+cname, func(t *testing.T) {
				b, err := Encode(nil, m, c)
				if err != nil {
					t.Fatal(err)
				}
				if b[0] != Version || FrameType(b[1]) != wantType {
					t.Fatalf("header % x", b[:HeaderSize])
				}
				if got := int(binary.BigEndian.Uint32(b[4:8])); got != len(b)-HeaderSize {
					t.Fatalf("length field %d, frame %d", got, len(b))
				}
				typ, got, err := Decode(b, Limits{})
				if err != nil {
					t.Fatal(err)
				}
				if typ != wantType || !proto.Equal(got, m) {
					t.Fatalf("round trip: got %v %v, want %v %v", typ, got, wantType, m)
				}
			})
		}
	}
}

func TestAppendFrameExtensions(t *testing.T) {
	ext := []Extension{{Type: ExtTrace, Value: []byte("trace-123")}, {Type: ExtSentAt, Value: binary.BigEndian.AppendUint64(nil, 1700000000000000)},
		{Type: 200, Value: nil}, {Type: 99, Value: bytes.Repeat([]byte{7}, 255)}}
	payload := []byte("payload")
	b, err := AppendFrame([]byte("prefix"), TypePing, ext, payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(b[:6]) != "prefix" {
		t.Fatal("dst prefix clobbered")
	}
	f, err := ParseFrame(b[6:], Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Flags != FlagExtensions || f.Type != TypePing || string(f.Payload) != "payload" {
		t.Fatalf("frame %+v", f)
	}
	if len(f.Ext) != len(ext) {
		t.Fatalf("got %d extensions, want %d", len(f.Ext), len(ext))
	}
	for i := range ext {
		if f.Ext[i].Type != ext[i].Type || !bytes.Equal(f.Ext[i].Value, ext[i].Value) {
			t.Fatalf("ext %d: got %+v want %+v", i, f.Ext[i], ext[i])
		}
	}
	if string(f.ExtValue(ExtTrace)) != "trace-123" || f.ExtValue(42) != nil {
		t.Fatal("ExtValue")
	}
	if _, err := AppendFrame(nil, TypePing, []Extension{{Type: 1, Value: make([]byte, 256)}}, nil, nil); !errors.Is(err, ErrBadExtension) {
		t.Fatalf("256-byte extension: %v", err)
	}
	// 255 extensions of 2+255 bytes: a 65535-byte block, the maximum.
	many := make([]Extension, 0, 256)
	for range 256 {
		many = append(many, Extension{Type: 9, Value: make([]byte, 255)})
	}
	b, err = AppendFrame(nil, TypePing, many[:255], nil, nil)
	if err != nil {
		t.Fatalf("65535-byte block: %v", err)
	}
	if f, err := ParseFrame(b, Limits{MaxFrameBytes: 1 << 20}); err != nil || len(f.Ext) != 255 {
		t.Fatalf("65535-byte block: %d extensions, %v", len(f.Ext), err)
	}
	if _, err := AppendFrame(nil, TypePing, many, nil, nil); !errors.Is(err, ErrBadExtension) {
		t.Fatalf("block over 65535 bytes: %v", err)
	}
}

func TestCompressionThresholds(t *testing.T) {
	corpus := chatCorpus(40, 1)
	var big []byte
	for _, c := range corpus {
		big = append(big, c...)
	}
	big = big[:8000]
	random := make([]byte, 4000)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	small := big[:300]
	tests := []struct {
		name     string
		c        *Compressor
		payload  []byte
		wantComp bool
		wantZstd bool
	}{
		{"s2 above threshold", &Compressor{Codec: CodecS2}, big, true, false},
		{"zstd above threshold", &Compressor{Codec: CodecZstd}, big, true, true},
		{"s2 below default threshold", &Compressor{Codec: CodecS2}, small, false, false},
		{"zstd below threshold", &Compressor{Codec: CodecZstd, Threshold: 301}, small, false, false},
		{"zstd at threshold", &Compressor{Codec: CodecZstd, Threshold: 300}, small, true, true},
		{"zstd tiny payload", &Compressor{Codec: CodecZstd, Threshold: 1}, bytes.Repeat([]byte("ab"), 40), true, true},
		{"s2 incompressible", &Compressor{Codec: CodecS2}, random, false, false},
		{"zstd incompressible", &Compressor{Codec: CodecZstd}, random, false, false},
		{"codec none", &Compressor{Codec: CodecNone, Threshold: 1}, big, false, false},
		{"nil compressor", nil, big, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := AppendFrame(nil, TypeDeliver, nil, tt.payload, tt.c)
			if err != nil {
				t.Fatal(err)
			}
			flags := Flags(b[2])
			if got := flags&FlagCompressed != 0; got != tt.wantComp {
				t.Fatalf("compressed=%v, want %v (flags %#x)", got, tt.wantComp, flags)
			}
			if got := flags&FlagZstd != 0; got != tt.wantZstd {
				t.Fatalf("zstd=%v, want %v", got, tt.wantZstd)
			}
			if tt.wantComp && len(b)-HeaderSize >= len(tt.payload) {
				t.Fatalf("compressed frame is %d bytes for %d payload", len(b)-HeaderSize, len(tt.payload))
			}
			if !tt.wantComp && len(b)-HeaderSize != len(tt.payload) {
				t.Fatalf("uncompressed frame is %d bytes for %d payload", len(b)-HeaderSize, len(tt.payload))
			}
			f, err := ParseFrame(b, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(f.Payload, tt.payload) {
				t.Fatal("payload changed in round trip")
			}
		})
	}
}

// frameBytes builds a raw frame: header fields as given, then rest.
func frameBytes(version, typ, flags, reserved byte, length int, rest []byte) []byte {
	b := []byte{version, typ, flags, reserved}
	b = binary.BigEndian.AppendUint32(b, uint32(length))
	return append(b, rest...)
}

func raw(typ byte, flags Flags, rest []byte) []byte {
	return frameBytes(Version, typ, byte(flags), 0, len(rest), rest)
}

func TestParseFrameMalformed(t *testing.T) {
	zeros16M := zenc.EncodeAll(make([]byte, 16<<20), nil)
	small := zenc.EncodeAll([]byte("tiny payload"), nil)
	noFCS := func() []byte {
		var buf bytes.Buffer
		w, err := zstd.NewWriter(&buf, zstd.WithEncoderConcurrency(1), zstd.WithSingleSegment(false))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = w.Write([]byte("stream without size"))
		_ = w.Close()
		return buf.Bytes()
	}()
	var h zstd.Header
	if err := h.Decode(noFCS); err != nil || h.HasFCS {
		t.Fatalf("test setup: want a zstd frame without content size (err %v, fcs %v)", err, h.HasFCS)
	}
	s2Bomb := append(binary.AppendUvarint(nil, 1<<30), 0, 0, 0, 0)

	tests := []struct {
		name string
		in   []byte
		lim  int
		want error
	}{
		{"empty", nil, 0, ErrTruncated},
		{"short header", []byte{1, 14, 0, 0, 0}, 0, ErrTruncated},
		{"bad version 0", frameBytes(0, 14, 0, 0, 0, nil), 0, ErrBadVersion},
		{"bad version 2", frameBytes(2, 14, 0, 0, 0, nil), 0, ErrBadVersion},
		{"type 0", raw(0, 0, nil), 0, ErrUnknownType},
		{"type 18", raw(18, 0, nil), 0, ErrUnknownType},
		{"type 255", raw(255, 0, nil), 0, ErrUnknownType},
		{"reserved flag bit", raw(14, 1<<3, nil), 0, ErrBadFlags},
		{"high flag bit", raw(14, 1<<7, nil), 0, ErrBadFlags},
		{"zstd without compressed", raw(14, FlagZstd, nil), 0, ErrBadFlags},
		{"reserved byte", frameBytes(1, 14, 0, 1, 0, nil), 0, ErrBadFlags},
		{"truncated body", frameBytes(1, 14, 0, 0, 10, []byte{1, 2, 3}), 0, ErrTruncated},
		{"trailing bytes", frameBytes(1, 14, 0, 0, 1, []byte{8, 1}), 0, ErrBadFrame},
		{"length over limit", frameBytes(1, 14, 0, 0, 1000, make([]byte, 1000)), 999, ErrTooLarge},
		{"length over default", frameBytes(1, 14, 0, 0, DefaultMaxFrameBytes+1, nil), 0, ErrTooLarge},
		{"length 4GiB", frameBytes(1, 14, 0, 0, 0xffffffff, nil), 0, ErrTooLarge},
		{"ext missing length", raw(14, FlagExtensions, []byte{0}), 0, ErrBadExtension},
		{"ext block overflow", raw(14, FlagExtensions, []byte{0, 10, 1, 2}), 0, ErrBadExtension},
		{"ext tlv overflow", raw(14, FlagExtensions, []byte{0, 3, 1, 5, 0}), 0, ErrBadExtension},
		{"ext tlv missing length", raw(14, FlagExtensions, []byte{0, 1, 1}), 0, ErrBadExtension},
		{"s2 garbage", raw(14, FlagCompressed, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), 0, ErrDecompress},
		{"s2 empty", raw(14, FlagCompressed, nil), 0, ErrDecompress},
		{"s2 bomb", raw(14, FlagCompressed, s2Bomb), 0, ErrTooLarge},
		{"s2 lies about length", raw(14, FlagCompressed, append(binary.AppendUvarint(nil, 10), 0)), 0, ErrDecompress},
		{"zstd garbage", raw(14, FlagCompressed|FlagZstd, []byte("not zstd at all")), 0, ErrDecompress},
		{"zstd empty", raw(14, FlagCompressed|FlagZstd, nil), 0, ErrDecompress},
		{"zstd bomb", raw(14, FlagCompressed|FlagZstd, zeros16M), 0, ErrTooLarge},
		{"zstd second frame bomb", raw(14, FlagCompressed|FlagZstd, append(append([]byte{}, small...), zeros16M...)), 0, ErrTooLarge},
		{"zstd without content size", raw(14, FlagCompressed|FlagZstd, noFCS), 0, ErrDecompress},
		{"zstd truncated", raw(14, FlagCompressed|FlagZstd, small[:len(small)-3]), 0, ErrDecompress},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			f, err := ParseFrame(tt.in, Limits{MaxFrameBytes: tt.lim})
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tt.want) {
				t.Fatalf("ParseFrame: got %v (frame %+v), want %v", err, f, tt.want)
			}
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("%v does not match ErrBadFrame", err)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Fatalf("rejecting allocated %d bytes", alloc)
			}
		})
	}
}

func TestDecodeBadPayload(t *testing.T) {
	b, err := AppendFrame(nil, TypePing, nil, []byte{0xff, 0xff, 0xff}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := Decode(b, Limits{}); !errors.Is(err, ErrBadPayload) || !errors.Is(err, ErrBadFrame) {
		t.Fatalf("Decode: %v", err)
	}
}

func TestReadFrameStream(t *testing.T) {
	var stream bytes.Buffer
	msgs := sampleMessages()
	c := &Compressor{Codec: CodecZstd, Threshold: 1}
	for _, m := range msgs {
		b, err := Encode(nil, m, c)
		if err != nil {
			t.Fatal(err)
		}
		stream.Write(b)
	}
	var buf []byte
	for i, m := range msgs {
		var f Frame
		var err error
		f, buf, err = ReadFrame(&stream, buf, Limits{})
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		got, err := f.Message()
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, m) {
			t.Fatalf("frame %d: got %v want %v", i, got, m)
		}
	}
	if _, _, err := ReadFrame(&stream, buf, Limits{}); err != io.EOF {
		t.Fatalf("at end of stream: %v, want io.EOF", err)
	}

	ping, _ := Encode(nil, msgs[13], nil)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"partial header", ping[:5], io.ErrUnexpectedEOF},
		{"partial body", ping[:len(ping)-1], io.ErrUnexpectedEOF},
		{"over limit", frameBytes(1, 14, 0, 0, 1<<30, nil), ErrTooLarge},
		{"bad version", frameBytes(9, 14, 0, 0, 0, nil), ErrBadVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, _, err := ReadFrame(bytes.NewReader(tt.in), nil, Limits{}); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNegotiateAndCloseCodes(t *testing.T) {
	if got := Negotiate([]Codec{CodecZstd, CodecS2}, []Codec{CodecS2}); got != CodecS2 {
		t.Fatalf("Negotiate: %v", got)
	}
	if got := Negotiate([]Codec{CodecNone}, []Codec{CodecNone, CodecS2}); got != CodecNone {
		t.Fatalf("Negotiate: %v", got)
	}
	cc := CloseCodeFor(3)
	if cc != 4003 {
		t.Fatalf("CloseCodeFor(3) = %d", cc)
	}
	if ec, ok := cc.ErrorCode(); !ok || ec != 3 {
		t.Fatalf("ErrorCode: %v %v", ec, ok)
	}
	if _, ok := CloseNormal.ErrorCode(); ok {
		t.Fatal("1000 carries no error code")
	}
}

// TestInterNodeTypes: inter-node frames parse only with Limits.InterNode,
// which refuses client frames: neither side can send the other's.
func TestInterNodeTypes(t *testing.T) {
	link, err := Encode(nil, &pb.RoomComments{Room: "r"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	client, _ := Encode(nil, &pb.Ping{}, nil)
	if _, _, err := Decode(link, Limits{}); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("an inter-node frame on a client connection: %v", err)
	}
	if _, _, err := Decode(client, Limits{InterNode: true}); !errors.Is(err, ErrUnknownType) {
		t.Fatalf("a client frame on the link: %v", err)
	}
	if typ, m, err := Decode(link, Limits{InterNode: true}); err != nil || typ != TypeRoomComments || m.(*pb.RoomComments).Room != "r" {
		t.Fatalf("an inter-node frame on the link: %v %v %v", typ, m, err)
	}
	if TypeRoomComments.String() != "room_comments" {
		t.Fatal(TypeRoomComments.String())
	}
}
