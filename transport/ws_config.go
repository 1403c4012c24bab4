package transport

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// WebSocket defaults. They are small on purpose: an edge holds tens of
// thousands of mostly idle connections, and each one keeps its read buffer
// for its whole life (write buffers are pooled and held only while writing).
const (
	// DefaultWSReadBufferSize is the per-connection read buffer size.
	DefaultWSReadBufferSize = 1024
	// DefaultWSWriteBufferSize is the size of pooled write buffers.
	DefaultWSWriteBufferSize = 4096
	// DefaultWSWriteTimeout bounds one frame write.
	DefaultWSWriteTimeout = 10 * time.Second
	// DefaultWSHandshakeTimeout bounds the HTTP upgrade handshake.
	DefaultWSHandshakeTimeout = 10 * time.Second
)

// WSConfig configures the server side of WebSocket connections. The zero
// value is usable: same-host origins only, default limits and timeouts, no
// idle timeout, no permessage-deflate.
type WSConfig struct {
	// AllowedOrigins lists the browser origins allowed to connect. An entry
	// is an exact origin ("https://chat.example.com"), an origin whose host
	// starts with "*." ("https://*.example.com": any subdomain, not the apex
	// itself), or the same without a scheme ("*.example.com": any scheme).
	// Matching ignores case. Requests without an Origin header (non-browser
	// clients) are always allowed. Empty means only an origin whose host
	// equals the request's Host is allowed — not everything.
	AllowedOrigins []string
	// AllowAllOrigins accepts every origin. For development only.
	AllowAllOrigins bool
	// MaxFrameBytes limits a frame's length field (extensions plus payload);
	// a WebSocket message may be HeaderSize bytes longer. 0 means
	// DefaultMaxFrameBytes. A larger message fails the read with ErrTooLarge
	// and the peer sees close 1009.
	MaxFrameBytes int
	// WriteTimeout bounds each frame write. 0 means DefaultWSWriteTimeout.
	WriteTimeout time.Duration
	// ReadTimeout, when positive, is the idle timeout: ReadFrame fails with
	// ErrIdleTimeout when no message arrives within it. Control frames
	// (WebSocket ping/pong) do not reset it. 0 means none.
	ReadTimeout time.Duration
	// HandshakeTimeout bounds writing the upgrade response. 0 means
	// DefaultWSHandshakeTimeout.
	HandshakeTimeout time.Duration
	// EnableCompression negotiates permessage-deflate when the client offers
	// it. Off by default: frames already carry S2/zstd payload compression,
	// and deflate contexts cost memory per connection.
	EnableCompression bool
	// ReadBufferSize is the per-connection read buffer size. 0 means
	// DefaultWSReadBufferSize.
	ReadBufferSize int
	// WriteBufferSize is the size of the write buffers, which come from a
	// shared pool, so idle connections hold none. 0 means
	// DefaultWSWriteBufferSize.
	WriteBufferSize int
}

// Validate checks the configuration.
func (c *WSConfig) Validate() error {
	var errs []error
	if c.MaxFrameBytes < 0 {
		errs = append(errs, fmt.Errorf("MaxFrameBytes %d is negative", c.MaxFrameBytes))
	}
	if c.WriteTimeout < 0 || c.ReadTimeout < 0 || c.HandshakeTimeout < 0 {
		errs = append(errs, errors.New("timeouts must not be negative"))
	}
	if c.ReadBufferSize < 0 || c.WriteBufferSize < 0 {
		errs = append(errs, errors.New("buffer sizes must not be negative"))
	}
	if _, err := parseOrigins(c.AllowedOrigins); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("transport: WSConfig: %w", err)
	}
	return nil
}

// WSDialOptions configures the client side of a WebSocket connection. The
// zero value is usable.
type WSDialOptions struct {
	// Header is sent with the upgrade request (for example Authorization).
	Header http.Header
	// Origin, when set, is sent as the Origin header.
	Origin string
	// TLSConfig is used for wss:// URLs. nil means the default config.
	TLSConfig *tls.Config
	// Proxy picks a proxy for the request. nil means
	// http.ProxyFromEnvironment.
	Proxy func(*http.Request) (*url.URL, error)
	// MaxFrameBytes limits incoming frames as in WSConfig. 0 means
	// DefaultMaxFrameBytes.
	MaxFrameBytes int
	// EnableCompression offers permessage-deflate. Off by default.
	EnableCompression bool
	// HandshakeTimeout bounds the connect and upgrade handshake (on top of
	// ctx). 0 means DefaultWSHandshakeTimeout.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each frame write. 0 means DefaultWSWriteTimeout.
	WriteTimeout time.Duration
	// ReadTimeout is the idle timeout as in WSConfig. 0 means none.
	ReadTimeout time.Duration
	// ReadBufferSize is the read buffer size. 0 means 4096.
	ReadBufferSize int
	// WriteBufferSize is the write buffer size (client frames are masked,
	// so a message is written in chunks of this size). 0 means 4096.
	WriteBufferSize int
}

func orDefault[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
