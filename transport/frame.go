package transport

import (
	"encoding/binary"
	"fmt"
	"io"
)

// Version is the frame format version written in every header.
const Version = 1

// HeaderSize is the size of the fixed frame header in bytes:
//
//	byte 0    version (1)
//	byte 1    frame type (FrameType)
//	byte 2    flags (Flags)
//	byte 3    reserved, must be 0
//	bytes 4-7 length of the rest of the frame (extensions + payload), big endian
const HeaderSize = 8

// DefaultMaxFrameBytes is the default limit on the length field of a frame
// (extensions plus payload, compressed size) and on a decompressed payload.
const DefaultMaxFrameBytes = 64 << 10

// Flags are the header flag bits.
type Flags uint8

const (
	// FlagCompressed marks a compressed payload.
	FlagCompressed Flags = 1 << 0
	// FlagZstd says the compressed payload uses zstd; without it, S2.
	FlagZstd Flags = 1 << 1
	// FlagExtensions says a TLV extension block precedes the payload.
	FlagExtensions Flags = 1 << 2

	knownFlags = FlagCompressed | FlagZstd | FlagExtensions
)

// Extension is one TLV header extension: a type byte, a length byte and up
// to 255 bytes of value. Unknown extension types are carried and ignored.
type Extension struct {
	Type  uint8
	Value []byte
}

// Extension types defined so far.
const (
	// ExtTrace carries an opaque trace id chosen by the sender.
	ExtTrace uint8 = 1
	// ExtSentAt carries the sender's clock in Unix microseconds (8 bytes, big endian).
	ExtSentAt uint8 = 2
	// ExtRequest (inter-node only) marks a request that wants a reply and
	// carries its id (8 bytes, big endian), chosen by the requester.
	ExtRequest uint8 = 3
	// ExtReply (inter-node only) marks the reply to the request whose id it
	// carries (8 bytes, big endian).
	ExtReply uint8 = 4
)

// Frame is one decoded frame. Payload is the uncompressed Protobuf payload.
type Frame struct {
	Type    FrameType
	Flags   Flags
	Ext     []Extension
	Payload []byte
}

// ExtValue returns the value of the first extension of type t, or nil.
func (f *Frame) ExtValue(t uint8) []byte {
	for _, e := range f.Ext {
		if e.Type == t {
			return e.Value
		}
	}
	return nil
}

// AppendFrame appends the encoding of a frame to dst. The payload is
// compressed with c when c is not nil and the payload is at least
// c.Threshold bytes long and compression makes it smaller.
func AppendFrame(dst []byte, t FrameType, ext []Extension, payload []byte, c *Compressor) ([]byte, error) {
	var flags Flags
	extLen := 0
	if len(ext) > 0 {
		flags |= FlagExtensions
		extLen = 2
		for _, e := range ext {
			if len(e.Value) > 255 {
				return dst, fmt.Errorf("%w: extension %d value is %d bytes (max 255)", ErrBadExtension, e.Type, len(e.Value))
			}
			extLen += 2 + len(e.Value)
		}
		if extLen-2 > 0xffff {
			return dst, fmt.Errorf("%w: extension block is %d bytes (max 65535)", ErrBadExtension, extLen-2)
		}
	}
	start := len(dst)
	dst = append(dst, Version, byte(t), 0, 0, 0, 0, 0, 0)
	if extLen > 0 {
		dst = binary.BigEndian.AppendUint16(dst, uint16(extLen-2))
		for _, e := range ext {
			dst = append(dst, e.Type, byte(len(e.Value)))
			dst = append(dst, e.Value...)
		}
	}
	if c != nil && c.Codec != CodecNone && len(payload) >= c.threshold() {
		before := len(dst)
		var zflag Flags
		dst, zflag = c.compress(dst, payload)
		if len(dst)-before < len(payload) {
			flags |= FlagCompressed | zflag
		} else {
			dst = append(dst[:before], payload...)
		}
	} else {
		dst = append(dst, payload...)
	}
	n := len(dst) - start - HeaderSize
	if uint64(n) > 0xffffffff {
		return dst[:start], ErrTooLarge
	}
	dst[start+2] = byte(flags)
	binary.BigEndian.PutUint32(dst[start+4:], uint32(n))
	return dst, nil
}

// Limits bound what ParseFrame accepts.
type Limits struct {
	// MaxFrameBytes limits the frame length field and the decompressed
	// payload. Zero means DefaultMaxFrameBytes.
	MaxFrameBytes int
	// InterNode accepts the inter-node frame types (FrameType.InterNode)
	// instead of the client ones: set by edge/nodelink only.
	InterNode bool
}

func (l Limits) max() int {
	if l.MaxFrameBytes <= 0 {
		return DefaultMaxFrameBytes
	}
	return l.MaxFrameBytes
}

// ParseHeader validates a frame header and returns its type, flags and the
// length of the rest of the frame.
func ParseHeader(h []byte, lim Limits) (FrameType, Flags, int, error) {
	if len(h) < HeaderSize {
		return 0, 0, 0, fmt.Errorf("%w: header is %d bytes", ErrTruncated, len(h))
	}
	if h[0] != Version {
		return 0, 0, 0, fmt.Errorf("%w: %d", ErrBadVersion, h[0])
	}
	t := FrameType(h[1])
	if (!lim.InterNode && !t.Known()) || (lim.InterNode && !t.InterNode()) {
		return 0, 0, 0, fmt.Errorf("%w: %d", ErrUnknownType, h[1])
	}
	flags := Flags(h[2])
	if flags&^knownFlags != 0 || h[3] != 0 || (flags&FlagZstd != 0 && flags&FlagCompressed == 0) {
		return 0, 0, 0, fmt.Errorf("%w: flags %#x reserved %#x", ErrBadFlags, h[2], h[3])
	}
	n := binary.BigEndian.Uint32(h[4:8])
	if uint64(n) > uint64(lim.max()) {
		return 0, 0, 0, fmt.Errorf("%w: frame of %d bytes, limit %d", ErrTooLarge, n, lim.max())
	}
	return t, flags, int(n), nil
}

// ParseFrame decodes one complete frame held in b (exactly one frame, as
// delivered by a message-oriented transport). A compressed payload is
// decompressed, never to more than the frame limit. The returned frame's
// Payload and extension values may alias b.
func ParseFrame(b []byte, lim Limits) (Frame, error) {
	t, flags, n, err := ParseHeader(b, lim)
	if err != nil {
		return Frame{}, err
	}
	if len(b)-HeaderSize != n {
		if len(b)-HeaderSize < n {
			return Frame{}, fmt.Errorf("%w: have %d of %d bytes", ErrTruncated, len(b)-HeaderSize, n)
		}
		return Frame{}, fmt.Errorf("%w: %d trailing bytes", ErrBadFrame, len(b)-HeaderSize-n)
	}
	f := Frame{Type: t, Flags: flags}
	rest := b[HeaderSize:]
	if flags&FlagExtensions != 0 {
		if len(rest) < 2 {
			return Frame{}, fmt.Errorf("%w: missing extension length", ErrBadExtension)
		}
		el := int(binary.BigEndian.Uint16(rest))
		rest = rest[2:]
		if el > len(rest) {
			return Frame{}, fmt.Errorf("%w: extension block of %d bytes, %d left", ErrBadExtension, el, len(rest))
		}
		block := rest[:el]
		rest = rest[el:]
		for len(block) > 0 {
			if len(block) < 2 || int(block[1]) > len(block)-2 {
				return Frame{}, fmt.Errorf("%w: truncated extension", ErrBadExtension)
			}
			l := int(block[1])
			f.Ext = append(f.Ext, Extension{Type: block[0], Value: block[2 : 2+l]})
			block = block[2+l:]
		}
	}
	if flags&FlagCompressed != 0 {
		p, err := decompress(rest, flags&FlagZstd != 0, lim.max())
		if err != nil {
			return Frame{}, err
		}
		f.Payload = p
	} else {
		f.Payload = rest
	}
	return f, nil
}

// ReadFrame reads one frame from a byte stream (for stream transports such
// as a QUIC stream). buf is reused when it is large enough.
func ReadFrame(r io.Reader, buf []byte, lim Limits) (Frame, []byte, error) {
	var h [HeaderSize]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return Frame{}, buf, err
	}
	_, _, n, err := ParseHeader(h[:], lim)
	if err != nil {
		return Frame{}, buf, err
	}
	if cap(buf) < HeaderSize+n {
		buf = make([]byte, HeaderSize+n)
	}
	buf = buf[:HeaderSize+n]
	copy(buf, h[:])
	if _, err := io.ReadFull(r, buf[HeaderSize:]); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return Frame{}, buf, err
	}
	f, err := ParseFrame(buf, lim)
	return f, buf, err
}
