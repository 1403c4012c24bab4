package fec

import "errors"

// Packet format errors. Each is wrapped with details; test with errors.Is.
// Every one of them also matches ErrMalformed.
var (
	// ErrMalformed is the parent of all packet format errors.
	ErrMalformed = errors.New("fec: malformed packet")
	// ErrTruncated: the datagram is shorter than its header says.
	ErrTruncated = &packetError{"truncated packet"}
	// ErrTrailing: the datagram is longer than its header says.
	ErrTrailing = &packetError{"trailing bytes after packet"}
	// ErrBadVersion: the header carries an unsupported version.
	ErrBadVersion = &packetError{"unsupported packet version"}
	// ErrBadKind: the header carries an unknown packet kind.
	ErrBadKind = &packetError{"unknown packet kind"}
	// ErrBadGroup: the index, k or m fields are inconsistent.
	ErrBadGroup = &packetError{"bad group fields"}
	// ErrBadFeedback: a feedback packet body is invalid.
	ErrBadFeedback = &packetError{"bad feedback packet"}
	// ErrTooLarge: the datagram exceeds the size limit.
	ErrTooLarge = &packetError{"packet too large"}
)

// Usage errors, returned by the codec rather than the parser.
var (
	// ErrPayloadTooLarge: Encoder.Add got a payload longer than
	// Config.MaxPayload.
	ErrPayloadTooLarge = errors.New("fec: payload too large")
	// ErrBadConfig: Config.Validate rejected the configuration.
	ErrBadConfig = errors.New("fec: bad config")
	// ErrNotFeedback: Encoder.OnFeedback got a packet that is not feedback.
	ErrNotFeedback = errors.New("fec: not a feedback packet")
)

// packetError is a packet format error; every one also matches ErrMalformed.
type packetError struct{ msg string }

func (e *packetError) Error() string { return "fec: " + e.msg }

// Is makes every packet error match ErrMalformed.
func (e *packetError) Is(target error) bool { return target == ErrMalformed }
