package client

import (
	"context"
	"net/http"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// wsDialer returns the default Config.Dial: a WebSocket connection through
// transport.DialWS. HTTP 401 and 403 answers to the upgrade become fatal
// *Errors (UNAUTHENTICATED, FORBIDDEN: e.g. an Origin not allowed); 429 and
// 503 become retryable ones.
func wsDialer(cfg Config) func(ctx context.Context, url string) (transport.Conn, error) {
	opts := transport.WSDialOptions{
		Header:           cfg.Header.Clone(),
		MaxFrameBytes:    max(cfg.MaxFrameBytes, maxServerFrameBytes),
		TLSConfig:        cfg.TLSConfig,
		HandshakeTimeout: cfg.HandshakeTimeout,
	}
	return func(ctx context.Context, url string) (transport.Conn, error) {
		conn, resp, err := transport.DialWS(ctx, url, opts)
		if resp != nil && resp.Body != nil {
			_ = resp.Body.Close()
		}
		if err != nil {
			if resp != nil {
				if e := httpStatusError(resp.StatusCode, err); e != nil {
					return nil, e
				}
			}
			return nil, err
		}
		return conn, nil
	}
}

// httpStatusError classifies a failed upgrade by its HTTP status; nil means
// a plain (retryable) failure.
func httpStatusError(status int, err error) *Error {
	switch status {
	case http.StatusUnauthorized:
		return &Error{Code: pb.ErrorCode_ERROR_CODE_UNAUTHENTICATED, Reason: err.Error()}
	case http.StatusForbidden:
		return &Error{Code: pb.ErrorCode_ERROR_CODE_FORBIDDEN, Reason: err.Error()}
	case http.StatusTooManyRequests:
		return &Error{Code: pb.ErrorCode_ERROR_CODE_RATE_LIMITED, Reason: err.Error()}
	case http.StatusServiceUnavailable:
		return &Error{Code: pb.ErrorCode_ERROR_CODE_UNAVAILABLE, Reason: err.Error()}
	}
	return nil
}
