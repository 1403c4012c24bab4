package loadgen

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Message bodies sent by the scenarios carry who sent them, a per-sender
// sequence and the send time, so receivers can measure latency and detect
// loss, duplicates and reordering without any shared state:
//
//	bytes 0-1   magic "EB"
//	byte  2     version 1
//	bytes 3-6   stream (sender index), uint32 big endian
//	bytes 7-14  seq (1, 2, ... per stream), uint64 big endian
//	bytes 15-22 send time, unix nanoseconds, int64 big endian
//	bytes 23-   padding up to the requested body size
//
// All processes run on one machine, so send and receive clocks agree.

// BodyHeaderSize is the smallest body: the header without padding.
const BodyHeaderSize = 23

const bodyVersion = 1

// ErrBadBody is returned by DecodeBody for a body that is not a benchmark
// body.
var ErrBadBody = errors.New("loadgen: not a benchmark body")

// Body is the decoded header of a benchmark message body.
type Body struct {
	// Stream identifies the sender within a run.
	Stream uint32
	// Seq counts the stream's messages from 1.
	Seq uint64
	// SentUnixNano is when the sender handed the message to the client.
	SentUnixNano int64
}

// AppendBody appends b encoded and padded to size bytes (at least
// BodyHeaderSize) to dst.
func AppendBody(dst []byte, b Body, size int) []byte {
	dst = append(dst, 'E', 'B', bodyVersion)
	dst = binary.BigEndian.AppendUint32(dst, b.Stream)
	dst = binary.BigEndian.AppendUint64(dst, b.Seq)
	dst = binary.BigEndian.AppendUint64(dst, uint64(b.SentUnixNano))
	for i := BodyHeaderSize; i < size; i++ {
		dst = append(dst, 'x')
	}
	return dst
}

// DecodeBody parses a body made by AppendBody; padding is not checked.
func DecodeBody(p []byte) (Body, error) {
	if len(p) < BodyHeaderSize {
		return Body{}, fmt.Errorf("%w: %d bytes, need at least %d", ErrBadBody, len(p), BodyHeaderSize)
	}
	if p[0] != 'E' || p[1] != 'B' {
		return Body{}, fmt.Errorf("%w: bad magic", ErrBadBody)
	}
	if p[2] != bodyVersion {
		return Body{}, fmt.Errorf("%w: version %d", ErrBadBody, p[2])
	}
	return Body{
		Stream:       binary.BigEndian.Uint32(p[3:7]),
		Seq:          binary.BigEndian.Uint64(p[7:15]),
		SentUnixNano: int64(binary.BigEndian.Uint64(p[15:23])),
	}, nil
}
