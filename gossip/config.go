package gossip

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Preset names a set of memberlist timings. The presets are memberlist's own,
// unchanged, so their behaviour is the one memberlist documents and tests:
//
//   - PresetLAN ("lan", the default): memberlist.DefaultLANConfig. Probe every
//     1 s with a 500 ms probe timeout and 3 indirect probes, suspicion
//     multiplier 4 (a suspect is declared dead after 4*log10(n)*1 s, at least
//     4 s, shrinking toward that minimum as other nodes confirm the
//     suspicion), gossip every 200 ms to 3 nodes, full state push/pull every
//     30 s. This is the setting the cluster targets (kill detected within 10 s
//     p99, a join visible within 2 s p99) are stated for.
//   - PresetWAN ("wan"): memberlist.DefaultWANConfig. Probe every 5 s with a
//     3 s timeout, suspicion multiplier 6, gossip every 500 ms, push/pull every
//     60 s: for nodes spread over regions with high or variable RTT.
//   - PresetLocal ("local"): memberlist.DefaultLocalConfig with one change.
//     Probe every 1 s with a 200 ms timeout and one indirect probe,
//     suspicion multiplier 3, gossip every 100 ms: for loopback clusters and
//     tests, where RTTs are tiny and faster spreading is free. The change:
//     RetransmitMult is LAN's 4 instead of 2; with 2, a burst of joins (50
//     nodes started together) loses some alive messages from the bounded
//     broadcast queue and views only converge at the next push/pull (up to
//     30 s at that size); with 4 they converge within seconds.
type Preset string

// The presets Config.Preset accepts.
const (
	PresetLAN   Preset = "lan"
	PresetWAN   Preset = "wan"
	PresetLocal Preset = "local"
)

// DefaultBindAddr is the gossip address used when Config.BindAddr is empty:
// every interface, memberlist's usual port, UDP and TCP.
const DefaultBindAddr = "0.0.0.0:7946"

// DefaultUpdateWait bounds how long UpdateMeta waits for its broadcast to be
// handed to a peer when Config.UpdateWait is zero.
const DefaultUpdateWait = time.Second

// Defaults for the reconnect fields of Config.
const (
	DefaultReconnectInterval = 10 * time.Second
	DefaultReconnectTimeout  = 6 * time.Hour
)

// Config configures a Cluster. Only NodeID is required; every other field
// has a documented default.
type Config struct {
	// NodeID names this node in the cluster; it must be unique among the
	// members and stable across restarts. It is memberlist's node name and is
	// copied into Meta.NodeID. Required.
	NodeID string

	// BindAddr is the host:port the gossip UDP and TCP listeners bind.
	// Default DefaultBindAddr ("0.0.0.0:7946"). Port 0 picks a free port
	// (read it back with Cluster.LocalAddr). Ignored when Transport is set.
	BindAddr string

	// AdvertiseAddr is the host:port other nodes use to reach this one, when
	// it differs from BindAddr (NAT, a wildcard bind). Default: derived from
	// BindAddr, or the first private interface address for a wildcard bind.
	AdvertiseAddr string

	// Join lists seed addresses (host:port) contacted by New. New succeeds
	// when at least one seed answers; with none answering it fails. Empty:
	// start a new cluster alone (others join it later).
	Join []string

	// Preset selects memberlist timings; see Preset. Default PresetLAN.
	Preset Preset

	// SecretKey, when set, encrypts and authenticates all gossip with
	// AES-GCM (memberlist's keyring, this key as the primary and only key).
	// It must be 16, 24 or 32 bytes. Nodes with a different key, or without
	// one, cannot join. Default: no encryption.
	SecretKey []byte

	// Meta is this node's initial metadata. NodeID is overwritten with
	// Config.NodeID. Change it later with Cluster.UpdateMeta.
	Meta Meta

	// Logger receives memberlist's log lines at their level (DEBUG, INFO,
	// WARN, ERR map to the slog levels of those names) and this package's
	// own logs, with the attribute component=gossip. Default slog.Default().
	Logger *slog.Logger

	// Transport, when set, replaces memberlist's UDP/TCP network transport,
	// for instance with an in-memory network in tests (see package memnet).
	// The Cluster owns it: Shutdown shuts it down. Default: UDP and TCP on
	// BindAddr.
	Transport memberlist.Transport

	// UpdateWait bounds how long UpdateMeta waits for its update to be
	// handed to at least one peer. Default DefaultUpdateWait.
	UpdateWait time.Duration

	// ReconnectInterval is how often the node tries to rejoin one member it
	// sees as dead, so that the two sides of a healed partition merge again.
	// Default DefaultReconnectInterval; negative disables reconnecting.
	ReconnectInterval time.Duration

	// ReconnectTimeout is how long a dead member stays in the view (Members)
	// and is retried. Members that left stay for the preset's
	// GossipToTheDeadTime only. Default DefaultReconnectTimeout.
	ReconnectTimeout time.Duration

	// tune, set by tests in this package only, adjusts the memberlist config
	// after the preset is applied (shorter timeouts for fast tests).
	tune func(*memberlist.Config)
}

// Validate checks the config on its own, without touching the network.
func (c *Config) Validate() error {
	if c.NodeID == "" {
		return fmt.Errorf("%w: NodeID is required", ErrInvalidConfig)
	}
	switch c.Preset {
	case "", PresetLAN, PresetWAN, PresetLocal:
	default:
		return fmt.Errorf("%w: unknown Preset %q (want lan, wan or local)", ErrInvalidConfig, c.Preset)
	}
	if c.SecretKey != nil {
		if err := memberlist.ValidateKey(c.SecretKey); err != nil {
			return fmt.Errorf("%w: %w: got %d bytes", ErrInvalidConfig, ErrInvalidSecretKey, len(c.SecretKey))
		}
	}
	if c.BindAddr != "" {
		if _, _, err := splitHostPort(c.BindAddr); err != nil {
			return fmt.Errorf("%w: BindAddr: %w", ErrInvalidConfig, err)
		}
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("%w: AdvertiseAddr: %w", ErrInvalidConfig, err)
		}
	}
	if c.ReconnectTimeout < 0 {
		return fmt.Errorf("%w: negative ReconnectTimeout", ErrInvalidConfig)
	}
	if c.UpdateWait < 0 {
		return fmt.Errorf("%w: negative UpdateWait", ErrInvalidConfig)
	}
	m := c.Meta
	m.NodeID = c.NodeID
	if _, err := m.MarshalBinary(); err != nil {
		return fmt.Errorf("%w: Meta: %w", ErrInvalidConfig, err)
	}
	return nil
}

// memberlistConfig builds the memberlist config from a validated Config.
func (c *Config) memberlistConfig() (*memberlist.Config, error) {
	var mc *memberlist.Config
	switch c.Preset {
	case PresetWAN:
		mc = memberlist.DefaultWANConfig()
	case PresetLocal:
		mc = memberlist.DefaultLocalConfig()
		mc.RetransmitMult = memberlist.DefaultLANConfig().RetransmitMult
	default:
		mc = memberlist.DefaultLANConfig()
	}
	mc.Name = c.NodeID
	bind := c.BindAddr
	if bind == "" {
		bind = DefaultBindAddr
	}
	host, port, err := splitHostPort(bind)
	if err != nil {
		return nil, err
	}
	mc.BindAddr, mc.BindPort = host, port
	mc.AdvertiseAddr, mc.AdvertisePort = "", port
	if c.AdvertiseAddr != "" {
		host, port, err := splitHostPort(c.AdvertiseAddr)
		if err != nil {
			return nil, err
		}
		mc.AdvertiseAddr, mc.AdvertisePort = host, port
	}
	if c.SecretKey != nil {
		kr, err := memberlist.NewKeyring(nil, c.SecretKey)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidSecretKey, err)
		}
		mc.Keyring = kr
	}
	if c.Transport != nil {
		mc.Transport = c.Transport
	}
	if c.tune != nil {
		c.tune(mc)
	}
	return mc, nil
}

func splitHostPort(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.ParseUint(ps, 10, 16)
	if err != nil {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	return host, int(port), nil
}
