package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/edge/auth"
)

// Defaults for zero Options fields.
const (
	DefaultDuration        = 10 * time.Second
	DefaultDrain           = 3 * time.Second
	DefaultDialConcurrency = 200
	DefaultConnectTimeout  = 5 * time.Minute
	DefaultSettle          = 30 * time.Second
	DefaultRoomsRate       = 20
	DefaultChatRate        = 1
	DefaultBodySize        = 64
)

// ErrConfig is wrapped by every Validate error.
var ErrConfig = errors.New("loadgen: invalid options")

// Options are the settings shared by every scenario. The zero value of
// every field except Addrs and Secret is usable.
type Options struct {
	// Addrs are the edges' host:port. Clients are spread over them
	// round-robin. Required.
	Addrs []string
	// Secret is the edges' HS256 token secret; tokens are minted with it.
	// Required.
	Secret []byte
	// APIKey, when set, is sent as "Authorization: Bearer" when scraping
	// /metrics.
	APIKey string
	// Duration bounds the send phase. Default 10 s.
	Duration time.Duration
	// Drain is how long to wait after the send phase for outstanding
	// deliveries. Default 3 s.
	Drain time.Duration
	// RunID names this run's users, conversations and rooms. Default: a
	// random id, so runs never see each other's data.
	RunID string
	// SourceIPs > 1 spreads connections over local addresses 127.0.0.1 ..
	// 127.0.0.N (edges must then be on loopback). One source address
	// gives at most ~28k connections towards one edge. Default 1: the
	// kernel chooses.
	SourceIPs int
	// DialConcurrency bounds connection attempts in flight. Default 200.
	DialConcurrency int
	// ConnectTimeout bounds the whole connect phase. Default 5 min.
	ConnectTimeout time.Duration
	// Transport is how clients connect: "ws" (default), "quic-stream",
	// "quic-fec" (QUICAddrs, pinned to QUICCertSHA256), "quic-fec-inquic"
	// (quic-fec with its datagrams inside QUIC) or "auto" (WebSocket with
	// the SDK's fallback to QUIC).
	Transport string
	// ReturnAfter is the auto clients' Fallback.ReturnAfter: back to
	// WebSocket once quic-fec has looked clean that long (0: never).
	ReturnAfter time.Duration
	// NoCompression makes clients ask for uncompressed frames (lossy:
	// wire/payload overhead must not be hidden by compression).
	NoCompression bool
	// QUICAddrs are the edges' QUIC host:port, parallel to Addrs.
	QUICAddrs []string
	// QUICCertSHA256 pins the edges' QUIC certificate.
	QUICCertSHA256 string
	// ScrapeDial, when set, opens the connections used to read the
	// edges' /metrics (e.g. from inside a network namespace).
	ScrapeDial func(ctx context.Context, network, addr string) (net.Conn, error) `json:"-"`
	// Failover gives every client the other edges of Addrs as
	// client.Config.AlternateURLs, so clients of an edge that dies resume
	// on another, and measures each client's time without a session
	// (Result.Outage).
	Failover bool
	// OnSendStart, when set, is called (in the coordinating process) when
	// the chat scenario's clients are connected and start sending: e.g.
	// to kill an edge a fixed time into the send phase.
	OnSendStart func() `json:"-"`
	// Logger receives progress logs. Default: discard.
	Logger *slog.Logger `json:"-"`
}

// Validate checks the options.
func (o *Options) Validate() error {
	var errs []error
	if len(o.Addrs) == 0 {
		errs = append(errs, errors.New("at least one edge address is required"))
	}
	for _, a := range o.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil || strings.Contains(a, "/") {
			errs = append(errs, fmt.Errorf("address %q is not host:port", a))
		}
	}
	if len(o.Secret) == 0 {
		errs = append(errs, errors.New("the edge's HMAC secret is required to mint tokens"))
	}
	if o.Duration < 0 || o.Drain < 0 || o.ConnectTimeout < 0 {
		errs = append(errs, errors.New("durations must not be negative"))
	}
	if o.SourceIPs < 0 || o.SourceIPs > 254 {
		errs = append(errs, fmt.Errorf("source IPs %d not in [0, 254]", o.SourceIPs))
	}
	if o.DialConcurrency < 0 {
		errs = append(errs, errors.New("dial concurrency must not be negative"))
	}
	if o.RunID != "" && !auth.ValidID("u-"+o.RunID+"-000000-x") {
		errs = append(errs, fmt.Errorf("run id %q: use [A-Za-z0-9._-], at most 100 bytes", o.RunID))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Drain == 0 {
		o.Drain = DefaultDrain
	}
	if o.DialConcurrency == 0 {
		o.DialConcurrency = DefaultDialConcurrency
	}
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.SourceIPs == 0 {
		o.SourceIPs = 1
	}
	if o.RunID == "" {
		o.RunID = client.NewMessageID()[:12]
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// IdleOptions configure the idle scenario.
type IdleOptions struct {
	// Conns is the number of idle connections. Required (> 0).
	Conns int
	// Settle bounds the wait for the server's RSS to stop moving after
	// the connections are up. Default 15 s.
	Settle time.Duration
}

// Validate checks the options.
func (o *IdleOptions) Validate() error {
	if o.Conns <= 0 {
		return fmt.Errorf("%w: idle: --conns must be positive", ErrConfig)
	}
	if o.Settle < 0 {
		return fmt.Errorf("%w: idle: settle must not be negative", ErrConfig)
	}
	return nil
}

// RoomsOptions configure the rooms scenario.
type RoomsOptions struct {
	// Viewers is the number of viewer clients. Required (> 0).
	Viewers int
	// Rate is comments per second from the publisher. Default 20.
	Rate float64
	// Size is the comment body size in bytes (at least BodyHeaderSize).
	// Default 64.
	Size int
}

// Validate checks the options.
func (o *RoomsOptions) Validate() error {
	if o.Viewers <= 0 {
		return fmt.Errorf("%w: rooms: --viewers must be positive", ErrConfig)
	}
	return validateRateSize("rooms", o.Rate, 1e6, o.Size)
}

func (o RoomsOptions) withDefaults() RoomsOptions {
	if o.Rate == 0 {
		o.Rate = DefaultRoomsRate
	}
	if o.Size == 0 {
		o.Size = DefaultBodySize
	}
	return o
}

// ChatOptions configure the chat scenario.
type ChatOptions struct {
	// Pairs is the number of 1:1 conversations. Required (> 0).
	Pairs int
	// Rate is messages per second sent by each side. Default 1.
	Rate float64
	// Size is the message body size (at least BodyHeaderSize). Default 64.
	Size int
	// SizeMax, when above Size, makes each body's size uniform in
	// [Size, SizeMax] (real chat mixes short and long messages; seeded
	// per side, so runs repeat).
	SizeMax int
	// Placement is where a conversation's two clients connect when there
	// are several edges: PlacementCross (default) puts them on different
	// edges, so every message crosses nodes; PlacementSame on one edge
	// (pair k on edge k mod len(Addrs)); PlacementMixed does one and the
	// other on alternate pairs and reports both latencies
	// (Result.LatencySameEdge, LatencyCrossEdge), a comparison measured in
	// one run.
	Placement string
}

// Chat placements (ChatOptions.Placement).
const (
	PlacementCross = "cross"
	PlacementSame  = "same"
	PlacementMixed = "mixed"
)

// sameEdge reports whether pair k's clients share an edge.
func (o *ChatOptions) sameEdge(k int) bool {
	switch o.Placement {
	case PlacementSame:
		return true
	case PlacementMixed:
		return k%2 == 0
	}
	return false
}

// Validate checks the options.
func (o *ChatOptions) Validate() error {
	if o.Pairs <= 0 {
		return fmt.Errorf("%w: chat: --pairs must be positive", ErrConfig)
	}
	switch o.Placement {
	case "", PlacementCross, PlacementSame, PlacementMixed:
	default:
		return fmt.Errorf("%w: chat: placement %q (want cross, same or mixed)", ErrConfig, o.Placement)
	}
	if o.SizeMax != 0 && (o.SizeMax < max(o.Size, BodyHeaderSize) || o.SizeMax > 1<<20) {
		return fmt.Errorf("%w: chat: size range %d-%d: the maximum must be in [minimum, 1 MiB]", ErrConfig, o.Size, o.SizeMax)
	}
	return validateRateSize("chat", o.Rate, 1e5, o.Size)
}

// validateRateSize checks a scenario's --rate (0 means its default) and
// --size (0 means DefaultBodySize).
func validateRateSize(scenario string, rate, maxRate float64, size int) error {
	if rate < 0 || rate > maxRate {
		return fmt.Errorf("%w: %s: --rate %v not in (0, %g]", ErrConfig, scenario, rate, maxRate)
	}
	if size != 0 && (size < BodyHeaderSize || size > 1<<20) {
		return fmt.Errorf("%w: %s: --size %d not in [%d, 1 MiB]", ErrConfig, scenario, size, BodyHeaderSize)
	}
	return nil
}

func (o ChatOptions) withDefaults() ChatOptions {
	if o.Rate == 0 {
		o.Rate = DefaultChatRate
	}
	if o.Size == 0 {
		o.Size = DefaultBodySize
	}
	return o
}
