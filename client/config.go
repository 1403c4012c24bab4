package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Defaults used for zero Config fields.
const (
	DefaultMinBackoff        = 100 * time.Millisecond
	DefaultMaxBackoff        = 10 * time.Second
	DefaultHeartbeatInterval = 25 * time.Second
	DefaultAckInterval       = 250 * time.Millisecond
	DefaultAckEvery          = 64
	DefaultMessageBuffer     = 1024
	DefaultHandshakeTimeout  = 10 * time.Second
	// maxServerFrameBytes caps the frame limit a server may raise us to.
	maxServerFrameBytes = 16 << 20
)

// ClientVersion is sent in Connect.client_version.
const ClientVersion = "edgegate-go/1"

// Config configures a Client. The zero value of every field except URL (or
// Dial) and Token (or TokenFunc) is usable; each default is documented on
// its field.
type Config struct {
	// URL is the edge endpoint, ws(s)://host:port/v1/ws. Required unless
	// Dial is set. A Redirect from the server replaces it for later
	// connections.
	URL string

	// AlternateURLs are other edges of the same cluster (e.g. from the
	// edge's GET /v1/route). When an edge cannot be reached (the dial or
	// the handshake fails without an answer from the server) the client
	// moves to the next one at once, going round URL, AlternateURLs...;
	// after a whole round failed it backs off before the next round. A
	// resumed session on another edge of the cluster gets exactly what it
	// missed (the edges share the resume secret and the replicated log).
	// A Redirect replaces URL and AlternateURLs with its URLs.
	AlternateURLs []string

	// Token is the JWT presented in Connect. Ignored when TokenFunc is set.
	Token string
	// TokenFunc, when set, is called on every (re)connect for a fresh
	// token. After the server rejects a token (UNAUTHENTICATED or
	// TOKEN_EXPIRED) the client calls it once more and gives up if that
	// token is rejected too.
	TokenFunc func(ctx context.Context) (string, error)

	// DeviceID identifies this device. Default: a random id per Client
	// (positions stored by the server are then not reused across
	// processes; set it to a stable id to get that).
	DeviceID string

	// Positions are initial per-conversation positions (last seq the
	// application has processed, e.g. persisted from Positions() of an
	// earlier run). They are sent in Connect; messages up to them are not
	// delivered again.
	Positions map[string]uint64

	// Compression lists the payload codecs the client accepts, best first.
	// Default (nil): S2, then zstd. S2 first because receivers pay the
	// decompression on every frame: on chat payloads it saves 44% of the
	// bytes against zstd's 48%, at a tenth of the CPU (5 us vs 0.6 us per
	// 1 KB frame; go test -bench Compress ./transport). Put zstd first
	// for metered links where bytes matter more than battery. Use
	// []transport.Codec{transport.CodecNone} to disable compression.
	Compression []transport.Codec

	// Dial opens a connection to url (Config.URL or a redirect target).
	// Default: a WebSocket (transport.DialWS) with Header, TLSConfig and
	// HandshakeTimeout. Set it to use another transport such as QUIC.
	Dial func(ctx context.Context, url string) (transport.Conn, error)
	// Header is sent with the WebSocket upgrade request (e.g. Origin).
	Header http.Header
	// TLSConfig is used by the default dialer for wss:// URLs. Default:
	// the system defaults.
	TLSConfig *tls.Config

	// HandshakeTimeout bounds dialing plus the Connect/Connected exchange.
	// Default 10 s.
	HandshakeTimeout time.Duration

	// MinBackoff and MaxBackoff bound the reconnect delay: attempt n
	// sleeps a uniformly random time in [0, min(MaxBackoff,
	// MinBackoff*2^n)] (exponential backoff with full jitter); n resets
	// after a successful connect. Defaults 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration

	// HeartbeatInterval is how often the client pings. A connection from
	// which nothing arrived for twice this long is considered dead and
	// replaced. Default: the server's Connected.heartbeat_interval_ms, or
	// 25 s when the server sends none.
	HeartbeatInterval time.Duration

	// AckInterval is how often cumulative DeliveryAcks are flushed.
	// Default 250 ms. An ack is also flushed after AckEvery messages.
	AckInterval time.Duration
	// AckEvery flushes a DeliveryAck after this many ordered messages were
	// delivered since the last one. Default 64.
	AckEvery int

	// Fallback, when set, moves the session from WebSocket to QUIC when
	// the link degrades (see Fallback). Dial must handle quic:// URLs
	// (DialAny).
	Fallback *Fallback

	// OnMessage, when set, receives every delivered message instead of the
	// Messages() channel (which then only closes at stop). It is called on
	// the client's reader goroutine, in delivery order, one call at a
	// time: it must return quickly and must not call the Client's
	// blocking methods (Send, Subscribe, ...), which wait for that very
	// reader. A slow OnMessage is back-pressure, as a full channel is.
	// It saves a channel hand-off and a goroutine wake-up per message:
	// use it for high-rate rooms (edgebench's viewers use it).
	OnMessage func(*pb.Message)

	// MessageBuffer is the capacity of the Messages() channel. Default
	// 1024. When it is full the client stops reading from the server
	// (back-pressure) rather than dropping ordered messages.
	MessageBuffer int

	// MaxFrameBytes limits frames read from the server. Default
	// transport.DefaultMaxFrameBytes, raised to the server's
	// Connected.max_frame_bytes (at most 16 MiB) when that is larger.
	MaxFrameBytes int

	// Logger receives debug and warning logs. Default: discard.
	Logger *slog.Logger

	// OnStateChange is called, from the client's manager goroutine, on
	// every state change. It must not block and must not call Close.
	OnStateChange func(State)

	// OnPresence is called, from the reader goroutine, for presence change
	// notifications pushed by the server. It must not block.
	OnPresence func(*PresenceInfo)

	// randN, when set (tests), replaces the jitter source: it returns a
	// uniform value in [0, n).
	randN func(n int64) int64
}

// ErrConfig is wrapped by every Config.Validate error.
var ErrConfig = errors.New("client: invalid config")

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.URL == "" && c.Dial == nil {
		return fmt.Errorf("%w: URL or Dial is required", ErrConfig)
	}
	if c.Token == "" && c.TokenFunc == nil {
		return fmt.Errorf("%w: Token or TokenFunc is required", ErrConfig)
	}
	if c.Fallback != nil && !strings.HasPrefix(c.Fallback.QUICURL, QUICScheme) && !strings.HasPrefix(c.Fallback.QUICURL, QUICFECScheme) {
		return fmt.Errorf("%w: Fallback.QUICURL %q must be a %s or %s URL", ErrConfig, c.Fallback.QUICURL, QUICFECScheme, QUICScheme)
	}
	if c.DeviceID != "" && !validID(c.DeviceID) {
		return fmt.Errorf("%w: DeviceID %q is not a valid id", ErrConfig, c.DeviceID)
	}
	for conv := range c.Positions {
		if !validID(conv) {
			return fmt.Errorf("%w: Positions: %q is not a valid conversation id", ErrConfig, conv)
		}
	}
	for _, name := range []struct {
		n string
		d time.Duration
	}{{"MinBackoff", c.MinBackoff}, {"MaxBackoff", c.MaxBackoff}, {"HeartbeatInterval", c.HeartbeatInterval},
		{"AckInterval", c.AckInterval}, {"HandshakeTimeout", c.HandshakeTimeout}} {
		if name.d < 0 {
			return fmt.Errorf("%w: %s is negative", ErrConfig, name.n)
		}
	}
	if c.MinBackoff > 0 && c.MaxBackoff > 0 && c.MinBackoff > c.MaxBackoff {
		return fmt.Errorf("%w: MinBackoff %v > MaxBackoff %v", ErrConfig, c.MinBackoff, c.MaxBackoff)
	}
	if c.MessageBuffer < 0 || c.AckEvery < 0 || c.MaxFrameBytes < 0 {
		return fmt.Errorf("%w: MessageBuffer, AckEvery and MaxFrameBytes must not be negative", ErrConfig)
	}
	return nil
}

// withDefaults returns a copy with defaults filled in.
func (c Config) withDefaults() Config {
	if c.MinBackoff == 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.AckInterval == 0 {
		c.AckInterval = DefaultAckInterval
	}
	if c.AckEvery == 0 {
		c.AckEvery = DefaultAckEvery
	}
	if c.MessageBuffer == 0 {
		c.MessageBuffer = DefaultMessageBuffer
	}
	if c.HandshakeTimeout == 0 {
		c.HandshakeTimeout = DefaultHandshakeTimeout
	}
	if c.MaxFrameBytes == 0 {
		c.MaxFrameBytes = transport.DefaultMaxFrameBytes
	}
	if c.Compression == nil {
		c.Compression = []transport.Codec{transport.CodecS2, transport.CodecZstd}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.DeviceID == "" {
		c.DeviceID = "dev-" + randomID()
	}
	if c.Dial == nil {
		c.Dial = wsDialer(c)
	}
	return c
}
