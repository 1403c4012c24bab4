package client

import (
	"strings"
	"time"
)

// returns reports whether f may move a session on its QUIC URL back to
// WebSocket (ReturnAfter set, quic-fec: its counters tell a clean path).
func (f *Fallback) returns() bool {
	return f != nil && f.ReturnAfter > 0 && strings.HasPrefix(f.QUICURL, QUICFECScheme)
}

// checkReturn is the probe on a quic-fec connection the fallback moved
// to: it reports whether the path has lost nothing, in either direction,
// for ReturnAfter (see Fallback.ReturnAfter). Writer goroutine only.
func (cn *connection) checkReturn(f *Fallback) bool {
	st := cn.conn.Stats()
	now := time.Now()
	clean := st.LostOut == cn.lastLostOut && st.MissingIn == cn.lastMissing
	cn.lastLostOut, cn.lastMissing = st.LostOut, st.MissingIn
	if !clean || cn.cleanSince.IsZero() {
		cn.cleanSince = now
		return false
	}
	return now.Sub(cn.cleanSince) >= f.ReturnAfter
}

// returnToWS points the next connect back at the WebSocket URL the
// session moved from.
func (c *Client) returnToWS() {
	c.mu.Lock()
	c.url, c.onQUIC = c.wsURL, false
	c.mu.Unlock()
	c.stats.switches.Add(1)
	c.log.Info("client: quic-fec link clean, returning the session to WebSocket", "url", c.wsURL)
}
