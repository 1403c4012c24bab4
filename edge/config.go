package edge

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/edge/raftmux"
	"github.com/edgegate/edgegate/transport"
)

// Config configures an edge node. The zero value is not enough on its own:
// set DataDir and at least one token verification key (or Dev). Every other
// field has a documented default applied by New.
type Config struct {
	// NodeID names this node in logs, metrics and Connected frames.
	// Default: the host name.
	NodeID string
	// DataDir holds the message store. Required.
	DataDir string
	// NoSync turns off fsync on commit. Never in production: an acked
	// message could be lost on power failure. Default false.
	NoSync bool

	// AuthHMACSecret verifies HS256 client tokens.
	AuthHMACSecret []byte
	// AuthRSAPublicKeyFiles are PEM files of RSA public keys (RS256).
	AuthRSAPublicKeyFiles []string
	// AuthEd25519PublicKeyFiles are PEM files of Ed25519 public keys (EdDSA).
	AuthEd25519PublicKeyFiles []string
	// ResumeSecret signs resume tokens. Default: random per process, so
	// resume tokens do not survive a restart (positions still do).
	ResumeSecret []byte
	// APIKeys authorise the backend HTTP API. Empty disables the API
	// (except in Dev mode, where a key is generated).
	APIKeys []string
	// Dev mode: generates an HMAC secret and an API key when unset, allows
	// every origin, and serves /v1/dev/token to mint demo tokens.
	Dev bool

	// AllowedOrigins lists browser origins allowed to open WebSockets
	// (exact, or patterns like https://*.example.com). Empty: same host only.
	AllowedOrigins []string

	// MaxConnections caps concurrent client connections. Default 100000.
	// The process's open-file limit must be higher (see README).
	MaxConnections int
	// ConnRatePerIP and ConnBurstPerIP limit new connections per client IP.
	// Defaults 20/s and 100. A negative ConnRatePerIP disables the limit:
	// for load tests from one host, or when a trusted L4 balancer in front
	// already limits per client (behind it every client shares its IP).
	ConnRatePerIP  float64
	ConnBurstPerIP int
	// MessageRate and MessageBurst limit Send frames per session.
	// Defaults 50/s and 100. A session that keeps sending far past the
	// limit (FloodViolations rejected frames in a row) is closed.
	MessageRate     float64
	MessageBurst    int
	FloodViolations int
	// ControlRate and ControlBurst limit every other client frame per
	// session (pings, subscribes, acks, syncs, presence queries): each
	// costs the edge work (a sync reads the store, a presence query asks
	// every peer), so a flood of them is refused like a flood of sends.
	// Defaults 100/s and 200: a client's acks, heartbeats and its
	// fallback's probe bursts (20/s for a second) stay far below.
	ControlRate  float64
	ControlBurst int
	// MaxFrameBytes limits one frame on the wire. Default 64 KiB.
	MaxFrameBytes int
	// MaxMessageBytes limits one message body. Default 16 KiB.
	MaxMessageBytes int
	// MaxSubscriptions limits conversations plus rooms per session.
	// Default 1000.
	MaxSubscriptions int

	// HeartbeatInterval is the ping interval told to clients; a connection
	// silent for 2.5x this is closed. Default 25 s.
	HeartbeatInterval time.Duration
	// ProbeBurstInterval is the least interval between the fast probes
	// of a client's loss check (client.Fallback.BurstEvery) told to
	// clients in Connected: 0 leaves it to them (the SDK's default is
	// 20 ms, for 2 s, at most once per 10 s); negative asks them not to
	// burst. Each burst probe costs the edge a frame read, a Pong write
	// and a TCP_INFO read (about 30 us): a regional loss event that makes
	// 10k clients burst at once at 20 ms costs about 15 cores for those
	// 2 s, so an edge with many WebSocket clients on weak networks may
	// want it slower.
	ProbeBurstInterval time.Duration
	// HandshakeTimeout bounds the wait for the Connect frame. Default 10 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds one frame write; a client that does not read
	// for this long is disconnected. Default 10 s.
	WriteTimeout time.Duration
	// ResumeGrace is how long a disconnected session's subscriptions are
	// kept for resumption. Default 2 min.
	ResumeGrace time.Duration
	// MaxDetached caps sessions kept for resumption. Default 100000.
	MaxDetached int

	// RoomBatchWindow is how long room comments are gathered into one
	// frame. Default 20 ms.
	RoomBatchWindow time.Duration
	// RoomBatchMax flushes a room batch early at this many comments.
	// Default 256.
	RoomBatchMax int
	// RoomFanoutQuorum and RoomBatchMaxDelay make room batching adapt to
	// load (see rooms_batch.go): a room's next batch waits until this
	// fraction of the previous batch's viewers has written it, but never
	// longer than RoomBatchMaxDelay after that fan-out began. Defaults
	// 0.95 and 250 ms.
	RoomFanoutQuorum  float64
	RoomBatchMaxDelay time.Duration
	// ViewerQueue is the number of room batches queued per viewer before
	// the oldest are dropped. Default 64.
	ViewerQueue int
	// LiveMaxAge drops a queued room batch instead of writing it when it
	// waited longer than this for a slow viewer: a danmaku comment is
	// worth showing only next to the moment of the stream it was about.
	// Default 5 s.
	LiveMaxAge time.Duration
	// ConvQueue is the number of ordered notifications queued per
	// subscribed conversation before the session falls back to reading the
	// store (nothing is lost). Default 256.
	ConvQueue int
	// ControlQueue is the number of replies (acks, responses) queued per
	// session; a client that sends but does not read past it is closed.
	// Default 1024.
	ControlQueue int

	// Compression lists codecs the server accepts, in server preference
	// order. Default zstd, s2.
	Compression []transport.Codec
	// CompressThreshold is the smallest payload compressed. Default 512.
	CompressThreshold int
	// EnablePerMessageDeflate turns on WebSocket permessage-deflate.
	EnablePerMessageDeflate bool

	// OrderingWindow is the group-commit wait for more messages before an
	// fsync. Default 0: commit what is queued at once.
	OrderingWindow time.Duration

	// RaftListen, when set, replicates the ordered class with Raft groups
	// (edge/raftgroup) over this TCP address instead of ordering on this
	// node alone; Peers lists the region's nodes (this one included, by
	// NodeID), empty: a region of one. RaftAdvertise is the address peers
	// dial (default RaftListen). RaftGroups is the number of groups, the
	// same on every node (default raftgroup.DefaultGroups).
	RaftListen    string
	RaftAdvertise string
	Peers         []raftgroup.Peer
	RaftGroups    int
	// RaftHeartbeatTimeout is raft's HeartbeatTimeout and ElectionTimeout
	// for every group (0: raftgroup.Tuned's, 2 s). A follower notices a
	// lost leader after one to two of it; heartbeats go out every tenth
	// to fifth of it, so halving it about doubles the idle heartbeat cost.
	RaftHeartbeatTimeout time.Duration
	// RaftSecret is the region's shared key, at least
	// raftmux.MinSecretLen (32) bytes, the same on every node: each Raft
	// connection between nodes must prove it (edge/raftmux: a mutual
	// HMAC-SHA256 challenge-response) before any frame, and connections
	// that do not are refused. It authenticates peers; it does not
	// encrypt their traffic (keep the Raft port on a private network or
	// a VPN). Required when Peers names a node other than this one,
	// unless RaftInsecure; a region of one needs none.
	RaftSecret []byte
	// RaftInsecure lets a region of several nodes run without RaftSecret:
	// anyone who can reach RaftListen can then speak Raft to this node
	// (read what it replicates, vote, append). For tests on loopback
	// only. With a RaftSecret set it changes nothing.
	RaftInsecure bool
	// RaftFaultInjection enables POST /v1/raft/isolate, which cuts this
	// node's Raft traffic off its peers (a partition, for fault tests such
	// as edge/itest's TestRaftJepsen). Never set it in production.
	RaftFaultInjection bool
	// RaftPlacement is "static" (default, or empty): every node of Peers
	// is a voter of every group, forever; or "membership": each group's
	// voters follow the gossip members of this node's Region
	// (edge/raftgroup's Placement; needs GossipListen), RaftReplicas
	// voters per group (default raftgroup.DefaultReplicas, 3) chosen by
	// rendezvous hashing, the other members following as non-voters; a
	// dead member keeps its places for RaftDeadGrace (default
	// raftgroup.DefaultDeadGrace, 30 s). Peers then lists the founders of
	// a new region (see placement.go).
	RaftPlacement string
	RaftReplicas  int
	RaftDeadGrace time.Duration

	// GossipListen, when set, makes this node a member of the edge
	// cluster (gossip/: hashicorp/memberlist over UDP and TCP on this
	// host:port): membership, failure detection and each node's metadata
	// (region, zone, Raft address, load). GossipAdvertise is the address
	// other nodes use (default derived from GossipListen); Join lists
	// seeds (host:port) to join at start (empty: start a cluster).
	// GossipPreset is "lan" (default), "wan" or "local". GossipKey (16, 24
	// or 32 bytes) encrypts and authenticates gossip; it is required when
	// Join is set, unless GossipInsecure (tests on loopback only): a
	// member can claim any address, and edge selection will trust it.
	// Region and Zone are advertised in the node's metadata.
	GossipListen    string
	GossipAdvertise string
	Join            []string
	GossipPreset    string
	GossipKey       []byte
	GossipInsecure  bool
	Region, Zone    string
	// PublicURL is the WebSocket URL clients use to reach this node
	// (ws:// or wss://host:port/v1/ws), and PublicQUICAddr its QUIC
	// address (host:port), both advertised in the node's gossip metadata
	// for GET /v1/route and drain redirects. Empty: not advertised (the
	// node is then never offered to clients by its peers). See
	// public_addr.go.
	PublicURL      string
	PublicQUICAddr string

	// NodeListen, when set, opens the inter-node link (edge/nodelink) on
	// this TCP host:port, and live rooms span the cluster: a comment
	// reaches the viewers of every node. Peers are the gossip members that
	// advertise a link address, so it needs GossipListen. Links are
	// authenticated with RaftSecret (required unless RaftInsecure).
	// NodeAdvertise is the address peers dial (default: the listener's),
	// advertised in the gossip metadata (NodeAddr).
	NodeListen    string
	NodeAdvertise string

	// DrainTimeout bounds the graceful drain. Default 10 s.
	DrainTimeout time.Duration
	// DrainRedirectURLs are sent to clients in the Redirect frame on drain.
	DrainRedirectURLs []string

	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
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
	defF := func(p *float64, v float64) {
		if *p <= 0 {
			*p = v
		}
	}
	def(&c.MaxConnections, 100000)
	if c.ConnRatePerIP == 0 {
		c.ConnRatePerIP = 20
	}
	def(&c.ConnBurstPerIP, 100)
	defF(&c.MessageRate, 50)
	def(&c.MessageBurst, 100)
	def(&c.FloodViolations, 200)
	defF(&c.ControlRate, 100)
	def(&c.ControlBurst, 200)
	def(&c.MaxFrameBytes, transport.DefaultMaxFrameBytes)
	def(&c.MaxMessageBytes, 16<<10)
	def(&c.MaxSubscriptions, 1000)
	defD(&c.HeartbeatInterval, 25*time.Second)
	defD(&c.HandshakeTimeout, 10*time.Second)
	defD(&c.WriteTimeout, 10*time.Second)
	defD(&c.ResumeGrace, 2*time.Minute)
	def(&c.MaxDetached, 100000)
	defD(&c.RoomBatchWindow, 20*time.Millisecond)
	def(&c.RoomBatchMax, 256)
	defF(&c.RoomFanoutQuorum, 0.95)
	defD(&c.RoomBatchMaxDelay, 250*time.Millisecond)
	defD(&c.LiveMaxAge, 5*time.Second)
	def(&c.ViewerQueue, 64)
	def(&c.ConvQueue, 256)
	def(&c.ControlQueue, 1024)
	def(&c.CompressThreshold, transport.DefaultCompressThreshold)
	defD(&c.DrainTimeout, 10*time.Second)
	if len(c.Compression) == 0 {
		c.Compression = []transport.Codec{transport.CodecZstd, transport.CodecS2}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate checks the configuration after defaults are applied.
func (c *Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if !c.Dev && len(c.AuthHMACSecret) == 0 && len(c.AuthRSAPublicKeyFiles) == 0 && len(c.AuthEd25519PublicKeyFiles) == 0 {
		errs = append(errs, errors.New("no token verification key: set an HMAC secret or public key files (or Dev)"))
	}
	if len(c.AuthHMACSecret) > 0 && len(c.AuthHMACSecret) < 32 {
		errs = append(errs, fmt.Errorf("AuthHMACSecret is %d bytes; use at least 32", len(c.AuthHMACSecret)))
	}
	if c.MaxMessageBytes+1024 > c.MaxFrameBytes {
		errs = append(errs, fmt.Errorf("MaxFrameBytes (%d) must exceed MaxMessageBytes (%d) by at least 1 KiB", c.MaxFrameBytes, c.MaxMessageBytes))
	}
	if c.RoomFanoutQuorum > 1 {
		errs = append(errs, fmt.Errorf("RoomFanoutQuorum %v is over 1", c.RoomFanoutQuorum))
	}
	if c.RoomBatchMaxDelay > 10*time.Second {
		errs = append(errs, fmt.Errorf("RoomBatchMaxDelay %v is over 10s", c.RoomBatchMaxDelay))
	}
	if c.RoomBatchWindow > time.Second {
		errs = append(errs, fmt.Errorf("RoomBatchWindow %v is over 1s", c.RoomBatchWindow))
	}
	errs = append(errs, c.validateRaft()...)
	errs = append(errs, c.validatePlacement()...)
	errs = append(errs, c.validatePublic()...)
	errs = append(errs, c.validateLink()...)
	if len(c.Join) > 0 && len(c.GossipKey) == 0 && !c.GossipInsecure {
		errs = append(errs, errors.New("no GossipKey, but Join is set: cluster gossip must be encrypted "+
			"(edge: --gossip-key-file or EDGEGATE_GOSSIP_KEY, the same key on every node; --gossip-insecure only for tests on loopback)"))
	}
	if len(c.Join) > 0 && c.GossipListen == "" {
		errs = append(errs, errors.New("a Join list needs GossipListen"))
	}
	for _, k := range c.APIKeys {
		if len(k) < 16 {
			errs = append(errs, errors.New("API keys must be at least 16 characters"))
			break
		}
	}
	return errors.Join(errs...)
}

// validateLink checks the inter-node link's needs.
func (c *Config) validateLink() []error {
	if c.NodeListen == "" {
		return nil
	}
	var errs []error
	if c.GossipListen == "" {
		errs = append(errs, errors.New("NodeListen needs GossipListen: the link's peers are the gossip members"))
	}
	if len(c.RaftSecret) == 0 && !c.RaftInsecure {
		errs = append(errs, errors.New("NodeListen needs the region secret (RaftSecret: --raft-secret-file or EDGEGATE_RAFT_SECRET; --raft-insecure only for tests on loopback)"))
	}
	return errs
}

// validateRaft checks the region secret: long enough, and present when
// the region has nodes other than this one (unless RaftInsecure).
func (c *Config) validateRaft() []error {
	var errs []error
	if len(c.RaftSecret) > 0 && len(c.RaftSecret) < raftmux.MinSecretLen {
		errs = append(errs, fmt.Errorf("RaftSecret is %d bytes; use at least %d", len(c.RaftSecret), raftmux.MinSecretLen))
	}
	if c.RaftListen == "" || len(c.RaftSecret) > 0 || c.RaftInsecure {
		return errs
	}
	var others []string
	for _, p := range c.Peers {
		if p.ID != c.NodeID {
			others = append(others, p.ID)
		}
	}
	if len(others) > 0 {
		errs = append(errs, fmt.Errorf("no RaftSecret, but Peers names other nodes (%s): "+
			"a region's Raft port must authenticate its peers (edge: --raft-secret-file or EDGEGATE_RAFT_SECRET, "+
			"the same secret on every node; --raft-insecure only for tests on loopback)", strings.Join(others, ", ")))
	}
	return errs
}
