package transport

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quic-go/quic-go"
	"golang.org/x/time/rate"

	"github.com/edgegate/edgegate/fec"
)

// QUICFECALPN is the TLS application protocol of mode quic-fec: the
// listener serves both modes and tells them apart by ALPN.
const QUICFECALPN = "edgegate-fec/1"

// Defaults of mode quic-fec.
const (
	// fecSpacing separates datagrams: quic-go packs datagrams queued
	// together into one QUIC packet, and the loss of that packet would be
	// a burst (several data packets of a group, or its whole parity) that
	// FEC sized for independent losses cannot absorb.
	fecSpacing = time.Millisecond
	// DefaultFECMaxDatagram keeps a datagram (FEC header included) inside
	// the DATAGRAM frame of QUIC's smallest packet (1280 bytes on IPv6
	// paths, minus QUIC's short header, frame header and AEAD tag).
	DefaultFECMaxDatagram = 1150
	// DefaultFECMaxRate caps the bytes per second one quic-fec
	// connection sends as direct datagrams (outside QUIC's congestion
	// control): 2 MiB/s, a hundred times a busy chat connection.
	DefaultFECMaxRate = 2 << 20
	// DefaultFECWindow bounds the frames sent but not yet read by the
	// peer's application: WriteFrame blocks beyond it (flow control).
	DefaultFECWindow = 4096
	// fecTick is the timer loop's polling period in the rare case it
	// cannot name its next deadline (see sender.dueAt); otherwise the loop
	// sleeps until the next flush, expiry, ack or retransmission is due
	// (fecConn.nextWake), and idle connections do not wake at all.
	fecTick = 5 * time.Millisecond
	// fecMinWake is the least sleep of the timer loop: a deadline already
	// past does not make it spin.
	fecMinWake = 250 * time.Microsecond
	// fecScaleEvery is how often the loop rescales the FEC timers to the
	// path's round trip (fecConn.scaleToRTT), when it runs anyway.
	fecScaleEvery = 100 * time.Millisecond
	// fecAckEvery is how often the receiver reports its positions. Acks
	// only free the sender's buffer and catch a lost tail; every packet
	// counts against QUIC's congestion window, which shrinks on a lossy
	// link, so they are sparse.
	fecAckEvery = 100 * time.Millisecond
	// fecStreamAckEvery: with acks in datagrams (QUICFECDirectAcksALPN),
	// positions acknowledged only in datagrams are repeated on the stream
	// once the connection goes quiet, at most this often (a datagram may
	// be lost; a stream ack may not).
	fecStreamAckEvery = 500 * time.Millisecond
	// fecLossEvery is how often the sender samples QUIC's loss counters
	// to adapt parity (see sender.observeLoss), given at least
	// fecLossMinPackets sent since the previous sample.
	fecLossEvery   = 250 * time.Millisecond
	fecInitialLoss = 0.05
	// fecBareBelow: below this smoothed loss rate frames go as bare
	// datagrams, without FEC (a one-packet group would need one full copy
	// as parity); the rare loss is repaired by a NACK.
	fecBareBelow = 0.002
	// fecGapSlack is how long past the group timeout a missing frame
	// waits before the receiver NACKs it by seq.
	fecGapSlack       = 20 * time.Millisecond
	fecLossMinPackets = 8
	// fecMinRTO is the least time before an unacknowledged frame is
	// retransmitted on the stream without a NACK (tail loss).
	fecMinRTO = 150 * time.Millisecond
	// fecMaxFlush caps the FEC flush interval scaled to the round trip
	// (RTT / fecFlushRTTDivisor, see fecConn.scaleToRTT).
	fecMaxFlush        = 60 * time.Millisecond
	fecFlushRTTDivisor = 8
	// fecMinBackstop is the least timeout of a frame the peer should have
	// NACKed (see sender.due).
	fecMinBackstop = time.Second
)

// defaultFECConfig is the FEC codec edgegate uses when QUICConfig.FEC is
// zero: k=8 data packets per group; adaptive parity from 1 to 4 (more
// packets cost more than they save: datagrams count against QUIC's
// congestion window, which a lossy path keeps small); a flush timer of at
// least 5 ms, scaled to the RTT (chat is sparse: a lost message waits
// about that long for its parity); the parity of such sparse groups
// spread one flush interval apart (at least 5 ms) against burst loss; no
// interleaving (the pacer already keeps consecutive datagrams out of one
// QUIC packet); and a group timeout of at least 80 ms before the
// receiver NACKs.
func defaultFECConfig() fec.Config {
	return fec.Config{Interleave: 1, MaxM: 4, FlushInterval: 5 * time.Millisecond, ParitySpread: 5 * time.Millisecond, GroupTimeout: 80 * time.Millisecond, MaxDatagram: DefaultFECMaxDatagram}
}

// FECCounters are totals over all quic-fec connections of a listener or
// dialer (QUICConfig.FECCounters); the edge exports them as metrics.
type FECCounters struct {
	// Recovered counts data packets FEC rebuilt from parity.
	Recovered atomic.Uint64
	// Retransmitted counts frames sent again on the stream because FEC
	// could not recover them (NACK) or no acknowledgement came (timeout).
	Retransmitted atomic.Uint64
	// Unrecoverable counts the data packet ids this end's decoders NACKed.
	// It over-counts: for a group flushed early whose parity was all lost
	// the decoder names indexes up to the planned k, for a group wholly
	// lost all K, sent or not (see fec.Decoder.Expire). NackedData counts
	// only data packets really sent.
	Unrecoverable atomic.Uint64
	// DataPackets counts frames sent as FEC data packets (parity, bare
	// datagrams and stream frames left out).
	DataPackets atomic.Uint64
	// NackedData counts the packets of DataPackets that the peer could not
	// rebuild and NACKed (by packet id or by seq), each once; NACKs naming
	// packets never sent count nothing. NackedData / DataPackets is the
	// residual loss FEC leaves to retransmission; a lost tail that no NACK
	// reports (resent on a timeout, see Retransmitted) is not in it.
	NackedData atomic.Uint64
	// Lost counts packets (data and parity) that did not arrive, recovered
	// or not: from packet numbers on the direct path, as the FEC decoder
	// saw them inside QUIC (which over-counts groups whose parity was all
	// lost and does not see bare datagrams).
	Lost atomic.Uint64
	// DatagramBytes counts datagram bytes sent (FEC headers and parity
	// included); StreamFrames counts frames sent on the stream because
	// they did not fit a datagram, or went out before a direct client
	// heard from the server (see fecConn.peerReady).
	DatagramBytes, StreamFrames atomic.Uint64
	// BareFrames counts frames sent as datagrams without FEC (the path
	// looked clean).
	BareFrames atomic.Uint64
	// Duplicates counts frames that arrived more than once (FEC and a
	// retransmission both delivered them) and were dropped.
	Duplicates atomic.Uint64
	// StreamAcks counts acknowledgements sent on the control stream;
	// DatagramAcks those that rode in a datagram going out anyway
	// (QUICFECDirectAcksALPN).
	StreamAcks, DatagramAcks atomic.Uint64
	// DirectDropped counts direct datagrams (see directPath) dropped on
	// arrival: not authenticating, repeated, for no open connection, or
	// finding the connection's queue full.
	DirectDropped atomic.Uint64
}

// fecConn is a Conn in mode quic-fec: frames travel as QUIC datagrams
// (RFC 9221) protected by the fec package, on a path without
// retransmission delay; a reliable control stream carries
// acknowledgements, NACKs of what FEC could not rebuild, the
// retransmissions they trigger, and frames too large for a datagram.
//
// Each frame gets a sequence number; the receiver puts frames back in
// order and drops repeats, so ReadFrame returns every frame exactly once
// and in the order written, like the other modes. A frame lost beyond
// FEC's reach holds up the frames after it until its retransmission
// arrives (NACK after fec GroupTimeout, or a timeout for a lost tail):
// the session layer above needs frames in order (per-conversation
// sequences, acks after sends), so reordering is not exposed.
type fecConn struct {
	qc       *quic.Conn
	cfg      QUICConfig
	fcfg     fec.Config
	counters *FECCounters
	window   uint64
	maxBody  int
	// minFlush and minGroupTimeout are the codec's configured flush
	// interval and group timeout: the floors of scaleToRTT.
	minFlush, minGroupTimeout, minSpread time.Duration

	ready    chan struct{} // closed once the stream is known (st or readyErr)
	st       *quic.Stream
	readyErr error

	cmu  sync.Mutex // writes on the control stream
	cbuf []byte

	snd sender
	rcv receiver

	// direct, if set, carries the FEC datagrams beside QUIC (see
	// directPath); nil: inside QUIC as DATAGRAM frames. limit caps its
	// rate.
	direct *directPath
	limit  *rate.Limiter
	// ackInDgrams: acknowledgements may ride in direct datagrams (ALPN
	// QUICFECDirectAcksALPN), both ways.
	ackInDgrams bool
	// lastRcvd, lastHighest: the peer's previous loss report (lossMu: it
	// comes on the stream or in a datagram).
	lossMu                sync.Mutex
	lastRcvd, lastHighest uint64
	// peerReady is closed once the peer can take direct datagrams: at
	// once on the server (its path is registered before the connection
	// exists), on the client when the server's first control record
	// arrives. Until then the client's frames go on the stream: a direct
	// packet that reached the server before Accept registered its path
	// was dropped, costing a retransmission and, worse, counting as loss,
	// which kept every new connection's parity up for hundreds of packets.
	peerReady     chan struct{}
	peerReadyOnce sync.Once

	kick     chan struct{} // wakes the timer loop
	dataQ    chan outDgram // data datagrams for the pacer (sent first)
	parity   chan outDgram // parity datagrams for the pacer
	done     chan struct{} // closed when every goroutine has stopped
	wg       sync.WaitGroup
	closing  atomic.Bool
	closed   chan struct{} // closed by Close
	closeMu  sync.Once
	peerFIN  chan struct{}
	finOnce  sync.Once
	termOnce sync.Once
	termErr  error         // why the connection ended, set once
	term     chan struct{} // closed when termErr is set
	wakeups  atomic.Uint64 // timer loop runs (tests: sparse traffic must not poll)

	framesIn, framesOut, bytesIn, bytesOut atomic.Uint64
}

func newFECConn(qc *quic.Conn, st *quic.Stream, cfg QUICConfig, direct *directPath) (*fecConn, error) {
	fcfg := cfg.FEC
	if fcfg == (fec.Config{}) {
		fcfg = defaultFECConfig()
	}
	enc, err := fec.NewEncoder(fcfg)
	if err != nil {
		return nil, fmt.Errorf("transport: quic-fec: %w", err)
	}
	dec, err := fec.NewDecoder(fcfg)
	if err != nil {
		return nil, fmt.Errorf("transport: quic-fec: %w", err)
	}
	counters := cfg.fecCounters()
	maxFrame := orDefault(cfg.MaxFrameBytes, DefaultMaxFrameBytes)
	c := &fecConn{
		qc: qc, cfg: cfg, fcfg: fcfg, counters: counters,
		window:  uint64(orDefault(cfg.FECWindow, DefaultFECWindow)),
		maxBody: maxFrame + 10,
		ready:   make(chan struct{}), kick: make(chan struct{}, 1), dataQ: make(chan outDgram, 256), parity: make(chan outDgram, 1024), done: make(chan struct{}),
		peerFIN: make(chan struct{}), term: make(chan struct{}), closed: make(chan struct{}),
		direct: direct, peerReady: make(chan struct{}),
	}
	c.ackInDgrams = direct != nil && qc.ConnectionState().TLS.NegotiatedProtocol == QUICFECDirectAcksALPN
	if direct == nil || st == nil {
		c.markPeerReady() // in-QUIC datagrams wait in quic-go's queue; a server's path is registered
	}
	if direct != nil {
		r := orDefault(cfg.FECMaxRate, DefaultFECMaxRate)
		c.limit = rate.NewLimiter(rate.Limit(r), max(r/20, 2*fcfg.MaxDatagram+directOverhead))
	}
	initialLoss := cfg.FECInitialLoss
	if initialLoss == 0 {
		initialLoss = fecInitialLoss
	}
	c.snd.init(enc, fec.Limits{MaxDatagram: fcfg.MaxDatagram}, initialLoss, counters)
	c.rcv.init(dec, fcfg.MaxPayload(), &counters.Duplicates)
	c.minFlush, c.minGroupTimeout, c.minSpread = enc.FlushInterval(), dec.GroupTimeout(), enc.ParitySpread()
	c.wg.Add(1)
	go c.run(st)
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
	return c, nil
}

// run gets the control stream (the client opened it; the server accepts
// it), then starts the readers and the timer loop.
func (c *fecConn) run(st *quic.Stream) {
	defer c.wg.Done()
	dialed := st != nil
	if !dialed {
		ctx, cancel := context.WithTimeout(c.qc.Context(), orDefault(c.cfg.HandshakeTimeout, DefaultWSHandshakeTimeout))
		var err error
		st, err = c.qc.AcceptStream(ctx)
		cancel()
		if err != nil {
			c.readyErr = fmt.Errorf("transport: quic-fec: no stream from the client: %w", c.mapErr(err))
			close(c.ready)
			c.terminate(c.readyErr)
			_ = c.qc.CloseWithError(quic.ApplicationErrorCode(CloseProtocol), "no stream")
			return
		}
	}
	c.st = st
	close(c.ready)
	// A stream exists for the peer only once bytes flow on it: the
	// client's first record (an empty ack) lets the server accept it; the
	// server's answers it, telling a direct client that its datagrams
	// are now routed (peerReady).
	if err := c.writeControl(func(b []byte) []byte { return appendCtlAck(b, 0, 0, 0) }); err != nil {
		c.terminate(err)
	}
	c.wg.Add(4)
	go c.pace()
	go c.readControl()
	go c.readDatagrams()
	go c.timerLoop()
}

// stream waits for the control stream.
func (c *fecConn) stream(ctx context.Context) (*quic.Stream, error) {
	select {
	case <-c.ready:
		return c.st, c.readyErr
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// terminate records why the connection ended (first cause wins) and wakes
// the reader and blocked writers.
func (c *fecConn) terminate(err error) {
	c.termOnce.Do(func() {
		c.termErr = err
		close(c.term)
	})
	c.rcv.wake()
	c.snd.wake()
}

// markPeerReady records that direct datagrams reach the peer.
func (c *fecConn) markPeerReady() {
	c.peerReadyOnce.Do(func() { close(c.peerReady) })
}

// wakeTimer makes the timer loop run now.
func (c *fecConn) wakeTimer() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// writeControl writes records on the control stream (one writer at a time).
func (c *fecConn) writeControl(build func([]byte) []byte) error {
	return c.writeControlBy(time.Now().Add(orDefault(c.cfg.WriteTimeout, DefaultWSWriteTimeout)), false, build)
}

// writeControlBy writes records on the control stream with a write
// deadline, then, with fin, closes our side of the stream (FIN) right
// after them.
func (c *fecConn) writeControlBy(deadline time.Time, fin bool, build func([]byte) []byte) error {
	st, err := c.stream(context.Background())
	if err != nil {
		return err
	}
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if fin {
		defer st.Close()
	}
	c.cbuf = build(c.cbuf[:0])
	_ = st.SetWriteDeadline(deadline)
	if _, err := st.Write(c.cbuf); err != nil {
		if os.IsTimeout(err) {
			return fmt.Errorf("transport: write timeout (%v): %w", err, os.ErrDeadlineExceeded)
		}
		return c.mapErr(err)
	}
	return nil
}

// sendDatagram sends one marshalled FEC packet; a datagram QUIC refuses as
// too large (the path's packet size shrank) is reported so the caller can
// use the stream instead.
func (c *fecConn) sendDatagram(b []byte) error {
	if c.direct != nil {
		if err := c.limit.WaitN(c.qc.Context(), len(b)+directOverhead); err != nil {
			return err
		}
		if _, err := c.direct.send(b); err != nil {
			if errors.Is(err, errPacketNumbersExhausted) {
				c.terminate(err)
				_ = c.qc.CloseWithError(quic.ApplicationErrorCode(CloseGoingAway), "reconnect")
			}
			return err
		}
	} else if err := c.qc.SendDatagram(b); err != nil {
		return err
	}
	c.counters.DatagramBytes.Add(uint64(len(b)))
	return nil
}

// WriteFrame implements Conn: the frame gets the next sequence number and
// goes out as a datagram at once (its parity follows when the group fills
// or its flush timer fires), or on the stream when it is too large.
func (c *fecConn) WriteFrame(ctx context.Context, frame []byte) error {
	if c.closing.Load() {
		return errClosed
	}
	if _, err := c.stream(ctx); err != nil {
		return err
	}
	deadline := time.Now().Add(orDefault(c.cfg.WriteTimeout, DefaultWSWriteTimeout))
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if err := c.snd.awaitWindow(ctx, deadline, c.window, c.term, c.closed); err != nil {
		if c.closing.Load() {
			return errClosed
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return fmt.Errorf("transport: write timeout (peer not reading): %w", os.ErrDeadlineExceeded)
		}
		if err == errTerminated {
			return c.termErr
		}
		return err
	}
	maxPayload := c.rcv.maxPayload
	select {
	case <-c.peerReady:
	default:
		maxPayload = 0 // the server may not route our datagrams yet: the stream takes it
	}
	seq, data, dgrams, viaStream := c.snd.add(frame, time.Now(), maxPayload)
	if !viaStream && dgrams[0][0] == bareTag {
		c.counters.BareFrames.Add(1)
	}
	if viaStream {
		c.counters.StreamFrames.Add(1)
		if err := c.writeControl(func(b []byte) []byte { return appendCtlFrame(b, seq, frame) }); err != nil {
			return err
		}
	} else {
		select {
		case c.dataQ <- outDgram{b: dgrams[0], seq: seq, frame: data}:
		case <-c.term:
			return c.endErr()
		case <-ctx.Done():
			// The frame has its seq: it must reach the peer, or the
			// stream of frames stops there. The stream takes it.
			c.counters.StreamFrames.Add(1)
			if err := c.writeControl(func(b []byte) []byte { return appendCtlFrame(b, seq, frame) }); err != nil {
				return err
			}
		}
		c.queueParity(dgrams[1:])
	}
	c.framesOut.Add(1)
	c.bytesOut.Add(uint64(len(frame)))
	c.wakeTimer()
	return nil
}

// WriteShared implements Conn (nothing to prepare).
func (c *fecConn) WriteShared(ctx context.Context, f *SharedFrame) error {
	return c.WriteFrame(ctx, f.Bytes())
}

// ReadFrame implements Conn: the next frame in sequence order.
func (c *fecConn) ReadFrame(ctx context.Context) ([]byte, error) {
	for {
		f, kick, ok := c.rcv.next(c.window)
		if ok {
			if c.closing.Load() {
				return nil, errClosed
			}
			if kick {
				c.wakeTimer() // an ack is owed (or due early, to open the peer's window)
			}
			c.framesIn.Add(1)
			c.bytesIn.Add(uint64(len(f)))
			return f, nil
		}
		if c.closing.Load() {
			return nil, errClosed
		}
		select {
		case <-c.rcv.notify:
		case <-c.term:
			if c.rcv.pending() {
				continue // frames that arrived before the end go first
			}
			return nil, c.endErr()
		case <-c.peerFIN:
			if c.rcv.pending() {
				continue
			}
			return nil, c.answerClose()
		case <-ctx.Done():
			return nil, fmt.Errorf("transport: read: %w", ctx.Err())
		}
	}
}

// answerClose handles the peer's FIN (it closed after we acknowledged all
// its frames): answer with ours and wait for its CONNECTION_CLOSE, which
// carries the close code.
func (c *fecConn) answerClose() error {
	c.cmu.Lock()
	_ = c.st.Close()
	c.cmu.Unlock()
	t := time.NewTimer(quicCloseWait)
	defer t.Stop()
	select {
	case <-c.qc.Context().Done():
		return c.mapErr(context.Cause(c.qc.Context()))
	case <-t.C:
		return fmt.Errorf("transport: connection lost: %w", net.ErrClosed)
	}
}

// endErr is what ReadFrame returns once the connection ended.
func (c *fecConn) endErr() error {
	if c.closing.Load() {
		return errClosed
	}
	return c.termErr
}

// Close implements Conn. It returns at once; in the background it waits
// (at most quicCloseWait) until the peer acknowledged every frame written,
// so a Redirect written just before Close arrives, then sends FIN, waits
// for the peer's FIN and closes the connection with code.
func (c *fecConn) Close(code CloseCode, reason string) error {
	c.closeMu.Do(func() {
		c.closing.Store(true)
		close(c.closed)
		c.rcv.wake()
		go func() {
			deadline := time.Now().Add(quicCloseWait)
			var hasStream bool
			select {
			case <-c.ready:
				hasStream = c.readyErr == nil
			case <-time.After(quicCloseWait):
			}
			if hasStream {
				c.snd.awaitAllAcked(deadline, c.term)
				// A last ack of what we received, then FIN: after FIN no
				// ack can go out, and the peer is waiting for ours before
				// its own FIN.
				d := c.rcv.finalAck()
				_ = c.writeControlBy(deadline, true, func(b []byte) []byte { return appendCtlAck(b, d.recv, d.consumed, d.seen) })
				t := time.NewTimer(time.Until(deadline) + 100*time.Millisecond)
				select {
				case <-c.peerFIN:
				case <-c.term:
				case <-t.C:
				}
				t.Stop()
			}
			_ = c.qc.CloseWithError(quic.ApplicationErrorCode(sendableCode(code)), truncateReason(reason))
		}()
	})
	return nil
}

// mapErr turns quic-go errors into the package's.
func (c *fecConn) mapErr(err error) error { return mapQUICErr(err, c.closing.Load(), "quic-fec") }

// Stats implements Conn: QUIC's RTT, frames retransmitted on the stream,
// packets FEC rebuilt, and the FEC data packets sent and NACKed.
func (c *fecConn) Stats() Stats {
	qs := c.qc.ConnectionStats()
	c.snd.mu.Lock()
	loss := c.snd.est.rate()
	c.snd.mu.Unlock()
	st := Stats{
		FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(),
		BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load(),
		RTT: qs.SmoothedRTT, Retransmits: c.snd.retransmitted.Load(),
		Recovered:      c.rcv.recovered.Load(),
		FECDataPackets: c.snd.dataPackets.Load(), Unrecoverable: c.snd.nacked.Load(),
		SendLoss: loss, LostOut: c.snd.lostOut.Load(),
	}
	if c.direct != nil {
		rcvd, highest := c.direct.lossReport()
		st.PacketsIn, st.MissingIn = rcvd, highest-min(rcvd, highest)
	}
	return st
}

// PreferredFrameBytes implements FrameSizer: the largest frame that goes
// out as one datagram (its seq may take up to 10 bytes).
func (c *fecConn) PreferredFrameBytes() int { return c.rcv.maxPayload - 10 }

// RemoteAddr implements Conn.
func (c *fecConn) RemoteAddr() net.Addr { return c.qc.RemoteAddr() }

// Transport implements Conn.
func (c *fecConn) Transport() string { return "quic-fec" }

// newStreamReader wraps the control stream for reading.
func newStreamReader(st *quic.Stream) *bufio.Reader { return bufio.NewReaderSize(st, 4096) }
