package edge

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/edgegate/edgegate/edge/auth"
	"github.com/edgegate/edgegate/edge/webui"
)

// routes builds the node's HTTP handler.
func (srv *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", srv.handleWS)
	mux.Handle("GET /metrics", promhttp.HandlerFor(srv.m.reg, promhttp.HandlerOpts{Registry: srv.m.reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if srv.draining.Load() {
			http.Error(w, "draining", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	srv.apiRoutes(mux)
	srv.statusRoutes(mux)
	// The browser SDK, at a stable path, in every mode.
	mux.Handle("GET /sdk/", http.StripPrefix("/sdk", webui.SDKHandler()))
	if srv.cfg.Dev {
		srv.devRoutes(mux)
	}
	return mux
}

// handleWS admits a client connection: drain, connection cap and per-IP
// rate (admit) are checked before the upgrade so refused clients cost
// little.
func (srv *Server) handleWS(w http.ResponseWriter, r *http.Request) {
	if ok, reason := srv.admit(clientIP(r)); !ok {
		switch reason {
		case "ip_rate":
			w.Header().Set("Retry-After", "1")
			http.Error(w, "connection rate exceeded", http.StatusTooManyRequests)
		case "max_connections":
			w.Header().Set("Retry-After", "5")
			http.Error(w, "connection limit reached", http.StatusServiceUnavailable)
		default:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "draining", http.StatusServiceUnavailable)
		}
		return
	}
	conn, err := srv.acceptor.Accept(w, r)
	if err != nil {
		srv.conns.Release()
		srv.m.connRejects.WithLabelValues("upgrade").Inc()
		srv.log.Debug("websocket upgrade failed", "remote", r.RemoteAddr, "err", err)
		return
	}
	// The handshake runs here; the session then lives on its own goroutine
	// and this handler returns, so net/http releases the request.
	srv.serveConn(conn, r.RemoteAddr)
}

// clientIP is the peer address of the request. X-Forwarded-For is not
// trusted: put the edge behind an L4 load balancer, or extend this for a
// trusted proxy list.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// newVerifier builds the token verifier from the configured keys.
func newVerifier(cfg Config) (*auth.Verifier, error) {
	ac := auth.Config{HMACSecret: cfg.AuthHMACSecret}
	for _, f := range cfg.AuthRSAPublicKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("edge: reading RSA key: %w", err)
		}
		k, err := auth.ParseRSAPublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("edge: %s: %w", f, err)
		}
		ac.RSAPublicKeys = append(ac.RSAPublicKeys, k)
	}
	for _, f := range cfg.AuthEd25519PublicKeyFiles {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("edge: reading Ed25519 key: %w", err)
		}
		k, err := auth.ParseEd25519PublicKeyPEM(b)
		if err != nil {
			return nil, fmt.Errorf("edge: %s: %w", f, err)
		}
		ac.Ed25519PublicKeys = append(ac.Ed25519PublicKeys, k)
	}
	return auth.NewVerifier(ac)
}

// devRoutes serves dev-mode token minting and the demo page.
func (srv *Server) devRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/dev/token", func(w http.ResponseWriter, r *http.Request) {
		user := r.URL.Query().Get("user")
		if user == "" {
			user = "demo"
		}
		if !auth.ValidID(user) {
			http.Error(w, "invalid user id", http.StatusBadRequest)
			return
		}
		tok, err := auth.MintHS256(srv.cfg.AuthHMACSecret, auth.MintClaims{Subject: user, Convs: []string{"**"}, Rooms: []string{"**"}, TTL: 24 * time.Hour})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"token": tok, "user": user})
	})
	// The demo page and its assets.
	mux.Handle("GET /{$}", webui.FileHandler("index.html", "text/html; charset=utf-8"))
	mux.Handle("GET /demo/", http.StripPrefix("/demo", http.FileServerFS(webui.Static())))
}
