package transport

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// seedFrames returns real frames: one of every type, plus S2 and zstd
// compressed chat batches and a frame with extensions.
func seedFrames(f *testing.F) [][]byte {
	var out [][]byte
	for _, m := range sampleMessages() {
		b, err := Encode(nil, m, nil)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	for i, p := range chatCorpus(4, 7) {
		c := &Compressor{Codec: CodecS2, Threshold: 1}
		if i%2 == 1 {
			c.Codec = CodecZstd
		}
		b, err := AppendFrame(nil, TypeDeliver, nil, p, c)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	b, err := AppendFrame(nil, TypePing, []Extension{{Type: ExtTrace, Value: []byte("t-1")}, {Type: ExtSentAt, Value: make([]byte, 8)}}, []byte{8, 1}, nil)
	if err != nil {
		f.Fatal(err)
	}
	return append(out, b)
}

// FuzzParseFrame checks that no input panics the frame decoder, that a
// decoded frame respects the limit, that the stream reader agrees with the
// message parser, and that a decoded frame re-encodes to an equal frame.
func FuzzParseFrame(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
	lim := Limits{MaxFrameBytes: 16 << 10}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := ParseFrame(b, lim)
		sf, _, serr := ReadFrame(bytes.NewReader(b), nil, lim)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error outside the package's error families: %v", err)
			}
			if serr == nil && len(b) >= HeaderSize {
				// ReadFrame reads one frame and may leave trailing bytes
				// that ParseFrame rejects; nothing else may differ.
				if _, _, n, _ := ParseHeader(b, lim); HeaderSize+n == len(b) {
					t.Fatalf("ParseFrame: %v, ReadFrame accepted", err)
				}
			}
			return
		}
		if serr != nil {
			t.Fatalf("ParseFrame accepted, ReadFrame: %v", serr)
		}
		if len(fr.Payload) > lim.MaxFrameBytes {
			t.Fatalf("payload of %d bytes past the %d limit", len(fr.Payload), lim.MaxFrameBytes)
		}
		if !bytes.Equal(fr.Payload, sf.Payload) || fr.Type != sf.Type {
			t.Fatal("stream and message parsers disagree")
		}
		re, err := AppendFrame(nil, fr.Type, fr.Ext, fr.Payload, nil)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		fr2, err := ParseFrame(re, Limits{MaxFrameBytes: 1 << 20})
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if fr2.Type != fr.Type || !bytes.Equal(fr2.Payload, fr.Payload) || len(fr2.Ext) != len(fr.Ext) {
			t.Fatal("frame changed in a round trip")
		}
	})
}

// FuzzDecode runs the full message decoding path (frame, decompression,
// Protobuf) and checks that what decodes re-encodes and decodes equal.
func FuzzDecode(f *testing.F) {
	for _, b := range seedFrames(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, m, err := Decode(b, Limits{MaxFrameBytes: 16 << 10})
		if err != nil {
			if !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error outside the package's error families: %v", err)
			}
			return
		}
		got, err := TypeOf(m)
		if err != nil || got != typ {
			t.Fatalf("decoded %T as %v, TypeOf says %v (%v)", m, typ, got, err)
		}
		re, err := Encode(nil, m, &Compressor{Codec: CodecZstd, Threshold: 1})
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		_, m2, err := Decode(re, Limits{MaxFrameBytes: 1 << 20})
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !proto.Equal(m, m2) {
			t.Fatal("message changed in a round trip")
		}
	})
}
