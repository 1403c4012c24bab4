package edge

import (
	"context"
	"errors"
	"net"

	"github.com/quic-go/quic-go"

	"github.com/edgegate/edgegate/transport"
)

// admit applies the admission checks every transport shares (drain,
// per-IP connection rate, connection cap) before a handshake. On success
// the caller owns one connection slot (srv.conns) and must release it
// (serveConn does). reason names the refusal for metrics.
func (srv *Server) admit(ip string) (ok bool, reason string) {
	if srv.draining.Load() {
		srv.m.connRejects.WithLabelValues("draining").Inc()
		return false, "draining"
	}
	if !srv.ipLimiter.Allow(ip) {
		srv.m.connRejects.WithLabelValues("ip_rate").Inc()
		return false, "ip_rate"
	}
	if !srv.conns.TryAcquire() {
		srv.m.connRejects.WithLabelValues("max_connections").Inc()
		return false, "max_connections"
	}
	return true, ""
}

// FECCounters returns the counters quic-fec connections of this node add
// to (exported as edgegate_fec_* metrics): pass it as
// transport.QUICConfig.FECCounters when making the listener.
func (srv *Server) FECCounters() *transport.FECCounters { return &srv.m.fec }

// ServeQUIC accepts clients on a QUIC listener (modes quic-stream and
// quic-fec, told apart by ALPN) until
// the listener is closed, then returns nil. Sessions on QUIC are the same
// as on WebSocket: same handshake, limits, resume and metrics (label
// transport="quic-stream"). Close the listener after Shutdown: the drain
// redirects QUIC clients too.
func (srv *Server) ServeQUIC(ln *transport.QUICListener) error {
	for {
		conn, err := ln.Accept(context.Background())
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, quic.ErrServerClosed) {
				return nil
			}
			srv.log.Warn("quic accept", "err", err)
			return err
		}
		remote := conn.RemoteAddr().String()
		host, _, _ := net.SplitHostPort(remote)
		if ok, reason := srv.admit(host); !ok {
			code := transport.CloseTryAgain
			if reason == "draining" {
				code = transport.CloseGoingAway
			}
			_ = conn.Close(code, reason)
			continue
		}
		if !srv.goFunc(func() { srv.serveConn(conn, remote) }) {
			srv.conns.Release()
			_ = conn.Close(transport.CloseGoingAway, "shutdown")
			return nil
		}
	}
}
