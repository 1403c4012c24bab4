package transport

import (
	"errors"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"

	"github.com/edgegate/edgegate/transport/pb"
)

// Codec is a payload compression codec, negotiated at connect.
type Codec = pb.Compression

// Codecs.
const (
	CodecNone = pb.Compression_COMPRESSION_NONE
	CodecS2   = pb.Compression_COMPRESSION_S2
	CodecZstd = pb.Compression_COMPRESSION_ZSTD
)

// DefaultCompressThreshold is the payload size from which payloads are
// compressed. Below it, chat-sized payloads gain too little for the CPU.
const DefaultCompressThreshold = 512

// Compressor compresses outgoing payloads. The zero value compresses nothing.
// A Compressor is safe for concurrent use.
type Compressor struct {
	// Codec is the codec to use; CodecNone disables compression.
	Codec Codec
	// Threshold is the smallest payload that is compressed; 0 means
	// DefaultCompressThreshold.
	Threshold int
}

func (c *Compressor) threshold() int {
	if c.Threshold <= 0 {
		return DefaultCompressThreshold
	}
	return c.Threshold
}

// zstd encoders and decoders are safe for concurrent EncodeAll/DecodeAll.
//
// The encoder writes single-segment frames: only those always carry the
// frame content size (the library omits it below 256 bytes otherwise), and
// decompress requires it to bound the allocation before decoding.
var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(1), zstd.WithZeroFrames(true), zstd.WithEncoderCRC(false),
		zstd.WithSingleSegment(true))
	// WithDecodeAllCapLimit makes DecodeAll stop at cap(dst): decompress
	// sizes dst from the first frame's content size, so a payload that
	// appends further frames (each claiming a large size) cannot make the
	// decoder allocate past the limit.
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(64<<20), zstd.IgnoreChecksum(true),
		zstd.WithDecodeAllCapLimit(true))
)

// compress appends the compressed payload and returns the flag bits naming
// the codec.
func (c *Compressor) compress(dst, payload []byte) ([]byte, Flags) {
	switch c.Codec {
	case CodecZstd:
		return zenc.EncodeAll(payload, dst), FlagZstd
	default:
		// s2.Encode writes into dst's spare capacity only when it fits, so
		// encode into a scratch slice and append.
		enc := s2.Encode(nil, payload)
		return append(dst, enc...), 0
	}
}

// decompress decodes a compressed payload, refusing to produce more than max
// bytes (checked before allocating, from the codec's own length header).
func decompress(b []byte, isZstd bool, max int) ([]byte, error) {
	if isZstd {
		var h zstd.Header
		if err := h.Decode(b); err != nil {
			return nil, fmt.Errorf("%w: zstd header: %v", ErrDecompress, err)
		}
		if !h.HasFCS {
			return nil, fmt.Errorf("%w: zstd frame without content size", ErrDecompress)
		}
		if h.FrameContentSize > uint64(max) {
			return nil, fmt.Errorf("%w: decompressed payload of %d bytes, limit %d", ErrTooLarge, h.FrameContentSize, max)
		}
		out, err := zdec.DecodeAll(b, make([]byte, 0, h.FrameContentSize))
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			return nil, fmt.Errorf("%w: zstd payload decompresses past its declared %d bytes", ErrTooLarge, h.FrameContentSize)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: zstd: %v", ErrDecompress, err)
		}
		if len(out) > max {
			return nil, fmt.Errorf("%w: decompressed payload of %d bytes, limit %d", ErrTooLarge, len(out), max)
		}
		return out, nil
	}
	n, err := s2.DecodedLen(b)
	if err != nil {
		return nil, fmt.Errorf("%w: s2: %v", ErrDecompress, err)
	}
	if n > max {
		return nil, fmt.Errorf("%w: decompressed payload of %d bytes, limit %d", ErrTooLarge, n, max)
	}
	out, err := s2.Decode(make([]byte, n), b)
	if err != nil {
		return nil, fmt.Errorf("%w: s2: %v", ErrDecompress, err)
	}
	return out, nil
}

// Negotiate picks the first codec in the client's preference list that the
// server allows, or CodecNone.
func Negotiate(clientPrefs []Codec, allowed []Codec) Codec {
	for _, p := range clientPrefs {
		for _, a := range allowed {
			if p == a && p != CodecNone {
				return p
			}
		}
	}
	return CodecNone
}
