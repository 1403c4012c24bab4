package client

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/edgegate/edgegate/transport/pb"
)

// Sentinel errors. Test with errors.Is.
var (
	// ErrClosed is returned by calls on a Client after Close (or after a
	// fatal error stopped it; Err then says why). It matches net.ErrClosed.
	ErrClosed = fmt.Errorf("client: closed: %w", net.ErrClosed)
	// ErrInvalidID: a conversation, room or client message id is not 1-128
	// bytes of [A-Za-z0-9._:@/-].
	ErrInvalidID = errors.New("client: invalid id")
	// ErrInFlight: a Send with the same client message id is already
	// waiting for its ack.
	ErrInFlight = errors.New("client: a send with this client message id is in flight")
	// ErrBadResponse: the server answered a request with a frame of the
	// wrong type.
	ErrBadResponse = errors.New("client: unexpected response")
	// ErrHandshake: the server broke the Connect/Connected exchange.
	ErrHandshake = errors.New("client: handshake failed")
)

// Error is an error reported by the server (an Error frame, or a close code
// 4000+code). Inspect it with errors.As.
type Error struct {
	// Code classifies the error.
	Code pb.ErrorCode
	// Reason is the server's human-readable explanation.
	Reason string
	// RetryAfter, when non-zero, says when retrying may succeed.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	s := "client: server error " + e.Code.String()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %v)", e.RetryAfter)
	}
	return s
}

// Is reports whether target is an *Error with the same Code, so
// errors.Is(err, &client.Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN}) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// ErrorCode returns the server error code carried by err, if any.
func ErrorCode(err error) (pb.ErrorCode, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e.Code, true
	}
	return 0, false
}

func errorFromPB(m *pb.Error) *Error {
	return &Error{Code: m.GetCode(), Reason: m.GetReason(), RetryAfter: time.Duration(m.GetRetryAfterMs()) * time.Millisecond}
}

// retryable reports whether a request failing with e should be retried
// after e.RetryAfter (or a backoff) rather than returned.
func (e *Error) retryable() bool {
	switch e.Code {
	case pb.ErrorCode_ERROR_CODE_RATE_LIMITED, pb.ErrorCode_ERROR_CODE_OVERLOADED, pb.ErrorCode_ERROR_CODE_UNAVAILABLE:
		return true
	}
	return false
}

// isAuth reports whether e rejects the token.
func (e *Error) isAuth() bool {
	return e.Code == pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED || e.Code == pb.ErrorCode_ERROR_CODE_TOKEN_EXPIRED
}
