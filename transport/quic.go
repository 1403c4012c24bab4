package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/quic-go/quic-go/qlog"

	"github.com/edgegate/edgegate/fec"
)

// QUICALPN is the TLS application protocol of edgegate over QUIC.
const QUICALPN = "edgegate/1"

// Defaults for QUIC connections.
const (
	// DefaultQUICIdleTimeout closes a QUIC connection on which nothing
	// arrived for this long (QUIC's max_idle_timeout).
	DefaultQUICIdleTimeout = 60 * time.Second
	// quicCloseWait bounds the close handshake (see quicConn.Close).
	quicCloseWait = 2 * time.Second
)

// QUICConfig configures QUIC listeners and dialers (mode quic-stream:
// frames on one reliable bidirectional stream opened by the client).
type QUICConfig struct {
	// TLS is required: the server's certificates, or the client's roots
	// (or a VerifyPeerCertificate that pins the dev certificate). The ALPN
	// is set to QUICALPN.
	TLS *tls.Config
	// MaxFrameBytes limits frames read. Default DefaultMaxFrameBytes.
	MaxFrameBytes int
	// IdleTimeout is QUIC's idle timeout. Default DefaultQUICIdleTimeout.
	IdleTimeout time.Duration
	// KeepAlive makes the dialer send keep-alives this often (QUIC
	// PINGs, which also keep NAT bindings open). Default IdleTimeout/3 for
	// dialers, off for listeners (clients ping).
	KeepAlive time.Duration
	// WriteTimeout bounds one frame write. Default DefaultWSWriteTimeout.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the QUIC handshake and, on the server, the
	// wait for the client's stream. Default DefaultWSHandshakeTimeout.
	HandshakeTimeout time.Duration

	// FEC (mode quic-fec) configures the FEC codec; both ends should use
	// the same K and MaxDatagram. Zero: K 8, adaptive parity 1-6,
	// interleave 2, 10 ms flush, datagrams of at most
	// DefaultFECMaxDatagram bytes.
	FEC fec.Config
	// FECWindow (mode quic-fec) bounds the frames written but not yet
	// read by the peer. Default DefaultFECWindow.
	FECWindow int
	// FECInitialLoss (mode quic-fec) is the loss rate a connection assumes
	// until QUIC has measured the path: parity is sized for it from the
	// first frame. Default 0.05 (clients move to quic-fec because their
	// link is lossy); negative: 0 (frames start bare, without FEC).
	FECInitialLoss float64
	// FECViaQUIC (mode quic-fec, dialer) carries the FEC datagrams inside
	// the QUIC connection as DATAGRAM frames (ALPN QUICFECALPN), subject
	// to QUIC's congestion control, instead of beside it on the same UDP
	// socket (QUICFECDirectALPN, the default; see directPath). For paths
	// whose middleboxes route UDP by QUIC connection id and would drop
	// non-QUIC packets. Listeners accept both.
	FECViaQUIC bool
	// FECStreamAcks (mode quic-fec, direct datagrams, dialer) offers only
	// ALPN QUICFECDirectALPN: acknowledgements travel on the control
	// stream alone, as before QUICFECDirectAcksALPN. For comparison and
	// for tests of older clients; listeners accept both.
	FECStreamAcks bool
	// FECMaxRate (mode quic-fec, direct datagrams) caps the datagram
	// bytes per second one connection sends. Default DefaultFECMaxRate.
	FECMaxRate int
	// FECCounters, if set, accumulates the FEC counters of every quic-fec
	// connection made with this config.
	FECCounters *FECCounters
}

// fecCounters returns FECCounters, or fresh counters when it is nil (so
// the caller's connections share one set).
func (c QUICConfig) fecCounters() *FECCounters {
	if c.FECCounters == nil {
		return new(FECCounters)
	}
	return c.FECCounters
}

func (c QUICConfig) quic(dialer bool) *quic.Config {
	idle := orDefault(c.IdleTimeout, DefaultQUICIdleTimeout)
	qc := &quic.Config{
		MaxIdleTimeout:       idle,
		HandshakeIdleTimeout: orDefault(c.HandshakeTimeout, DefaultWSHandshakeTimeout),
		// One stream per connection: refuse more.
		MaxIncomingStreams:    1,
		MaxIncomingUniStreams: -1,
		// quic-fec carries frames in datagrams; listeners accept both modes.
		EnableDatagrams: true,
		// QLOGDIR=dir writes one qlog file per connection there (quic-go's
		// standard tracer; nothing is traced when it is unset). It is how
		// packets on an encrypted connection are looked at when debugging
		// latency or overhead.
		Tracer: qlog.DefaultConnectionTracer,
	}
	if dialer {
		qc.KeepAlivePeriod = orDefault(c.KeepAlive, idle/3)
	}
	return qc
}

func (c QUICConfig) tls(protos ...string) (*tls.Config, error) {
	if c.TLS == nil {
		return nil, errors.New("transport: QUICConfig.TLS is required")
	}
	t := c.TLS.Clone()
	t.NextProtos = protos
	t.MinVersion = tls.VersionTLS13
	return t, nil
}

// QUICListener accepts QUIC connections.
type QUICListener struct {
	tr  *quic.Transport
	udp *net.UDPConn
	ln  *quic.Listener
	cfg QUICConfig

	mu    sync.Mutex
	conns map[*quic.Conn]struct{} // open, for Close

	mux directMux      // quic-fec direct datagrams by connection id
	wg  sync.WaitGroup // the direct datagram reader
}

// ListenQUIC listens on the UDP address addr.
func ListenQUIC(addr string, cfg QUICConfig) (*QUICListener, error) {
	tc, err := cfg.tls(QUICALPN, QUICFECDirectAcksALPN, QUICFECDirectALPN, QUICFECALPN)
	if err != nil {
		return nil, err
	}
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, fmt.Errorf("transport: quic listen %s: %w", addr, err)
	}
	udp, err := net.ListenUDP("udp", ua)
	if err != nil {
		return nil, fmt.Errorf("transport: quic listen %s: %w", addr, err)
	}
	tr := &quic.Transport{Conn: udp}
	ln, err := tr.Listen(tc, cfg.quic(false))
	if err != nil {
		_ = tr.Close()
		_ = udp.Close()
		return nil, fmt.Errorf("transport: quic listen %s: %w", addr, err)
	}
	cfg.FECCounters = cfg.fecCounters()
	l := &QUICListener{tr: tr, udp: udp, ln: ln, cfg: cfg, conns: make(map[*quic.Conn]struct{})}
	l.mux.unknown = &cfg.FECCounters.DirectDropped
	l.wg.Go(func() { serveDirect(context.Background(), tr, &l.mux) })
	return l, nil
}

// Accept returns the next connection once its handshake is done. The
// client's stream is accepted by the first ReadFrame, so one slow client
// never holds up the accept loop.
func (l *QUICListener) Accept(ctx context.Context) (Conn, error) {
	qc, err := l.ln.Accept(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	l.conns[qc] = struct{}{}
	l.mu.Unlock()
	context.AfterFunc(qc.Context(), func() {
		l.mu.Lock()
		delete(l.conns, qc)
		l.mu.Unlock()
	})
	switch qc.ConnectionState().TLS.NegotiatedProtocol {
	case QUICFECDirectAcksALPN, QUICFECDirectALPN:
		dp, err := newDirectPath(qc, l.tr, true, &l.cfg.FECCounters.DirectDropped)
		if err == nil && !l.mux.add(dp) {
			err = errors.New("transport: quic-fec: direct connection id in use")
		}
		if err != nil {
			_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "fec setup")
			return nil, err
		}
		context.AfterFunc(qc.Context(), func() { l.mux.remove(dp) })
		c, err := newFECConn(qc, nil, l.cfg, dp)
		if err != nil {
			_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "fec setup")
			return nil, err
		}
		return c, nil
	case QUICFECALPN:
		c, err := newFECConn(qc, nil, l.cfg, nil)
		if err != nil {
			_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "fec setup")
			return nil, err
		}
		return c, nil
	}
	return newQUICConn(qc, nil, l.cfg), nil
}

// Addr is the listener's UDP address.
func (l *QUICListener) Addr() net.Addr { return l.ln.Addr() }

// Close stops accepting, waits (at most quicCloseWait) for connections to
// end on their own, closes the rest with CloseGoingAway (no close
// handshake: drain the sessions first, as the edge's Shutdown does) and
// closes the UDP socket.
func (l *QUICListener) Close() error {
	err := l.ln.Close()
	// Close handshakes already under way (a drained session's redirect
	// still in flight) get quicCloseWait to finish.
	deadline := time.Now().Add(quicCloseWait)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		n := len(l.conns)
		l.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.mu.Lock()
	open := make([]*quic.Conn, 0, len(l.conns))
	for qc := range l.conns {
		open = append(open, qc)
	}
	l.mu.Unlock()
	for _, qc := range open {
		_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseGoingAway), "shutdown")
	}
	_ = l.tr.Close()
	_ = l.udp.Close()
	l.wg.Wait()
	return err
}

// DialQUIC connects to a QUIC listener at addr (host:port) in mode
// quic-stream and opens the frame stream.
func DialQUIC(ctx context.Context, addr string, cfg QUICConfig) (Conn, error) {
	return dialQUIC(ctx, addr, cfg, false)
}

// DialQUICFEC connects to a QUIC listener at addr (host:port) in mode
// quic-fec: frames in datagrams protected by FEC, a control stream for
// acknowledgements and retransmissions (see fecConn).
func DialQUICFEC(ctx context.Context, addr string, cfg QUICConfig) (Conn, error) {
	return dialQUIC(ctx, addr, cfg, true)
}

func dialQUIC(ctx context.Context, addr string, cfg QUICConfig, withFEC bool) (Conn, error) {
	protos := []string{QUICALPN}
	direct := withFEC && !cfg.FECViaQUIC
	cfg.FECCounters = cfg.fecCounters()
	switch {
	case direct && cfg.FECStreamAcks:
		protos = []string{QUICFECDirectALPN}
	case direct:
		// An edge older than acks in datagrams picks the second.
		protos = []string{QUICFECDirectAcksALPN, QUICFECDirectALPN}
	case withFEC:
		protos = []string{QUICFECALPN}
	}
	tc, err := cfg.tls(protos...)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDefault(cfg.HandshakeTimeout, DefaultWSHandshakeTimeout))
	defer cancel()
	var (
		qc *quic.Conn
		tr *quic.Transport
	)
	if direct {
		// A socket of our own: its non-QUIC packets are this
		// connection's direct datagrams.
		qc, tr, err = dialOwnSocket(ctx, addr, tc, cfg.quic(true))
	} else {
		qc, err = quic.DialAddr(ctx, addr, tc, cfg.quic(true))
	}
	if err != nil {
		return nil, fmt.Errorf("transport: quic dial %s: %w", addr, err)
	}
	st, err := qc.OpenStreamSync(ctx)
	if err != nil {
		_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "no stream")
		return nil, fmt.Errorf("transport: quic dial %s: open stream: %w", addr, err)
	}
	if !withFEC {
		return newQUICConn(qc, st, cfg), nil
	}
	var dp *directPath
	if direct {
		if dp, err = newDirectPath(qc, tr, false, &cfg.FECCounters.DirectDropped); err != nil {
			_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "fec setup")
			return nil, err
		}
		m := directMux{unknown: dp.dropped}
		m.add(dp)
		go serveDirect(qc.Context(), tr, &m)
	} else if !qc.ConnectionState().SupportsDatagrams.Remote {
		_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseProtocol), "no datagrams")
		return nil, fmt.Errorf("transport: quic dial %s: the server does not accept datagrams", addr)
	}
	c, err := newFECConn(qc, st, cfg, dp)
	if err != nil {
		_ = qc.CloseWithError(quic.ApplicationErrorCode(CloseInternal), "fec setup")
		return nil, err
	}
	return c, nil
}

// dialOwnSocket dials addr from a UDP socket of the connection's own,
// closed when the connection ends.
func dialOwnSocket(ctx context.Context, addr string, tc *tls.Config, qcfg *quic.Config) (*quic.Conn, *quic.Transport, error) {
	ra, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, nil, err
	}
	udp, err := net.ListenUDP("udp", nil)
	if err != nil {
		return nil, nil, err
	}
	tr := &quic.Transport{Conn: udp}
	qc, err := tr.Dial(ctx, ra, tc, qcfg)
	if err != nil {
		_ = tr.Close()
		_ = udp.Close()
		return nil, nil, err
	}
	context.AfterFunc(qc.Context(), func() {
		_ = tr.Close()
		_ = udp.Close()
	})
	return qc, tr, nil
}

// quicConn is a Conn over one bidirectional QUIC stream.
//
// Closing: CONNECTION_CLOSE discards stream data not yet delivered, so a
// frame written just before Close (a Redirect before a drain) could be
// lost. Close therefore sends FIN after the queued frames and only closes
// the connection, with its code, when the peer has read everything and
// answered with its own FIN (seen by this side's reader), or after
// quicCloseWait. A reader that meets the peer's FIN answers with FIN and
// waits (as long at most) for the peer's CONNECTION_CLOSE to learn the
// code: the same handshake as WebSocket's close frames.
type quicConn struct {
	qc    *quic.Conn
	cfg   QUICConfig
	limit Limits

	streamOnce sync.Once
	streamErr  error
	stream     *quic.Stream
	streamCh   chan struct{} // closed once stream or streamErr is set
	rmu        sync.Mutex    // one reader at a time: ReadFrame, or Close's drain
	br         *bufio.Reader
	rbuf       []byte

	wmu       sync.Mutex
	closing   atomic.Bool
	closeOnce sync.Once
	peerFIN   chan struct{}
	finOnce   sync.Once

	framesIn, framesOut, bytesIn, bytesOut atomic.Uint64
}

func newQUICConn(qc *quic.Conn, st *quic.Stream, cfg QUICConfig) *quicConn {
	c := &quicConn{qc: qc, cfg: cfg, limit: Limits{MaxFrameBytes: cfg.MaxFrameBytes},
		streamCh: make(chan struct{}), peerFIN: make(chan struct{})}
	if st != nil {
		c.setStream(st, nil)
	}
	return c
}

func (c *quicConn) setStream(st *quic.Stream, err error) {
	c.streamOnce.Do(func() {
		c.stream, c.streamErr = st, err
		if st != nil {
			c.br = bufio.NewReaderSize(st, 4096)
		}
		close(c.streamCh)
	})
}

// getStream returns the stream, accepting the client's on the server.
func (c *quicConn) getStream(ctx context.Context) (*quic.Stream, error) {
	select {
	case <-c.streamCh:
		return c.stream, c.streamErr
	default:
	}
	actx, cancel := context.WithTimeout(ctx, orDefault(c.cfg.HandshakeTimeout, DefaultWSHandshakeTimeout))
	defer cancel()
	st, err := c.qc.AcceptStream(actx)
	if err != nil {
		err = fmt.Errorf("transport: quic: no stream from the client: %w", c.mapErr(err))
	}
	c.setStream(st, err)
	<-c.streamCh
	return c.stream, c.streamErr
}

// ReadFrame implements Conn.
func (c *quicConn) ReadFrame(ctx context.Context) ([]byte, error) {
	st, err := c.getStream(ctx)
	if err != nil {
		return nil, err
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = st.SetReadDeadline(aLongTimeAgo) })
		defer func() {
			if !stop() {
				_ = st.SetReadDeadline(time.Time{})
			}
		}()
	}
	for {
		_, buf, err := ReadFrame(c.br, c.rbuf, c.limit)
		c.rbuf = buf[:0]
		if err != nil {
			return nil, c.readErr(ctx, st, err)
		}
		if c.closing.Load() {
			continue // closed locally: drain until the peer's FIN
		}
		c.framesIn.Add(1)
		c.bytesIn.Add(uint64(len(buf)))
		return buf, nil
	}
}

func (c *quicConn) readErr(ctx context.Context, st *quic.Stream, err error) error {
	if errors.Is(err, ErrBadFrame) || errors.Is(err, ErrTooLarge) {
		return err
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		c.finOnce.Do(func() { close(c.peerFIN) })
		if c.closing.Load() {
			return errClosed
		}
		// The peer is closing: answer with our FIN and wait for its
		// CONNECTION_CLOSE, which carries the code.
		_ = st.Close()
		t := time.NewTimer(quicCloseWait)
		defer t.Stop()
		select {
		case <-c.qc.Context().Done():
			return c.mapErr(context.Cause(c.qc.Context()))
		case <-t.C:
			return fmt.Errorf("transport: connection lost: %w", io.ErrUnexpectedEOF)
		}
	}
	if os.IsTimeout(err) && ctx.Err() != nil {
		return fmt.Errorf("transport: read: %w", ctx.Err())
	}
	return c.mapErr(err)
}

// mapErr turns quic-go errors into the package's.
func (c *quicConn) mapErr(err error) error { return mapQUICErr(err, c.closing.Load(), "quic") }

// mapQUICErr turns quic-go errors into the package's: the peer's close
// code, errClosed after a local Close, ErrIdleTimeout, or the error
// wrapped with the mode's name.
func mapQUICErr(err error, closing bool, mode string) error {
	var ae *quic.ApplicationError
	var idle *quic.IdleTimeoutError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ae) && ae.Remote:
		return &CloseError{Code: CloseCode(ae.ErrorCode), Reason: ae.ErrorMessage}
	case closing:
		return errClosed
	case errors.As(err, &idle):
		return fmt.Errorf("%w: QUIC idle timeout", ErrIdleTimeout)
	}
	return fmt.Errorf("transport: %s: %w", mode, err)
}

// WriteFrame implements Conn.
func (c *quicConn) WriteFrame(ctx context.Context, frame []byte) error {
	if c.closing.Load() {
		return errClosed
	}
	st, err := c.getStream(ctx)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	deadline := time.Now().Add(orDefault(c.cfg.WriteTimeout, DefaultWSWriteTimeout))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = st.SetWriteDeadline(deadline)
	if _, err := st.Write(frame); err != nil {
		if c.closing.Load() {
			return errClosed
		}
		if os.IsTimeout(err) {
			return fmt.Errorf("transport: write timeout (%v): %w", err, os.ErrDeadlineExceeded)
		}
		return c.mapErr(err)
	}
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(len(frame)))
	return nil
}

// WriteShared implements Conn (QUIC has nothing to prepare).
func (c *quicConn) WriteShared(ctx context.Context, f *SharedFrame) error {
	return c.WriteFrame(ctx, f.Bytes())
}

// Close implements Conn: FIN after the queued frames, then CONNECTION_CLOSE
// with code once the peer answered (or after quicCloseWait), in the
// background. It returns at once.
func (c *quicConn) Close(code CloseCode, reason string) error {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.wmu.Lock() // after an in-flight write
		select {
		case <-c.streamCh:
			if c.stream != nil {
				_ = c.stream.Close()
			}
		default:
			c.setStream(nil, errClosed)
		}
		c.wmu.Unlock()
		go func() {
			c.awaitPeerFIN()
			_ = c.qc.CloseWithError(quic.ApplicationErrorCode(sendableCode(code)), truncateReason(reason))
		}()
	})
	return nil
}

// awaitPeerFIN returns when the peer has answered our FIN with its own (it
// read everything we sent), the connection ended, or quicCloseWait passed.
// When no ReadFrame is running (or the one running returns, e.g. on a
// cancelled context) it reads, and discards, the stream itself.
func (c *quicConn) awaitPeerFIN() {
	deadline := time.Now().Add(quicCloseWait)
	poll := time.NewTicker(10 * time.Millisecond)
	defer poll.Stop()
	for {
		if c.rmu.TryLock() {
			if c.stream != nil {
				_ = c.stream.SetReadDeadline(deadline)
				_, _ = io.Copy(io.Discard, c.br)
			}
			c.rmu.Unlock()
			return
		}
		select {
		case <-c.peerFIN:
			return
		case <-c.qc.Context().Done():
			return
		case <-poll.C:
			if time.Now().After(deadline) {
				return
			}
		}
	}
}

// Stats implements Conn: QUIC's own RTT estimate and lost packets.
func (c *quicConn) Stats() Stats {
	qs := c.qc.ConnectionStats()
	return Stats{
		FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		RTT: qs.SmoothedRTT, Retransmits: qs.PacketsLost,
	}
}

// RemoteAddr implements Conn.
func (c *quicConn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// Transport implements Conn.
func (c *quicConn) Transport() string { return "quic-stream" }
