package client

import (
	"context"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// A warm dial opens the connection to the fallback's QUIC URL ahead of a
// move: the WebSocket link lost its first packet, enough to make the
// rate cross Fallback.LossAbove but not yet the LossMinRetrans losses
// the move needs. When the move comes, the session resumes on the warm
// connection and skips the QUIC handshake, which on a lossy path is where
// time goes: a lost handshake packet waits for QUIC's retransmission
// timer (measured: 0.4 to 1.6 s between the decision and the session up
// on quic-fec at 5% loss, RTT 200 ms). When no move comes the connection
// is closed after warmMaxAge. Fallback.NoWarmDial turns it off.

// warmMaxAge is how long a warm connection is kept unused: the edge
// closes a connection that sends no Connect within its handshake timeout
// (10 s by default).
const warmMaxAge = 5 * time.Second

// warmEvery is the least time between two warm dials: a link losing a
// packet now and then, below the move threshold, must not cost the edge
// a QUIC handshake every few seconds.
const warmEvery = 30 * time.Second

// warmQUIC is one warm dial. dropped, conn, err and at are guarded by
// Client.mu; done is closed once the dial returned.
type warmQUIC struct {
	done    chan struct{}
	dropped bool // nobody will take it: the dial's goroutine closes conn
	conn    transport.Conn
	err     error
	at      time.Time // when the dial returned (zero before: conn and err unset)
}

// warmDial starts dialling the fallback's QUIC URL in the background,
// unless a warm connection exists or is being dialled, one was dialled
// less than warmEvery ago, the session is on QUIC already, QUIC failed
// recently or the client is stopping.
func (c *Client) warmDial() {
	now := time.Now()
	c.mu.Lock()
	if c.warm != nil || c.dead || c.onQUIC || now.Before(c.quicBlockedUntil) ||
		(!c.lastWarm.IsZero() && now.Sub(c.lastWarm) < warmEvery) || c.ctx.Err() != nil {
		c.mu.Unlock()
		return
	}
	w := &warmQUIC{done: make(chan struct{})}
	c.warm, c.lastWarm = w, now
	url := c.fallback.QUICURL
	c.bg.Add(1)
	c.mu.Unlock()
	c.stats.warmDials.Add(1)
	c.log.Info("client: link losing packets, dialling QUIC ahead of a move", "url", url)
	go func() {
		defer c.bg.Done()
		ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
		conn, err := c.cfg.Dial(ctx, url)
		cancel()
		c.mu.Lock()
		w.conn, w.err, w.at = conn, err, time.Now()
		orphan := w.dropped && conn != nil
		c.mu.Unlock()
		close(w.done)
		if orphan {
			_ = conn.Close(transport.CloseNormal, "")
		}
	}()
}

// dropWarmConn gives up w: its connection is closed now if its dial returned,
// else by the dial's goroutine when it does.
func (c *Client) dropWarmConn(w *warmQUIC) {
	c.mu.Lock()
	w.dropped = true
	conn := w.conn
	w.conn = nil
	c.mu.Unlock()
	if conn != nil {
		_ = conn.Close(transport.CloseNormal, "")
	}
}

// takeWarm returns the warm connection for url, waiting for its dial to
// return (it started earlier, so the wait is shorter than a new dial).
// It returns nil and no error when there is none, or it is for another
// URL or older than warmMaxAge; and the dial's error if it failed.
func (c *Client) takeWarm(ctx context.Context, url string) (transport.Conn, error) {
	w := c.detachWarm()
	if w == nil {
		return nil, nil
	}
	if url != c.fallback.QUICURL {
		c.dropWarmConn(w)
		return nil, nil
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		c.dropWarmConn(w)
		return nil, ctx.Err()
	}
	c.mu.Lock()
	conn, err, at := w.conn, w.err, w.at
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if time.Since(at) > warmMaxAge {
		c.dropWarmConn(w)
		return nil, nil
	}
	c.stats.warmUsed.Add(1)
	return conn, nil
}

// expireWarm closes a warm connection left unused for warmMaxAge (run
// at every probe).
func (c *Client) expireWarm() {
	c.mu.Lock()
	w := c.warm
	if w == nil || w.at.IsZero() || time.Since(w.at) <= warmMaxAge {
		c.mu.Unlock()
		return
	}
	c.warm = nil
	c.mu.Unlock()
	c.dropWarmConn(w)
}

// dropWarm gives up any warm connection (the client is stopping).
func (c *Client) dropWarm() {
	if w := c.detachWarm(); w != nil {
		c.dropWarmConn(w)
	}
}

// detachWarm takes the warm dial, if any, from the client.
func (c *Client) detachWarm() *warmQUIC {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := c.warm
	c.warm = nil
	return w
}
