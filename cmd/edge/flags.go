package main

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/edgegate/edgegate/edge"
	"github.com/edgegate/edgegate/edge/raftgroup"
)

// options are the command-line settings; zero values mean "edge default".
type options struct {
	configFile     string
	listen         string
	nodeID         string
	dataDir        string
	dev            bool
	noSync         bool
	hmacSecret     string
	rsaKeys        string
	edKeys         string
	apiKeys        string
	resumeSecret   string
	origins        string
	maxConns       int
	connRate       float64
	msgRate        float64
	msgBurst       int
	ctlRate        float64
	ctlBurst       int
	maxFrame       int
	maxMessage     int
	maxSubs        int
	heartbeat      time.Duration
	probeBurst     time.Duration
	resumeGrace    time.Duration
	roomWindow     time.Duration
	roomMaxDelay   time.Duration
	liveMaxAge     time.Duration
	roomQuorum     float64
	viewerQueue    int
	drainTimeout   time.Duration
	drainRedirects string
	deflate        bool
	debugAddr      string
	quicListen     string
	raftListen     string
	raftAdvertise  string
	peers          string
	raftGroups     int
	raftFaults     bool
	raftHB         time.Duration
	timerSlack     string
	raftSecretFile string
	raftInsecure   bool
	cluster        clusterOptions
	placement      placementOptions
	quicCert       string
	quicKey        string
	logLevel       string
	logJSON        bool
}

func defineFlags(fs *flag.FlagSet) *options {
	o := &options{}
	fs.StringVar(&o.configFile, "config", "", "YAML config file (keys are flag names)")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:8080", "HTTP and WebSocket listen address")
	fs.StringVar(&o.nodeID, "node-id", "", "node id (default: host name)")
	fs.StringVar(&o.dataDir, "data", "", "data directory (default ./data in --dev)")
	fs.BoolVar(&o.dev, "dev", false, "development mode: generated secrets, demo token, all origins")
	fs.BoolVar(&o.noSync, "no-sync", false, "do not fsync commits (unsafe; benchmarks only)")
	fs.StringVar(&o.hmacSecret, "auth-hmac-secret", "", "HS256 token secret (at least 32 bytes)")
	fs.StringVar(&o.rsaKeys, "auth-rsa-keys", "", "comma-separated PEM files with RSA public keys (RS256)")
	fs.StringVar(&o.edKeys, "auth-ed25519-keys", "", "comma-separated PEM files with Ed25519 public keys (EdDSA)")
	fs.StringVar(&o.apiKeys, "api-key", "", "backend API key(s), comma-separated for rotation")
	fs.StringVar(&o.resumeSecret, "resume-secret", "", "hex secret for resume tokens (default: random per process)")
	fs.StringVar(&o.origins, "allowed-origins", "", "comma-separated browser origins allowed (default: same host)")
	fs.IntVar(&o.maxConns, "max-connections", 0, "max concurrent connections (default 100000)")
	fs.Float64Var(&o.connRate, "conn-rate-per-ip", 0, "new connections per second per IP (default 20; negative disables, e.g. for edgebench from one host)")
	fs.Float64Var(&o.msgRate, "message-rate", 0, "messages per second per session (default 50)")
	fs.IntVar(&o.msgBurst, "message-burst", 0, "message burst per session (default 100)")
	fs.Float64Var(&o.ctlRate, "control-rate", 0, "other client frames (pings, acks, subscribes, syncs, presence queries) per second per session (default 100)")
	fs.IntVar(&o.ctlBurst, "control-burst", 0, "control frame burst per session (default 200)")
	fs.IntVar(&o.maxFrame, "max-frame-bytes", 0, "max frame size (default 65536)")
	fs.IntVar(&o.maxMessage, "max-message-bytes", 0, "max message body (default 16384)")
	fs.IntVar(&o.maxSubs, "max-subscriptions", 0, "max subscriptions per session (default 1000)")
	fs.DurationVar(&o.heartbeat, "heartbeat", 0, "client heartbeat interval (default 25s)")
	fs.DurationVar(&o.probeBurst, "probe-burst-interval", 0, "least interval between the fast link probes of a WebSocket client checking a loss, told to clients (0: theirs, the SDK's 20ms; negative: no bursts)")
	fs.DurationVar(&o.resumeGrace, "resume-grace", 0, "how long disconnected sessions can resume (default 2m)")
	fs.DurationVar(&o.roomWindow, "room-batch-window", 0, "room comment batching window (default 20ms)")
	fs.DurationVar(&o.liveMaxAge, "live-max-age", 0, "drop room comments that waited longer than this for a slow viewer (default 5s)")
	fs.DurationVar(&o.roomMaxDelay, "room-batch-max-delay", 0, "longest a room batch waits for the previous fan-out (default 250ms)")
	fs.Float64Var(&o.roomQuorum, "room-fanout-quorum", 0, "fraction of viewers that must have written a room batch before the next goes (default 0.95)")
	fs.IntVar(&o.viewerQueue, "viewer-queue", 0, "room batches queued per viewer (default 64)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 0, "graceful drain bound (default 10s)")
	fs.StringVar(&o.drainRedirects, "drain-redirect", "", "comma-separated URLs sent to clients on drain")
	fs.BoolVar(&o.deflate, "permessage-deflate", false, "enable WebSocket permessage-deflate")
	fs.StringVar(&o.raftListen, "raft-listen", "", "TCP address for the region's Raft traffic, e.g. :7000: replicates ordered chat over --peers (off: this node orders alone)")
	fs.StringVar(&o.raftAdvertise, "raft-advertise", "", "the Raft address peers dial (default --raft-listen)")
	fs.StringVar(&o.peers, "peers", "", "the region's nodes as id@host:port,... (their --node-id and Raft address, this node included; empty: a region of one)")
	fs.IntVar(&o.raftGroups, "raft-groups", 0, "number of Raft groups, the same on every node (default 64)")
	fs.DurationVar(&o.raftHB, "raft-heartbeat-timeout", 0, "Raft heartbeat and election timeout of every group (default 2s): a lost leader is replaced after 1-2x it; heartbeats cost more as it shrinks")
	fs.StringVar(&o.raftSecretFile, "raft-secret-file", "", "file holding the region's Raft secret (at least 32 bytes, the same on every node; surrounding white space ignored): "+
		"nodes authenticate each other with it; required when --peers names other nodes. "+raftSecretEnv+" may hold the secret itself instead")
	fs.BoolVar(&o.raftInsecure, "raft-insecure", false, "testing on loopback only: run a region with other --peers without a Raft secret (anyone who reaches --raft-listen can then speak Raft to this node)")
	fs.BoolVar(&o.raftFaults, "raft-fault-injection", false, "testing only: enable POST /v1/raft/isolate, which partitions this node's Raft traffic (API key)")
	fs.StringVar(&o.timerSlack, "timer-slack", "auto", "how late the process's idle sleeps may end so that timers share wakeups (Linux): auto (5ms when replicating with --peers, else the kernel's default), off, or a duration up to 100ms")
	o.cluster.define(fs)
	o.placement.define(fs)
	fs.StringVar(&o.quicListen, "quic-listen", "", "UDP address for QUIC clients (quic-stream and quic-fec), e.g. :8443; off by default")
	fs.StringVar(&o.quicCert, "quic-cert", "", "PEM certificate (chain) for QUIC; with --dev a self-signed one is made when empty")
	fs.StringVar(&o.quicKey, "quic-key", "", "PEM private key for --quic-cert")
	fs.StringVar(&o.debugAddr, "debug-listen", "", "address for /debug/pprof (off by default; keep it private)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.BoolVar(&o.logJSON, "log-json", false, "JSON logs")
	return o
}

// applyFileAndEnv sets every flag not given on the command line from the
// environment (EDGEGATE_NAME) or, failing that, the config file.
func applyFileAndEnv(fs *flag.FlagSet, file string, environ []string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "EDGEGATE_") {
			env[k] = v
		}
	}
	fileVals := map[string]any{}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("config file: %w", err)
		}
		if err := yaml.Unmarshal(b, &fileVals); err != nil {
			return fmt.Errorf("config file %s: %w", file, err)
		}
		for k := range fileVals {
			if fs.Lookup(k) == nil {
				return fmt.Errorf("config file %s: unknown key %q", file, k)
			}
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		envName := "EDGEGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := env[envName]; ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s: %w", envName, e)
			}
			return
		}
		if v, ok := fileVals[f.Name]; ok {
			s := fmt.Sprint(v)
			if list, ok := v.([]any); ok {
				parts := make([]string, len(list))
				for i, x := range list {
					parts[i] = fmt.Sprint(x)
				}
				s = strings.Join(parts, ",")
			}
			if e := f.Value.Set(s); e != nil {
				err = fmt.Errorf("config key %s: %w", f.Name, e)
			}
		}
	})
	return err
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// raftSecretEnv names the environment variable that may hold the region's
// Raft secret itself. It is not a flag (a flag's value shows in ps) and
// not a config file key (use raft-secret-file there); a file given with
// --raft-secret-file (or EDGEGATE_RAFT_SECRET_FILE) is preferred: the
// environment of a process is readable by its user and root
// (/proc/PID/environ) and often ends up in unit files and container
// specs.
const raftSecretEnv = "EDGEGATE_RAFT_SECRET"

// raftSecret reads the region's Raft secret from file or, when no file
// is given, from the environment (raftSecretEnv, through lookupEnv);
// surrounding white space (a trailing newline) is dropped. Both at once is
// an error; neither gives nil. The length is checked by edge.Config.
func raftSecret(file string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	return secretFrom("--raft-secret-file", file, raftSecretEnv, lookupEnv)
}

// secretFrom reads a secret from file (named by flag in errors) or, when
// no file is given, from the environment variable env; surrounding white
// space is dropped. Both at once is an error; neither gives nil.
func secretFrom(flag, file, env string, lookupEnv func(string) (string, bool)) ([]byte, error) {
	v, _ := lookupEnv(env)
	v = strings.TrimSpace(v)
	switch {
	case file != "" && v != "":
		return nil, fmt.Errorf("both %s and %s are set: use one", flag, env)
	case v != "":
		return []byte(v), nil
	case file == "":
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", flag, err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 {
		return nil, fmt.Errorf("%s %s is empty", flag, file)
	}
	return b, nil
}

// config turns options into an edge.Config; lookupEnv reads the
// environment (os.LookupEnv) for raftSecretEnv.
func (o *options) config(lookupEnv func(string) (string, bool)) (edge.Config, error) {
	c := edge.Config{
		NodeID:                    o.nodeID,
		DataDir:                   o.dataDir,
		NoSync:                    o.noSync,
		AuthHMACSecret:            []byte(o.hmacSecret),
		AuthRSAPublicKeyFiles:     splitList(o.rsaKeys),
		AuthEd25519PublicKeyFiles: splitList(o.edKeys),
		APIKeys:                   splitList(o.apiKeys),
		Dev:                       o.dev,
		AllowedOrigins:            splitList(o.origins),
		MaxConnections:            o.maxConns,
		ConnRatePerIP:             o.connRate,
		MessageRate:               o.msgRate,
		MessageBurst:              o.msgBurst,
		ControlRate:               o.ctlRate,
		ControlBurst:              o.ctlBurst,
		MaxFrameBytes:             o.maxFrame,
		MaxMessageBytes:           o.maxMessage,
		MaxSubscriptions:          o.maxSubs,
		HeartbeatInterval:         o.heartbeat,
		ProbeBurstInterval:        o.probeBurst,
		ResumeGrace:               o.resumeGrace,
		RoomBatchWindow:           o.roomWindow,
		RoomBatchMaxDelay:         o.roomMaxDelay,
		LiveMaxAge:                o.liveMaxAge,
		RoomFanoutQuorum:          o.roomQuorum,
		ViewerQueue:               o.viewerQueue,
		DrainTimeout:              o.drainTimeout,
		DrainRedirectURLs:         splitList(o.drainRedirects),
		EnablePerMessageDeflate:   o.deflate,
	}
	if o.hmacSecret == "" {
		c.AuthHMACSecret = nil
	}
	c.RaftListen, c.RaftAdvertise, c.RaftGroups, c.RaftFaultInjection = o.raftListen, o.raftAdvertise, o.raftGroups, o.raftFaults
	c.RaftHeartbeatTimeout = o.raftHB
	secret, err := raftSecret(o.raftSecretFile, lookupEnv)
	if err != nil {
		return c, err
	}
	c.RaftSecret, c.RaftInsecure = secret, o.raftInsecure
	if err := o.cluster.apply(&c, lookupEnv); err != nil {
		return c, err
	}
	o.cluster.applyPublic(&c, o.listen, o.quicListen)
	o.placement.apply(&c)
	for _, p := range splitList(o.peers) {
		id, addr, ok := strings.Cut(p, "@")
		if !ok || id == "" || addr == "" {
			return c, fmt.Errorf("--peers: %q is not id@host:port", p)
		}
		c.Peers = append(c.Peers, raftgroup.Peer{ID: id, Addr: addr})
	}
	if len(c.Peers) > 0 && c.RaftListen == "" {
		return c, fmt.Errorf("--peers needs --raft-listen")
	}
	if o.resumeSecret != "" {
		b, err := hex.DecodeString(o.resumeSecret)
		if err != nil || len(b) < 16 {
			return c, fmt.Errorf("--resume-secret must be at least 16 bytes of hex")
		}
		c.ResumeSecret = b
	}
	if c.Dev && c.DataDir == "" {
		c.DataDir = "data"
	}
	if c.DataDir == "" {
		return c, fmt.Errorf("--data is required (or use --dev)")
	}
	return c, nil
}
