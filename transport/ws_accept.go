package transport

import (
	"fmt"
	"net/http"

	"github.com/gorilla/websocket"
)

// WSAcceptor upgrades HTTP requests to WebSocket Conns. It is safe for
// concurrent use.
type WSAcceptor struct {
	cfg     WSConfig
	origins []originRule
	up      websocket.Upgrader
}

// NewWSAcceptor validates cfg and returns an acceptor.
func NewWSAcceptor(cfg WSConfig) (*WSAcceptor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	origins, _ := parseOrigins(cfg.AllowedOrigins)
	wbuf := orDefault(cfg.WriteBufferSize, DefaultWSWriteBufferSize)
	a := &WSAcceptor{
		cfg:     cfg,
		origins: origins,
		up: websocket.Upgrader{
			HandshakeTimeout:  orDefault(cfg.HandshakeTimeout, DefaultWSHandshakeTimeout),
			ReadBufferSize:    orDefault(cfg.ReadBufferSize, DefaultWSReadBufferSize),
			WriteBufferSize:   wbuf,
			WriteBufferPool:   writePool(wbuf),
			EnableCompression: cfg.EnableCompression,
			// Accept checks the origin before upgrading.
			CheckOrigin: func(*http.Request) bool { return true },
		},
	}
	return a, nil
}

// Accept upgrades the request. On failure it has already written the HTTP
// error response (403 for a rejected Origin, wrapping ErrOriginNotAllowed;
// 400 for a bad upgrade request) and returns the error.
func (a *WSAcceptor) Accept(w http.ResponseWriter, r *http.Request) (Conn, error) {
	if !originAllowed(r, a.origins, a.cfg.AllowAllOrigins) {
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return nil, fmt.Errorf("%w: %q", ErrOriginNotAllowed, r.Header.Get("Origin"))
	}
	ws, err := a.up.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("transport: websocket upgrade: %w", err)
	}
	return newWSConn(ws, a.cfg.MaxFrameBytes, a.cfg.ReadTimeout, a.cfg.WriteTimeout), nil
}
