package transport

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gorilla/websocket"
)

// DialWS opens a client WebSocket connection to url (ws:// or wss://). The
// HTTP response is returned when there was one, also on a failed handshake
// (for example 403 for a rejected Origin), so callers can inspect it.
func DialWS(ctx context.Context, url string, opts WSDialOptions) (Conn, *http.Response, error) {
	if opts.MaxFrameBytes < 0 || opts.HandshakeTimeout < 0 || opts.WriteTimeout < 0 || opts.ReadTimeout < 0 ||
		opts.ReadBufferSize < 0 || opts.WriteBufferSize < 0 {
		return nil, nil, errors.New("transport: WSDialOptions: negative size or timeout")
	}
	proxy := opts.Proxy
	if proxy == nil {
		proxy = http.ProxyFromEnvironment
	}
	wbuf := orDefault(opts.WriteBufferSize, 4096)
	d := websocket.Dialer{
		Proxy:             proxy,
		TLSClientConfig:   opts.TLSConfig,
		HandshakeTimeout:  orDefault(opts.HandshakeTimeout, DefaultWSHandshakeTimeout),
		ReadBufferSize:    orDefault(opts.ReadBufferSize, 4096),
		WriteBufferSize:   wbuf,
		WriteBufferPool:   writePool(wbuf),
		EnableCompression: opts.EnableCompression,
	}
	h := opts.Header.Clone()
	if opts.Origin != "" {
		if h == nil {
			h = make(http.Header, 1)
		}
		h.Set("Origin", opts.Origin)
	}
	ws, resp, err := d.DialContext(ctx, url, h)
	if err != nil {
		if resp != nil {
			return nil, resp, fmt.Errorf("transport: dial %s: %w (HTTP %s)", url, err, resp.Status)
		}
		return nil, nil, fmt.Errorf("transport: dial %s: %w", url, err)
	}
	return newWSConn(ws, opts.MaxFrameBytes, opts.ReadTimeout, opts.WriteTimeout), resp, nil
}
