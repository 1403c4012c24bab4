package transport

import "errors"

// Frame decoding errors. Each is wrapped with details; test with errors.Is.
var (
	// ErrBadFrame is the parent of all frame format errors.
	ErrBadFrame = errors.New("transport: bad frame")
	// ErrTruncated: the frame is shorter than its header says.
	ErrTruncated = &frameError{"truncated frame"}
	// ErrBadVersion: the header carries an unsupported version.
	ErrBadVersion = &frameError{"unsupported frame version"}
	// ErrUnknownType: the header carries an unknown frame type.
	ErrUnknownType = &frameError{"unknown frame type"}
	// ErrBadFlags: reserved flag bits or the reserved byte are set.
	ErrBadFlags = &frameError{"bad frame flags"}
	// ErrBadExtension: the TLV extension block is malformed.
	ErrBadExtension = &frameError{"bad frame extension"}
	// ErrTooLarge: the frame or its decompressed payload exceeds the limit.
	ErrTooLarge = &frameError{"frame too large"}
	// ErrDecompress: a compressed payload could not be decompressed.
	ErrDecompress = &frameError{"bad compressed payload"}
	// ErrBadPayload: the Protobuf payload does not decode.
	ErrBadPayload = &frameError{"bad frame payload"}
)

// frameError is a frame format error; every one also matches ErrBadFrame.
type frameError struct{ msg string }

func (e *frameError) Error() string { return "transport: " + e.msg }

// Is makes every frame error match ErrBadFrame.
func (e *frameError) Is(target error) bool { return target == ErrBadFrame }

// Connection errors. Closed connections return errors wrapping net.ErrClosed.
var (
	// ErrIdleTimeout: the peer sent nothing within the read (idle) timeout.
	ErrIdleTimeout = errors.New("transport: idle timeout")
	// ErrOriginNotAllowed: a browser Origin is not in the allowlist.
	ErrOriginNotAllowed = errors.New("transport: origin not allowed")
)
