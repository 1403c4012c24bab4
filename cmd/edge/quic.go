package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// listenQUIC starts the QUIC listener when --quic-listen is set. In dev
// mode without --quic-cert it makes a self-signed certificate for this
// run and prints its fingerprint, which clients pin
// (transport.PinnedTLSConfig; the Go SDK: client.DialAny).
func listenQUIC(o *options, dev bool, counters *transport.FECCounters, log *slog.Logger) (*transport.QUICListener, error) {
	if o.quicListen == "" {
		return nil, nil
	}
	var cert tls.Certificate
	var err error
	switch {
	case o.quicCert != "":
		if cert, err = tls.LoadX509KeyPair(o.quicCert, o.quicKey); err != nil {
			return nil, fmt.Errorf("--quic-cert/--quic-key: %w", err)
		}
	case dev:
		if cert, err = transport.SelfSignedCert(30*24*time.Hour, "localhost", "127.0.0.1", "::1"); err != nil {
			return nil, fmt.Errorf("dev QUIC certificate: %w", err)
		}
	default:
		return nil, fmt.Errorf("--quic-listen needs --quic-cert and --quic-key (or --dev)")
	}
	ln, err := transport.ListenQUIC(o.quicListen, transport.QUICConfig{
		TLS:         &tls.Config{Certificates: []tls.Certificate{cert}},
		FECCounters: counters,
	})
	if err != nil {
		return nil, err
	}
	log.Info("quic listening", "addr", ln.Addr().String(), "modes", "quic-stream quic-fec")
	if dev {
		fmt.Printf("  QUIC:        quic://%s (or quic+fec://)   certificate sha256 %s\n", ln.Addr(), transport.CertFingerprint(cert))
	}
	return ln, nil
}
