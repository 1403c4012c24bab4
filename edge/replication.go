package edge

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/hashicorp/raft"

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
}

// startReplication starts the node's Raft groups; committed messages go
// to the router (every replica delivers to its own sessions).
func (srv *Server) startReplication() (*replication, error) {
	cfg := srv.cfg
	r := &replication{}
	var err error
	if r.mux, err = raftmux.Listen(cfg.RaftListen, raftmux.Options{Advertise: cfg.RaftAdvertise, Logger: srv.log}); err != nil {
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
	r.node, err = raftgroup.Start(raftgroup.Options{
		NodeID: cfg.NodeID, Peers: peers, Groups: cfg.RaftGroups,
		Store: srv.store, Log: r.log, SnapshotDir: filepath.Join(cfg.DataDir, "raft-snapshots"),
		Transport: func(g uint32) (raft.Transport, error) { return r.mux.Transport(g), nil },
		Forward: func(ctx context.Context, addr string, g uint32, body []byte) ([]byte, error) {
			return r.mux.Call(addr, g, body, 0)
		},
		OnCommit: srv.router.fanout,
		Logger:   srv.log,
	})
	if err != nil {
		r.log.Close()
		r.mux.Close()
		return nil, fmt.Errorf("edge: starting raft groups: %w", err)
	}
	r.mux.HandleApp(r.node.HandleForward)
	return r, nil
}

// close stops the replicas, then the network and the log store.
func (r *replication) close() error {
	return errors.Join(r.node.Close(), r.mux.Close(), r.log.Close())
}
