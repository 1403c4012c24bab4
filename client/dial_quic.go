package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/edgegate/edgegate/transport"
)

// QUICScheme prefixes the URLs of edges reached over QUIC in mode
// quic-stream: quic://host:port (the edge's --quic-listen address).
const QUICScheme = "quic://"

// QUICFECScheme prefixes the URLs of edges reached over QUIC in mode
// quic-fec (frames in datagrams protected by forward error correction;
// the same --quic-listen address): quic+fec://host:port. Use it on lossy
// links; Fallback moves there. The datagrams travel beside the QUIC
// connection on its UDP socket (outside QUIC's congestion control, see
// transport.QUICFECDirectALPN); quic+fec://host:port?datagrams=quic
// carries them inside it as QUIC DATAGRAM frames instead, for networks
// that drop UDP packets which are not QUIC.
const QUICFECScheme = "quic+fec://"

// DialAny returns a Config.Dial that reaches quic://host:port URLs over
// QUIC (mode quic-stream; quic+fec://host:port: mode quic-fec; TLS from
// quicTLS: roots, or a pin made with transport.PinnedTLSConfig for a dev
// edge) and ws:// or wss:// URLs over
// WebSocket as the default dialer does. Redirects may point to either, so
// a session can move between transports and resume.
func DialAny(cfg Config, quicTLS *tls.Config) func(ctx context.Context, url string) (transport.Conn, error) {
	cfg = cfg.withDefaults()
	ws := wsDialer(cfg)
	qc := transport.QUICConfig{TLS: quicTLS, MaxFrameBytes: max(cfg.MaxFrameBytes, maxServerFrameBytes), HandshakeTimeout: cfg.HandshakeTimeout}
	return func(ctx context.Context, url string) (transport.Conn, error) {
		dial := transport.DialQUIC
		addr, ok := strings.CutPrefix(url, QUICScheme)
		if !ok {
			addr, ok = strings.CutPrefix(url, QUICFECScheme)
			dial = transport.DialQUICFEC
		}
		if !ok {
			return ws(ctx, url)
		}
		if quicTLS == nil {
			return nil, fmt.Errorf("%w: %s needs a QUIC TLS config", ErrConfig, url)
		}
		cfg := qc
		if a, query, hasQuery := strings.Cut(addr, "?"); hasQuery {
			switch query {
			case "datagrams=quic":
				cfg.FECViaQUIC = true
			case "datagrams=direct":
			default:
				return nil, fmt.Errorf("%w: %s: unknown option %q (want datagrams=quic or datagrams=direct)", ErrConfig, url, query)
			}
			addr = a
		}
		return dial(ctx, strings.TrimSuffix(addr, "/"), cfg)
	}
}
