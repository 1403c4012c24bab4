package raftmux

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/hashicorp/raft"
)

// Fast detection of a dead peer. Raft's followers notice a lost leader
// only when their heartbeat timer runs out: one to two HeartbeatTimeouts
// (2-4 s with edge/raftgroup's settings), and a pre-vote round can add as
// much again (measured with `edgebench raft-failover`, kill -9 of the node
// leading the most of 64 groups: new leaders after 3.8 s median, 5.7 s
// p99). A peer whose process died is visible much sooner: the kernel
// closes its connections (this node's inbound connection from it ends)
// and its Raft port refuses new ones. So when an inbound connection from
// a known peer ends, the Mux dials that peer's address (up to three times,
// 100 ms apart); a refused
// connection (ECONNREFUSED: nothing listens there) means the process is
// gone, and Options.OnPeerDown is told (edge/raftgroup then lets one
// follower of each group that peer led start an election at once; see
// raftgroup.Node.PeerDown). Any other outcome (the dial succeeds, times
// out, or fails otherwise: a restart, a network fault) tells nothing and
// leaves the matter to Raft's timers. A false "down" can only cause an
// early election, which Raft's safety does not depend on.

// A peer is checked with up to peerChecks dials peerCheckGap apart, each
// bounded by peerCheckTimeout: a process being killed closes its
// connections before its listener, so a dial right after the connection
// ended may still be accepted by the kernel (seen on loopback).
const (
	peerChecks       = 3
	peerCheckGap     = 100 * time.Millisecond
	peerCheckTimeout = 300 * time.Millisecond
)

// checkPeer dials addr in the background (one check per peer at a time)
// and reports it down if its port refuses the connection.
func (m *Mux) checkPeer(addr raft.ServerAddress) {
	m.mu.Lock()
	if m.o.OnPeerDown == nil || m.closed || m.checking[addr] || addr == m.addr {
		m.mu.Unlock()
		return
	}
	m.checking[addr] = true
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		var err error
		for i := range peerChecks {
			if i > 0 {
				select {
				case <-m.quit:
					return
				case <-time.After(peerCheckGap):
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), peerCheckTimeout)
			var c net.Conn
			c, err = m.o.Dial(ctx, string(addr))
			cancel()
			if err == nil {
				c.Close()
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				break
			}
		}
		m.mu.Lock()
		delete(m.checking, addr)
		closed := m.closed
		m.mu.Unlock()
		if errors.Is(err, syscall.ECONNREFUSED) && !closed {
			m.o.Logger.Info("raftmux: peer down (connection lost, port closed)", "peer", addr)
			m.o.OnPeerDown(addr)
		}
	}()
}

// Campaign makes this node's replica of the Transport's group start an
// election at once, as a leadership transfer does (raft's TimeoutNow: no
// pre-vote, and voters grant it even while they still believe in a
// leader, if its log is up to date). The caller decides when that is
// right (raftgroup.Node.PeerDown: the group's leader is dead).
func (t *Transport) Campaign() error {
	rpc := raft.RPC{Command: &raft.TimeoutNowRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax}},
		RespChan: make(chan raft.RPCResponse, 1)}
	timer := time.NewTimer(t.m.o.Timeout)
	defer timer.Stop()
	select {
	case t.consumer <- rpc:
		return nil
	case <-t.closed:
		return errors.New("raftmux: group closed")
	case <-t.m.quit:
		return ErrClosed
	case <-timer.C:
		return errors.New("raftmux: group busy")
	}
}
