package edge

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/gossip"
)

// clusterProtocolVersion is the inter-node protocol version this edge
// advertises in its gossip metadata.
const clusterProtocolVersion = 1

// metaRefreshEvery is how often the node's load is pushed into its gossip
// metadata: load changes by the second, never per client event (gossip
// carries per-node facts only).
const metaRefreshEvery = 5 * time.Second

// clusterLeaveTimeout bounds the graceful leave of a draining node.
const clusterLeaveTimeout = 3 * time.Second

// startCluster joins the gossip cluster (Config.GossipListen).
//
// The metadata carries the client addresses (Config.PublicURL,
// PublicQUICAddr) and the health score (health.go, refreshed by
// refreshClusterMeta); Draining is set when Shutdown starts.
func (srv *Server) startCluster() (*gossip.Cluster, error) {
	cfg := srv.cfg
	meta := gossip.Meta{Region: cfg.Region, Zone: cfg.Zone, Health: uint8(srv.health.current(false).Score),
		WSAddr: cfg.PublicURL, QUICAddr: cfg.PublicQUICAddr,
		Capacity: uint32(cfg.MaxConnections), ProtocolVersion: clusterProtocolVersion}
	if cfg.PublicURL == "" {
		srv.log.Warn("cluster: no public URL: peers will not send clients to this node (set --public-url)")
	}
	if srv.repl != nil {
		meta.RaftAddr = string(srv.repl.mux.Addr())
	}
	if srv.link != nil {
		meta.NodeAddr = srv.link.advertise()
	}
	c, err := gossip.New(gossip.Config{
		NodeID: cfg.NodeID, BindAddr: cfg.GossipListen, AdvertiseAddr: cfg.GossipAdvertise,
		Join: cfg.Join, Preset: gossip.Preset(cfg.GossipPreset), SecretKey: cfg.GossipKey,
		Meta: meta, Logger: srv.log,
	})
	if err != nil {
		return nil, fmt.Errorf("edge: joining the cluster: %w", err)
	}
	return c, nil
}

// refreshClusterMeta scores the node's health every metaRefreshEvery
// until the server stops and, in a cluster, pushes the score and the
// load into its gossip metadata. It runs on every node: the score also
// feeds /metrics, /status and GET /v1/route.
func (srv *Server) refreshClusterMeta() {
	t := time.NewTicker(metaRefreshEvery)
	defer t.Stop()
	for {
		select {
		case <-srv.quit:
			return
		case now := <-t.C:
			h := srv.health.refresh(now)
			if srv.cluster == nil {
				continue
			}
			n := uint32(max(srv.conns.Load(), 0))
			if err := srv.cluster.UpdateMeta(func(m *gossip.Meta) {
				m.Connections, m.Health = n, uint8(min(max(h.Score, 0), gossip.MaxHealth))
			}); err != nil {
				srv.log.Debug("cluster: metadata not updated", "err", err)
			}
		}
	}
}

// registerCluster exports the membership as seen from this node.
func (srv *Server) registerCluster(reg *prometheus.Registry) {
	states := []gossip.State{gossip.StateAlive, gossip.StateDead, gossip.StateLeft}
	desc := prometheus.NewDesc("edgegate_cluster_members", "Cluster members as this node sees them, by state.", []string{"state"}, nil)
	reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		count := map[gossip.State]float64{}
		for _, m := range srv.cluster.Members() {
			count[m.State]++
		}
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, count[s], s.String())
		}
	}})
	bytes := prometheus.NewDesc("edgegate_gossip_bytes_total", "Gossip bytes on the wire (UDP and TCP, after compression and encryption), by direction.", []string{"dir"}, nil)
	reg.MustRegister(collectorFunc{desc: bytes, collect: func(ch chan<- prometheus.Metric) {
		st := srv.cluster.Stats()
		ch <- prometheus.MustNewConstMetric(bytes, prometheus.CounterValue, float64(st.BytesSent), "sent")
		ch <- prometheus.MustNewConstMetric(bytes, prometheus.CounterValue, float64(st.BytesReceived), "received")
	}})
}
