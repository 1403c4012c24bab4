package nodelink

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/edge/peerauth"
)

// Config configures a Link. The zero value of every field but NodeID and
// Listen is usable; each default is on its field.
type Config struct {
	// NodeID is this node's id, the same as in the gossip cluster.
	// Required. Of two nodes, the one with the lower id (byte order)
	// dials the other.
	NodeID string
	// Listen is the TCP address for inbound links (host:port; port 0
	// picks one). Required.
	Listen string
	// Secret is the region's shared key (at least peerauth.MinSecretLen
	// bytes): every link passes the mutual HMAC-SHA256 handshake of
	// edge/peerauth under this package's label before its first frame.
	// Empty only with Insecure.
	Secret []byte
	// Insecure lets the link run without a Secret: anyone who reaches
	// Listen can then inject room comments and interest. Tests on
	// loopback only.
	Insecure bool
	// Logger receives the link's logs (default slog.Default()).
	Logger *slog.Logger
	// Registerer, when set, gets the edgegate_nodelink_* metrics.
	Registerer prometheus.Registerer
	// OnPeerUp is called, on the new connection's goroutine and before any
	// of its frames is read, when a link to peer comes up; sends made in
	// it are the first frames on the link. Use it to send a full state
	// snapshot. It must not block.
	OnPeerUp func(peer string)
	// OnPeerDown is called when a peer's link goes down. It must not block.
	OnPeerDown func(peer string)

	// QueueFrames bounds each peer's queue of live frames (default 4096):
	// beyond it the oldest is dropped and counted.
	QueueFrames int
	// ControlQueueFrames bounds each peer's queue of control frames
	// (default 65536). Control frames are never dropped: a peer that lets
	// this many pile up is stuck, and its link is closed instead (the next
	// link starts with fresh snapshots).
	ControlQueueFrames int
	// MaxFrameBytes bounds a frame in both directions (default 4 MiB); a
	// peer that sends a larger one is disconnected.
	MaxFrameBytes int
	// MaxWriteBytes bounds one coalesced write (default 256 KiB).
	MaxWriteBytes int
	// DialTimeout bounds a dial and its handshake, on both sides (default 5 s).
	DialTimeout time.Duration
	// WriteTimeout bounds one write (default 10 s); a peer that reads
	// nothing for that long is disconnected.
	WriteTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between dials of a peer
	// that cannot be reached: exponential with full jitter (defaults
	// 100 ms and 5 s).
	MinBackoff, MaxBackoff time.Duration
}

func (c *Config) setDefaults() {
	def := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defD := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	def(&c.QueueFrames, 4096)
	def(&c.ControlQueueFrames, 65536)
	def(&c.MaxFrameBytes, 4<<20)
	def(&c.MaxWriteBytes, 256<<10)
	defD(&c.DialTimeout, 5*time.Second)
	defD(&c.WriteTimeout, 10*time.Second)
	defD(&c.MinBackoff, 100*time.Millisecond)
	defD(&c.MaxBackoff, 5*time.Second)
}

// Validate checks the fields against each other.
func (c *Config) Validate() error {
	var errs []error
	if c.NodeID == "" || len(c.NodeID) > maxID {
		errs = append(errs, fmt.Errorf("NodeID must be 1 to %d bytes", maxID))
	}
	if c.Listen == "" {
		errs = append(errs, errors.New("the Listen address is required"))
	}
	if len(c.Secret) == 0 && !c.Insecure {
		errs = append(errs, errors.New("a Secret is required (or Insecure, for tests on loopback)"))
	}
	if len(c.Secret) > 0 && len(c.Secret) < peerauth.MinSecretLen {
		errs = append(errs, fmt.Errorf("the Secret is %d bytes; use at least %d", len(c.Secret), peerauth.MinSecretLen))
	}
	if c.MaxBackoff < c.MinBackoff {
		errs = append(errs, errors.New("MaxBackoff is below MinBackoff"))
	}
	return errors.Join(errs...)
}
