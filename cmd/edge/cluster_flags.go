package main

import (
	"encoding/hex"
	"flag"
	"fmt"

	"github.com/edgegate/edgegate/edge"
)

// gossipKeyEnv names the environment variable that may hold the cluster's
// gossip key (hex) itself; --gossip-key-file is preferred (see
// raftSecretEnv for why).
const gossipKeyEnv = "EDGEGATE_GOSSIP_KEY"

// clusterOptions are the cluster (gossip) flags.
type clusterOptions struct {
	listen, advertise, join, preset, keyFile, region, zone string
	insecure                                               bool
	publicURL, publicQUIC                                  string
	// nodeListen, nodeAdvertise: the inter-node link (edge/nodelink).
	nodeListen, nodeAdvertise string
}

func (o *clusterOptions) define(fs *flag.FlagSet) {
	fs.StringVar(&o.listen, "gossip-listen", "", "host:port (UDP and TCP) for the edge cluster's gossip (hashicorp/memberlist): membership, failure detection, node metadata; off by default")
	fs.StringVar(&o.advertise, "gossip-advertise", "", "the gossip address other nodes use (default derived from --gossip-listen)")
	fs.StringVar(&o.join, "join", "", "comma-separated gossip addresses of cluster members to join at start (empty: start a new cluster)")
	fs.StringVar(&o.preset, "gossip-preset", "lan", "gossip timings: lan, wan (nodes across regions) or local (loopback)")
	fs.StringVar(&o.keyFile, "gossip-key-file", "", "file holding the cluster's gossip key as hex (16, 24 or 32 bytes, e.g. `openssl rand -hex 32`; the same on every node): encrypts and authenticates gossip. "+
		"Required with --join unless --gossip-insecure. "+gossipKeyEnv+" may hold the key itself instead")
	fs.BoolVar(&o.insecure, "gossip-insecure", false, "testing on loopback only: join a cluster without a gossip key (anyone who reaches --gossip-listen can then join and advertise addresses)")
	fs.StringVar(&o.region, "region", "", "this node's region, advertised to the cluster")
	fs.StringVar(&o.zone, "zone", "", "this node's zone within its region, advertised to the cluster")
	fs.StringVar(&o.publicURL, "public-url", "", "the WebSocket URL clients use to reach this node (ws:// or wss://host:port/v1/ws), advertised to the cluster for GET /v1/route and drain redirects. "+
		"Default ws://LISTEN/v1/ws from --listen when it names a host; with 0.0.0.0 or :port (or behind TLS or a proxy) set it, else peers never send clients here")
	fs.StringVar(&o.publicQUIC, "public-quic-addr", "", "the QUIC address (host:port) clients use to reach this node, advertised like --public-url. Default --quic-listen when it names a host")
	fs.StringVar(&o.nodeListen, "node-listen", "", "TCP host:port for the inter-node link (rooms span the cluster: comments reach every node's viewers); "+
		"needs --gossip-listen and the region secret (--raft-secret-file, or --raft-insecure on loopback); off by default")
	fs.StringVar(&o.nodeAdvertise, "node-advertise", "", "the inter-node link address peers dial, advertised in gossip (default: --node-listen's)")
}

// applyPublic sets the advertised client addresses: the flags, or what
// the listen addresses give when they name a host.
func (o *clusterOptions) applyPublic(c *edge.Config, listen, quicListen string) {
	c.PublicURL, c.PublicQUICAddr = o.publicURL, o.publicQUIC
	if c.PublicURL == "" {
		c.PublicURL = edge.PublicURLFromListen(listen)
	}
	if c.PublicQUICAddr == "" && quicListen != "" {
		c.PublicQUICAddr = edge.PublicAddrFromListen(quicListen)
	}
}

// apply copies the cluster flags into c, reading the gossip key.
func (o *clusterOptions) apply(c *edge.Config, lookupEnv func(string) (string, bool)) error {
	c.GossipListen, c.GossipAdvertise, c.Join = o.listen, o.advertise, splitList(o.join)
	c.GossipPreset, c.GossipInsecure, c.Region, c.Zone = o.preset, o.insecure, o.region, o.zone
	c.NodeListen, c.NodeAdvertise = o.nodeListen, o.nodeAdvertise
	raw, err := secretFrom("--gossip-key-file", o.keyFile, gossipKeyEnv, lookupEnv)
	if err != nil || raw == nil {
		return err
	}
	key, err := hex.DecodeString(string(raw))
	if err != nil {
		return fmt.Errorf("gossip key: not hex: %w", err)
	}
	if n := len(key); n != 16 && n != 24 && n != 32 {
		return fmt.Errorf("gossip key: %d bytes; want 16, 24 or 32 (32, 48 or 64 hex digits)", n)
	}
	c.GossipKey = key
	return nil
}
