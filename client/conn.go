package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// Connection-ending causes raised by the client itself.
var (
	errHeartbeatTimeout = errors.New("client: no frame from the server for 2 heartbeat intervals")
	errResync           = errors.New("client: too many out-of-order messages held; reconnecting to resync")
	errRedirected       = errors.New("client: redirected")
)

const (
	outQueue     = 256  // frames waiting for the writer
	maxHeld      = 4096 // out-of-order messages held per conversation while a gap is filled
	syncLimit    = 500  // SyncRequest page size
	finalAckWait = time.Second
)

// connection is one live transport connection with its reader and writer
// goroutines.
type connection struct {
	c     *Client
	conn  transport.Conn
	hello *pb.Connected

	ctx    context.Context // cancelled when the connection must end
	cancel context.CancelFunc
	out    chan proto.Message // to the writer
	kick   chan struct{}      // asks the writer to flush acks now
	linkCk chan struct{}      // a Pong brought the edge's link report: check the loss now
	// ackTimer kicks the writer AckInterval after the first unacknowledged
	// delivery. A timer armed on demand, not a ticker: an idle or
	// rooms-only connection then costs no wake-ups (10k clients with a
	// 250 ms ticker were 40k wake-ups a second).
	ackTimer *time.Timer
	comp     *transport.Compressor
	lim      transport.Limits
	hb       time.Duration

	lastRecv atomic.Int64 // time.Now().UnixNano() of the last frame read or message handed over
	busy     atomic.Bool  // reader is blocked handing a message to the application

	readerDone, writerDone chan struct{}
	closeOnce              sync.Once

	ackMu      sync.Mutex
	ackStopped bool

	mu       sync.Mutex
	cause    error
	redirect *pb.Redirect
	lastErr  *pb.Error // last connection-level Error frame
	pingID   uint64
	pingSent time.Time
	pongSeen bool // the last ping was answered

	// slowProbes counts consecutive probes slower than
	// Fallback.RTTAbove (guarded by mu).
	slowProbes int
	// lossHist holds the TCP counters of recent probes, lastOOO and holes
	// the downlink holes seen so far (see linkLoss; writer goroutine only).
	lossHist []lossSample
	lastOOO  uint64
	holes    uint64
	// srvLoss holds the server's link reports of the Pongs of the last
	// loss window (guarded by mu).
	srvLoss []srvReport
	// burst ticks the fast link probes while a loss is checked, until
	// burstEnd (see probeBurst; writer goroutine only).
	burst    *time.Ticker
	burstEnd time.Time
	burstSeq uint64
	// cleanSince is when the quic-fec path last started looking clean,
	// lastLostOut and lastMissing its LostOut and MissingIn at the
	// previous probe (see checkReturn; writer goroutine only).
	cleanSince               time.Time
	lastLostOut, lastMissing uint64
	// closed is set when the connection's counters moved to the client's.
	closed atomic.Bool

	// Reader-owned.
	roomLast map[string]uint64 // highest room seq seen on this connection
	syncs    map[uint64]string // outstanding SyncRequest id -> conversation
	// Writer-owned.
	buf []byte
}

func newConnection(c *Client, conn transport.Conn, hello *pb.Connected) *connection {
	ctx, cancel := context.WithCancel(c.ctx)
	hb := c.cfg.HeartbeatInterval
	if hb <= 0 {
		hb = time.Duration(hello.GetHeartbeatIntervalMs()) * time.Millisecond
	}
	if hb <= 0 {
		hb = DefaultHeartbeatInterval
	}
	maxFrame := c.cfg.MaxFrameBytes
	if s := int(hello.GetMaxFrameBytes()); s > maxFrame {
		maxFrame = min(s, max(maxServerFrameBytes, c.cfg.MaxFrameBytes))
	}
	cn := &connection{
		c: c, conn: conn, hello: hello,
		ctx: ctx, cancel: cancel,
		out:        make(chan proto.Message, outQueue),
		kick:       make(chan struct{}, 1),
		linkCk:     make(chan struct{}, 1),
		comp:       &transport.Compressor{Codec: hello.GetCompression(), Threshold: int(hello.GetCompressionThreshold())},
		lim:        transport.Limits{MaxFrameBytes: maxFrame},
		hb:         hb,
		readerDone: make(chan struct{}),
		writerDone: make(chan struct{}),
		roomLast:   make(map[string]uint64),
		syncs:      make(map[uint64]string),
	}
	cn.lastRecv.Store(time.Now().UnixNano())
	return cn
}

// start launches the reader and writer goroutines.
func (cn *connection) start() {
	go cn.readLoop()
	go cn.writeLoop()
}

// stop ends the connection and waits for its goroutines. When the client is
// closing, the writer first flushes a last DeliveryAck.
func (cn *connection) stop() {
	cn.cancel()
	<-cn.writerDone
	cn.closeConn(transport.CloseNormal, "")
	<-cn.readerDone
}

// fail ends the connection because of err, closing it with code.
func (cn *connection) fail(err error, code transport.CloseCode, reason string) {
	cn.mu.Lock()
	if cn.cause == nil {
		cn.cause = err
	}
	cn.mu.Unlock()
	cn.cancel()
	cn.closeConn(code, reason)
}

func (cn *connection) closeConn(code transport.CloseCode, reason string) {
	cn.closeOnce.Do(func() {
		// The transport's counters move to the client's totals (TCP_INFO
		// cannot be read after Close).
		st := cn.conn.Stats()
		cn.closed.Store(true)
		cn.c.stats.retransmitted.Add(st.Retransmits)
		cn.c.stats.fecRecovered.Add(st.Recovered)
		cn.c.stats.fecDataPackets.Add(st.FECDataPackets)
		cn.c.stats.fecUnrecoverable.Add(st.Unrecoverable)
		_ = cn.conn.Close(code, reason)
	})
}

// endCause says why the connection ended, in the terms run decides on.
func (cn *connection) endCause() error {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	if cn.redirect != nil {
		return &redirectError{cn.redirect}
	}
	if cn.cause == nil {
		return errors.New("client: connection ended")
	}
	return closeToError(cn.cause, cn.lastErr)
}

// enqueue hands m to the writer. It returns false when the connection ended
// or ctx was done first.
func (cn *connection) enqueue(ctx context.Context, m proto.Message) bool {
	select {
	case cn.out <- m:
		return true
	case <-cn.ctx.Done():
		return false
	case <-ctx.Done():
		return false
	}
}

func (cn *connection) readLoop() {
	defer close(cn.readerDone)
	for {
		b, err := cn.conn.ReadFrame(cn.ctx)
		if err != nil {
			if cn.ctx.Err() != nil {
				// Ended by us (stop or fail): stop closes the conn after
				// the writer's last ack.
				return
			}
			cn.fail(err, transport.CloseNormal, "")
			return
		}
		cn.lastRecv.Store(time.Now().UnixNano())
		cn.c.stats.framesIn.Add(1)
		if err := cn.handleFrame(b); err != nil {
			switch {
			case errors.Is(err, transport.ErrBadFrame):
				cn.c.log.Warn("client: bad frame from server", "err", err)
				cn.fail(err, transport.CloseProtocol, "bad frame")
			case cn.ctx.Err() != nil:
			default:
				cn.fail(err, transport.CloseNormal, err.Error())
			}
			return
		}
	}
}

func (cn *connection) writeLoop() {
	defer close(cn.writerDone)
	ping := time.NewTicker(cn.hb)
	defer ping.Stop()
	watch := time.NewTicker(max(cn.hb/4, time.Millisecond))
	defer watch.Stop()
	// Link probes for the WebSocket-to-QUIC fallback (nil channel: off).
	var probeC, returnC <-chan time.Time
	if f := cn.c.fallback; f != nil && cn.conn.Transport() == "ws" {
		probe := time.NewTicker(f.ProbeEvery)
		defer probe.Stop()
		probeC = probe.C
		// The loss window starts now, not at the first probe: a link
		// lossy from the start is left after two probes, not four.
		cn.linkLoss(f, true)
	} else if f.returns() && cn.c.onQUICNow() {
		probe := time.NewTicker(f.ProbeEvery)
		defer probe.Stop()
		returnC = probe.C
	}
	defer cn.stopBurst()
	defer func() {
		cn.ackMu.Lock()
		if cn.ackTimer != nil {
			cn.ackTimer.Stop()
		}
		cn.ackStopped = true
		cn.ackMu.Unlock()
	}()

	if err := cn.sendPing(); err != nil {
		cn.fail(err, transport.CloseNormal, "")
		return
	}
	for {
		select {
		case <-cn.ctx.Done():
			if cn.c.ctx.Err() != nil {
				cn.finalAck()
			}
			return
		case m := <-cn.out:
			if err := cn.write(cn.ctx, m); err != nil {
				cn.fail(err, transport.CloseNormal, "")
				return
			}
		case <-ping.C:
			if err := cn.sendPing(); err != nil {
				cn.fail(err, transport.CloseNormal, "")
				return
			}
		case <-watch.C:
			if !cn.busy.Load() && time.Since(time.Unix(0, cn.lastRecv.Load())) > 2*cn.hb {
				cn.c.log.Warn("client: heartbeat timeout", "interval", cn.hb)
				cn.fail(errHeartbeatTimeout, transport.CloseGoingAway, "heartbeat timeout")
				return
			}
		case <-cn.burstC():
			if err := cn.burstProbe(); err != nil {
				cn.fail(err, transport.CloseNormal, "")
				return
			}
		case <-returnC:
			if cn.checkReturn(cn.c.fallback) {
				cn.fail(errLinkClean, transport.CloseNormal, "returning to WebSocket")
				return
			}
		case <-probeC:
			move, err := cn.probe(cn.c.fallback)
			if err == nil && move {
				err = errLinkDegraded
			}
			if err != nil {
				cn.fail(err, transport.CloseNormal, "moving to QUIC")
				return
			}
		case <-cn.linkCk:
			if !cn.c.quicBlocked() && cn.lossyLink(cn.c.fallback, false) {
				cn.fail(errLinkDegraded, transport.CloseNormal, "moving to QUIC")
				return
			}
		case <-cn.kick:
			if err := cn.flushAcks(cn.ctx); err != nil {
				cn.fail(err, transport.CloseNormal, "")
				return
			}
		}
	}
}

// write encodes and sends one frame.
func (cn *connection) write(ctx context.Context, m proto.Message) error {
	var err error
	cn.buf, err = transport.Encode(cn.buf[:0], m, cn.comp)
	if err != nil {
		return fmt.Errorf("client: encode: %w", err)
	}
	send, isSend := m.(*pb.Send)
	if limit := int(cn.hello.GetMaxFrameBytes()); isSend && limit > 0 && len(cn.buf)-transport.HeaderSize > limit {
		// The server would close the connection (4007) and the resend
		// after the reconnect would do it again: fail the send instead.
		cn.c.resolve(reqKey{cmid: send.GetClientMsgId()}, nil, &Error{Code: pb.ErrorCode_ERROR_CODE_TOO_LARGE,
			Reason: fmt.Sprintf("frame of %d bytes exceeds the server's limit of %d", len(cn.buf)-transport.HeaderSize, limit)})
		return nil
	}
	// Counted before the write: the edge's ack can reach the reader (and
	// Stats().Acked) before WriteFrame returns, and Sent must never lag
	// Acked. A failed write takes it back.
	if isSend {
		cn.c.stats.sent.Add(1)
	}
	if err := cn.conn.WriteFrame(ctx, cn.buf); err != nil {
		if isSend {
			cn.c.stats.sent.Add(^uint64(0))
		}
		return err
	}
	cn.c.stats.framesOut.Add(1)
	return nil
}

func (cn *connection) sendPing() error {
	now := time.Now()
	cn.mu.Lock()
	cn.pingID++
	id := cn.pingID
	cn.pingSent = now
	cn.pongSeen = false
	cn.mu.Unlock()
	return cn.write(cn.ctx, &pb.Ping{Nonce: id, SentTimeMs: now.UnixMilli()})
}

func (cn *connection) onPong(p *pb.Pong) {
	cn.mu.Lock()
	defer cn.mu.Unlock()
	f := cn.c.fallback
	if f != nil && p.GetServerSegments() > 0 {
		// Every Pong's report counts, answered probe or not: each is the
		// edge's count since its previous Pong.
		hole := uint64(0)
		if p.GetServerOutOfOrder() > 0 {
			hole = 1
		}
		now := time.Now()
		cn.srvLoss = append(cn.srvLoss, srvReport{at: now, retrans: uint64(p.GetServerRetransmits()), segs: uint64(p.GetServerSegments()), hole: hole})
		cn.srvLoss = trimReports(cn.srvLoss, now.Add(-f.lossSpan()))
		if cn.conn.Transport() == "ws" {
			select {
			case cn.linkCk <- struct{}{}:
			default:
			}
		}
	}
	if p.GetNonce() != cn.pingID || cn.pingSent.IsZero() {
		return // a burst probe, or an answer overtaken by a newer ping
	}
	cn.pongSeen = true
	rtt := time.Since(cn.pingSent)
	cn.c.stats.rtt.Store(int64(rtt))
	if f != nil {
		if rtt > f.RTTAbove {
			cn.slowProbes++
		} else {
			cn.slowProbes = 0
		}
	}
}

// flushAcks sends a cumulative DeliveryAck for the conversations whose
// position advanced since the last one.
func (cn *connection) flushAcks(ctx context.Context) error {
	pos := cn.c.recv.takeDirty()
	if len(pos) == 0 {
		return nil
	}
	if err := cn.write(ctx, &pb.DeliveryAck{Positions: pos}); err != nil {
		cn.c.recv.remarkDirty(pos)
		return err
	}
	return nil
}

// finalAck flushes acks while the client closes, bounded in time.
func (cn *connection) finalAck() {
	ctx, cancel := context.WithTimeout(context.Background(), finalAckWait)
	defer cancel()
	if err := cn.flushAcks(ctx); err != nil {
		cn.c.log.Debug("client: final ack not sent", "err", err)
	}
}

// kickAcks asks the writer to flush cumulative acks now.
func (cn *connection) kickAcks() {
	select {
	case cn.kick <- struct{}{}:
	default:
	}
}

// armAckTimer schedules an ack flush AckInterval from now.
func (cn *connection) armAckTimer() {
	cn.ackMu.Lock()
	defer cn.ackMu.Unlock()
	if cn.ackStopped {
		return
	}
	if cn.ackTimer == nil {
		cn.ackTimer = time.AfterFunc(cn.c.cfg.AckInterval, cn.kickAcks)
		return
	}
	cn.ackTimer.Reset(cn.c.cfg.AckInterval)
}
