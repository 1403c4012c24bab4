package edge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgegate/edgegate/edge/raftgroup"
	"github.com/edgegate/edgegate/edge/raftlog"
	"github.com/edgegate/edgegate/edge/raftmux"
)

// replication is the Raft side of an edge (Config.RaftListen): the node's
// Raft network, its log store and its replicas of every group.
type replication struct {
	mux  *raftmux.Mux
	log  *raftlog.Store
	node *raftgroup.Node
	view *raftView // membership placement's view, or nil (static peers)
}

// startReplication starts the node's Raft groups; committed messages go
// to the router (every replica delivers to its own sessions).
func (srv *Server) startReplication() (*replication, error) {
	cfg := srv.cfg
	r := &replication{}
	var err error
	// A peer found dead (raftmux: connection lost, port closed) lets this
	// node start the elections of the groups it led at once.
	var node atomic.Pointer[raftgroup.Node]
	peerDown := func(addr raft.ServerAddress) {
		if n := node.Load(); n != nil {
			n.PeerDown(string(addr))
		}
	}
	if r.mux, err = raftmux.Listen(cfg.RaftListen, raftmux.Options{Advertise: cfg.RaftAdvertise, Logger: srv.log, OnPeerDown: peerDown, Secret: cfg.RaftSecret}); err != nil {
		return nil, err
	}
	if r.log, err = raftlog.Open(filepath.Join(cfg.DataDir, "raft"), raftlog.Options{NoSync: cfg.NoSync, Logger: srv.log}); err != nil {
		r.mux.Close()
		return nil, err
	}
	peers := cfg.Peers
	if len(peers) == 0 {
		peers = []raftgroup.Peer{{ID: cfg.NodeID, Addr: string(r.mux.Addr())}}
	}
	placement, peers := srv.raftPlacement(r, peers)
	r.node, err = raftgroup.Start(raftgroup.Options{
		NodeID: cfg.NodeID, Peers: peers, Groups: cfg.RaftGroups,
		Store: srv.store, Log: r.log, SnapshotDir: filepath.Join(cfg.DataDir, "raft-snapshots"),
		Transport: func(g uint32) (raft.Transport, error) { return r.mux.Transport(g), nil },
		Forward: func(ctx context.Context, addr string, g uint32, body []byte) ([]byte, error) {
			timeout := time.Duration(0) // the mux's default
			if d, ok := ctx.Deadline(); ok {
				if timeout = time.Until(d); timeout <= 0 {
					return nil, ctx.Err()
				}
			}
			return r.mux.Call(addr, g, body, timeout)
		},
		OnCommit:  srv.router.fanout,
		Logger:    srv.log,
		Raft:      raftConfig(cfg.RaftHeartbeatTimeout),
		Placement: placement,
	})
	if err != nil {
		r.log.Close()
		r.mux.Close()
		return nil, fmt.Errorf("edge: starting raft groups: %w", err)
	}
	r.mux.HandleApp(r.node.HandleForward)
	node.Store(r.node)
	return r, nil
}

// raftConfig is raftgroup.Tuned with HeartbeatTimeout and ElectionTimeout
// set to hb (nil for 0: the default); the leader lease stays at most half
// of it.
func raftConfig(hb time.Duration) *raft.Config {
	if hb <= 0 {
		return nil
	}
	c := raftgroup.Tuned()
	c.HeartbeatTimeout, c.ElectionTimeout = hb, hb
	c.LeaderLeaseTimeout = min(c.LeaderLeaseTimeout, hb/2)
	return c
}

// close stops the replicas, then the network and the log store.
func (r *replication) close() error {
	return errors.Join(r.node.Close(), r.mux.Close(), r.log.Close())
}

// register exports the replicas' state: groups by Raft state on this node
// (edgegate_raft_groups: a region is healthy when every group has one
// leader somewhere), the shared log store's batches and fsyncs, and the
// Raft port's refused connections (failed authentication, see raftmux).
func (r *replication) register(reg *prometheus.Registry) {
	states := []string{"Leader", "Follower", "Candidate", "Shutdown"}
	desc := prometheus.NewDesc("edgegate_raft_groups", "Raft groups replicated on this node, by this replica's state.", []string{"state"}, nil)
	reg.MustRegister(collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		count := map[string]float64{}
		for _, st := range r.node.Status() {
			count[st.State]++
		}
		for _, s := range states {
			ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, count[s], strings.ToLower(s))
		}
	}})
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_log_commits_total", Help: "Raft log batches written (all groups), each asking for fsync."},
		func() float64 { return float64(r.log.Stats().Commits) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_log_fsyncs_total", Help: "fsyncs of the Raft log store's WAL (concurrent commits share one)."},
		func() float64 { return float64(r.log.Stats().WALSyncs) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_refused_connections_total",
		Help: "Inbound Raft connections refused before their first frame: wrong or missing region secret, an older preamble, garbage, or no handshake in time."},
		func() float64 { return float64(r.mux.Stats().RefusedConns) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_peer_auth_failures_total",
		Help: "Outbound Raft connections dropped because the peer did not prove the region secret."},
		func() float64 { return float64(r.mux.Stats().PeerAuthFailures) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_commit_notices_total",
		Help: "Commit notices this node's leader replicas sent to followers (raftmux: a commit told at once, not at raft's next CommitTimeout)."},
		func() float64 { return float64(r.mux.Stats().CommitNotices) }))
	reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "edgegate_raft_cached_appends_total",
		Help: "Empty AppendEntries answered from raftmux's cache instead of crossing the wire."},
		func() float64 { return float64(r.mux.Stats().CachedAppends) }))
	r.registerPlacement(reg)
}

// collectorFunc is a prometheus.Collector from a function.
type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
