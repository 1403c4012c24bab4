package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// redirectError ends a connection on which the server sent Redirect.
type redirectError struct{ r *pb.Redirect }

func (e *redirectError) Error() string {
	return fmt.Sprintf("client: redirected (%s) to %v", e.r.GetReason(), e.r.GetUrls())
}

// run is the manager goroutine: connect, serve, decide, back off, repeat.
func (c *Client) run() {
	defer close(c.runDone)
	attempt := 0
	authRetried := false   // a fresh token was already tried after a rejection
	resumeRetried := false // a connect without resume token was already tried
	connectedOnce := false
	tried := 0 // edges found unreachable in this round (edges.go)
	var wait time.Duration
	for {
		if err := c.sleep(c.ctx, wait); err != nil {
			c.finish(nil)
			return
		}
		if connectedOnce {
			c.setState(StateReconnecting)
		}
		cn, err := c.connect()
		unreachable := false
		if err != nil && c.ctx.Err() == nil {
			var se *Error
			var rd *redirectError
			unreachable = !errors.As(err, &se) && !errors.As(err, &rd)
		}
		if unreachable && c.fallback != nil && c.onQUICNow() && c.ctx.Err() == nil {
			c.quicFailed(err) // a dial or handshake failure, not an answer
			wait = 0
			continue
		}
		if err == nil {
			attempt, tried, authRetried, resumeRetried = 0, 0, false, false
			if connectedOnce {
				c.stats.reconnects.Add(1)
			}
			connectedOnce = true
			err = c.serve(cn)
		}
		if c.ctx.Err() != nil {
			c.finish(nil)
			return
		}
		c.lastErr.Store(&err)
		if connectedOnce {
			c.setState(StateReconnecting)
		}

		// Decide what to do about err.
		var (
			rd *redirectError
			se *Error
		)
		immediate := false
		var retryAfter time.Duration
		switch {
		case errors.Is(err, errLinkDegraded):
			c.moveToQUIC()
			immediate = true
		case errors.Is(err, errLinkClean):
			c.returnToWS()
			immediate = true
		case unreachable && c.nextEdge():
			// Another edge may be up: try each once at once, then back
			// off before the next round.
			if tried++; tried < c.edgeCount() {
				immediate = true
			} else {
				tried = 0
			}
		case errors.As(err, &rd):
			c.redirectTo(rd.r.GetUrls())
			tried = 0
			immediate = true
			retryAfter = min(time.Duration(rd.r.GetRetryAfterMs())*time.Millisecond, c.cfg.MaxBackoff)
		case errors.As(err, &se):
			retryAfter = se.RetryAfter
			switch {
			case se.isAuth():
				if c.cfg.TokenFunc == nil || authRetried {
					c.finish(err)
					return
				}
				authRetried, immediate = true, true
			case se.Code == pb.ErrorCode_ERROR_CODE_RESUME_REJECTED:
				c.mu.Lock()
				c.resumeToken = ""
				c.mu.Unlock()
				if !resumeRetried {
					resumeRetried, immediate = true, true
				}
			case se.Code == pb.ErrorCode_ERROR_CODE_BAD_FRAME, se.Code == pb.ErrorCode_ERROR_CODE_BAD_REQUEST,
				se.Code == pb.ErrorCode_ERROR_CODE_FORBIDDEN:
				c.finish(err)
				return
			}
		}
		if immediate {
			wait = retryAfter
			c.log.Info("client: reconnecting now", "err", err, "after", wait)
			continue
		}
		wait = max(c.bo.delay(attempt), retryAfter)
		attempt++
		c.log.Info("client: connection lost, backing off", "err", err, "attempt", attempt, "wait", wait)
	}
}

// connect dials and performs the Connect/Connected exchange.
func (c *Client) connect() (*connection, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.HandshakeTimeout)
	defer cancel()
	token := c.cfg.Token
	if f := c.cfg.TokenFunc; f != nil {
		t, err := f(ctx)
		if err != nil {
			return nil, fmt.Errorf("client: token: %w", err)
		}
		token = t
	}
	c.mu.Lock()
	url, resume := c.url, c.resumeToken
	c.mu.Unlock()

	conn, err := c.takeWarm(ctx, url)
	warm := conn != nil
	if conn == nil && err == nil {
		conn, err = c.cfg.Dial(ctx, url)
	}
	if err != nil {
		return nil, fmt.Errorf("client: dial %s: %w", url, err)
	}
	hello := &pb.Connect{
		Token:         token,
		ResumeToken:   resume,
		Positions:     c.recv.positions(),
		DeviceId:      c.cfg.DeviceID,
		Compression:   c.cfg.Compression,
		ClientVersion: ClientVersion,
	}
	cn, err := c.handshake(ctx, conn, hello)
	var se *Error
	var rd *redirectError
	if err != nil && warm && ctx.Err() == nil && !errors.As(err, &se) && !errors.As(err, &rd) {
		// The warm connection died unused (the edge's handshake timeout,
		// an expired NAT binding): dial afresh.
		c.log.Info("client: warm QUIC connection failed, dialling again", "err", err)
		if conn, err = c.cfg.Dial(ctx, url); err != nil {
			return nil, fmt.Errorf("client: dial %s: %w", url, err)
		}
		return c.handshake(ctx, conn, hello)
	}
	return cn, err
}

// handshake sends hello on conn and waits for Connected.
func (c *Client) handshake(ctx context.Context, conn transport.Conn, hello *pb.Connect) (*connection, error) {
	frame, err := transport.Encode(nil, hello, nil)
	if err != nil {
		_ = conn.Close(transport.CloseInternal, "encode")
		return nil, fmt.Errorf("client: encode connect: %w", err)
	}
	if err := conn.WriteFrame(ctx, frame); err != nil {
		_ = conn.Close(transport.CloseNormal, "")
		return nil, fmt.Errorf("client: write connect: %w", err)
	}
	lim := transport.Limits{MaxFrameBytes: c.cfg.MaxFrameBytes}
	for {
		b, err := conn.ReadFrame(ctx)
		if err != nil {
			_ = conn.Close(transport.CloseNormal, "")
			return nil, closeToError(fmt.Errorf("%w: %w", ErrHandshake, err), nil)
		}
		_, m, err := transport.Decode(b, lim)
		if err != nil {
			_ = conn.Close(transport.CloseProtocol, "bad frame")
			return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
		}
		switch m := m.(type) {
		case *pb.Connected:
			return newConnection(c, conn, m), nil
		case *pb.Error:
			_ = conn.Close(transport.CloseNormal, "")
			return nil, errorFromPB(m)
		case *pb.Redirect:
			_ = conn.Close(transport.CloseNormal, "redirect")
			return nil, &redirectError{m}
		default:
			c.log.Debug("client: ignoring frame before Connected", "type", fmt.Sprintf("%T", m))
		}
	}
}

// closeToError turns a close code 4000+code into an *Error (preferring the
// Error frame last that carried the same code), and returns other errors
// unchanged.
func closeToError(err error, last *pb.Error) error {
	var ce *transport.CloseError
	if !errors.As(err, &ce) {
		return err
	}
	code, ok := ce.Code.ErrorCode()
	if !ok {
		return err
	}
	if last != nil && last.GetCode() == code {
		return errorFromPB(last)
	}
	return &Error{Code: code, Reason: ce.Reason}
}

// serve runs one established connection until it fails or the client
// closes, and returns why it ended.
func (c *Client) serve(cn *connection) error {
	c.recv.beginConn()
	c.mu.Lock()
	c.cur = cn
	if t := cn.hello.GetResumeToken(); t != "" {
		c.resumeToken = t
	}
	c.maxMessageBytes = int(cn.hello.GetMaxMessageBytes())
	resend := c.resubscribeLocked(cn)
	resend = append(resend, c.takeResendsLocked(cn)...)
	c.mu.Unlock()
	c.log.Info("client: connected", "session", cn.hello.GetSessionId(), "node", cn.hello.GetNodeId(),
		"resumed", cn.hello.GetResumed(), "transport", cn.conn.Transport())

	if cn.conn.Transport() != "ws" && c.stats.firstMove.Load() != 0 {
		c.stats.firstOnQUIC.CompareAndSwap(0, time.Now().UnixNano())
	}
	cn.start()
	c.setState(StateConnected)
	select {
	case <-c.ready:
	default:
		close(c.ready)
	}
	for _, r := range resend {
		if !cn.enqueue(c.ctx, r.msg) {
			break
		}
	}
	<-cn.ctx.Done()
	c.mu.Lock()
	c.cur = nil
	c.mu.Unlock()
	cn.stop()
	return cn.endCause()
}
