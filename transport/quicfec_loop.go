package transport

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/edgegate/edgegate/fec"
)

// readControl reads the control stream until the peer's FIN or an error.
func (c *fecConn) readControl() {
	defer c.wg.Done()
	br := newStreamReader(c.st)
	var buf []byte
	for {
		var rec ctlRecord
		var err error
		rec, buf, err = readCtlRecord(br, buf, c.maxBody)
		if err == nil {
			c.markPeerReady()
			err = c.onControl(rec)
		}
		if err == nil {
			continue
		}
		switch {
		case errors.Is(err, io.EOF):
			c.finOnce.Do(func() { close(c.peerFIN) })
			c.rcv.wake()
		case errors.Is(err, ErrBadFrame) || errors.Is(err, ErrTooLarge):
			c.protocolError(err)
		default:
			c.terminate(c.mapErr(err))
		}
		return
	}
}

// onControl applies one control record.
func (c *fecConn) onControl(rec ctlRecord) error {
	switch rec.typ {
	case ctlFrame:
		if _, err := c.rcv.accept(rec.seq, append([]byte(nil), rec.body...), c.window); err != nil {
			return err
		}
		c.wakeTimer() // an ack is owed, and the frame may close a gap
	case ctlAck:
		return c.snd.onAck(rec.recv, rec.consumed, rec.seen)
	case ctlNack:
		c.retransmit(c.snd.onNack(rec.nack, time.Now()))
	case ctlNackSeq:
		c.retransmit(c.snd.onNackSeq(rec.nackSeq, time.Now()))
	case ctlLoss:
		c.onLossReport(rec.rcvd, rec.highest)
	}
	return nil
}

// onLossReport adapts parity to the direct datagrams the peer received
// since its previous report: of the packet numbers up to the highest it
// saw, the ones that did not arrive were lost. Reports that do not move
// forward (a peer restarting its counters would be a protocol error on a
// live connection, but costs nothing here) are ignored.
func (c *fecConn) onLossReport(rcvd, highest uint64) {
	c.lossMu.Lock()
	defer c.lossMu.Unlock()
	if c.direct == nil || highest < c.lastHighest || rcvd < c.lastRcvd {
		return
	}
	sent, got := highest-c.lastHighest, rcvd-c.lastRcvd
	if sent < fecLossMinPackets {
		return
	}
	c.snd.observeLoss(sent-min(got, sent), sent)
	c.lastRcvd, c.lastHighest = rcvd, highest
}

// protocolError closes the connection on a peer that broke the protocol.
func (c *fecConn) protocolError(err error) {
	c.terminate(err)
	_ = c.qc.CloseWithError(quic.ApplicationErrorCode(CloseProtocol), truncateReason(err.Error()))
}

// retransmit sends frames again on the stream.
func (c *fecConn) retransmit(frames []retx) {
	if len(frames) == 0 {
		return
	}
	c.counters.Retransmitted.Add(uint64(len(frames)))
	_ = c.writeControl(func(b []byte) []byte {
		for _, f := range frames {
			b = appendCtlFrame(b, f.seq, f.data)
		}
		return b
	})
}

// readDatagrams feeds datagrams to the receiver until the connection ends.
func (c *fecConn) readDatagrams() {
	defer c.wg.Done()
	lim := fec.Limits{MaxDatagram: c.fcfg.MaxDatagram}
	for {
		b, err := c.receiveDatagram()
		if err != nil {
			c.terminate(c.mapErr(context.Cause(c.qc.Context())))
			return
		}
		if c.ackInDgrams && len(b) > 0 && b[0] == dgramAckTag {
			var a dgramAcks
			a, b, err = parseDatagramAcks(b)
			if err == nil {
				err = c.onControl(a.ack)
			}
			if err == nil && a.hasLoss {
				err = c.onControl(a.loss)
			}
			if err != nil {
				c.protocolError(err)
				return
			}
			if len(b) == 0 {
				continue
			}
		}
		rec, err := c.rcv.datagram(b, time.Now(), lim, c.window)
		c.counters.Recovered.Add(rec)
		if err != nil {
			c.protocolError(err)
			return
		}
		c.wakeTimer()
	}
}

// receiveDatagram returns the next FEC datagram, from the direct path or
// from QUIC.
func (c *fecConn) receiveDatagram() ([]byte, error) {
	if c.direct == nil {
		return c.qc.ReceiveDatagram(c.qc.Context())
	}
	select {
	case b := <-c.direct.in:
		return b, nil
	case <-c.qc.Context().Done():
		return nil, context.Cause(c.qc.Context())
	}
}

// timerLoop runs the FEC flush timer, the decoder's expiry (NACKs), loss
// feedback, acknowledgements and timeout retransmission. It sleeps until
// the earliest of their deadlines (nextWake) or a kick (a datagram or a
// control record arrived, a frame was written or read), and with nothing
// pending until a kick only: a chat connection wakes a few times per
// message, not on a fixed tick (it used to poll every fecTick while
// anything was unacknowledged, 200 wake-ups a second per connection).
func (c *fecConn) timerLoop() {
	defer c.wg.Done()
	t := time.NewTimer(time.Hour)
	t.Stop()
	defer t.Stop()
	var lastLoss, lastScale time.Time
	var lost, sent uint64 // QUIC's counters at the last loss sample
	for {
		c.wakeups.Add(1)
		now := time.Now()
		c.queueParity(c.snd.flush(now))
		d := c.rcv.timers(now, c.window)
		if len(d.nack) > 0 {
			c.counters.Unrecoverable.Add(uint64(len(d.nack)))
			_ = c.writeControl(func(b []byte) []byte { return appendCtlNack(b, d.nack) })
		}
		if len(d.nackSeq) > 0 {
			_ = c.writeControl(func(b []byte) []byte { return appendCtlNackSeq(b, d.nackSeq) })
		}
		if c.direct != nil {
			c.counters.Lost.Add(c.direct.newLost())
		} else {
			c.counters.Lost.Add(d.lost)
		}
		if d.ack {
			c.counters.StreamAcks.Add(1)
			_ = c.writeControl(func(b []byte) []byte {
				b = appendCtlAck(b, d.recv, d.consumed, d.seen)
				if c.direct != nil {
					rcvd, highest := c.direct.lossReport()
					b = appendCtlLoss(b, rcvd, highest)
				}
				return b
			})
		}
		if now.Sub(lastScale) >= fecScaleEvery {
			lastScale = now
			c.scaleToRTT()
		}
		rto := c.rto()
		if at := c.snd.dueAt(now, rto); !at.IsZero() && !now.Before(at) {
			c.retransmit(c.snd.due(now, rto))
		}
		sampleLoss := c.direct == nil && c.snd.outstanding()
		if sampleLoss && now.Sub(lastLoss) >= fecLossEvery {
			// Inside QUIC, datagram loss is QUIC's packet loss; the
			// direct path's comes from the peer (onLossReport).
			lastLoss = now
			qs := c.qc.ConnectionStats()
			if qs.PacketsSent-sent >= fecLossMinPackets {
				c.snd.observeLoss(qs.PacketsLost-lost, qs.PacketsSent-sent)
				lost, sent = qs.PacketsLost, qs.PacketsSent
			}
		}

		var tick <-chan time.Time
		next := c.nextWake(now, rto)
		if sampleLoss {
			next = earliest(next, lastLoss.Add(fecLossEvery))
		}
		if !next.IsZero() {
			t.Reset(max(time.Until(next), fecMinWake))
			tick = t.C
		}
		select {
		case <-tick:
		case <-c.kick:
		case <-c.term:
			return
		}
	}
}

// nextWake returns the earliest deadline of the timer loop's duties: the
// encoder's next flush (parity), the receiver's next expiry, NACK or ack,
// and the next timeout retransmission. The zero time: none pending.
func (c *fecConn) nextWake(now time.Time, rto time.Duration) time.Time {
	next := earliest(c.snd.flushAt(), c.rcv.deadline())
	return earliest(next, c.snd.dueAt(now, rto))
}

// earliest returns the earlier of a and b, ignoring zero times.
func earliest(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

// scaleToRTT sets the FEC flush interval to an eighth of the round trip,
// between the configured one (the floor, 5 ms by default) and
// fecMaxFlush, and the decoder's group timeout to match (three flush
// intervals plus fec's reorder slack, at least the configured timeout). A lost packet may wait for its
// parity about as long as the flush interval, which matters less the
// longer the path; in exchange groups fill up, which saves parity packets
// exactly where QUIC's congestion window is smallest (it shrinks with the
// round trip and the loss rate, and datagrams count against it).
func (c *fecConn) scaleToRTT() {
	srtt := c.qc.ConnectionStats().SmoothedRTT
	flush := min(max(srtt/fecFlushRTTDivisor, c.minFlush), fecMaxFlush)
	spread := c.minSpread
	if spread > 0 {
		spread = max(spread, flush)
	}
	c.snd.setFlush(flush, spread)
	c.rcv.setGroupTimeout(max(c.minGroupTimeout, 3*flush+fec.DefaultReorderSlack), spread)
}

// rto is how long a datagram frame may stay unacknowledged before it is
// sent again on the stream: two round trips, the decoder's group timeout
// (its NACK comes after that) and the ack interval.
func (c *fecConn) rto() time.Duration {
	return max(fecMinRTO, 2*c.qc.ConnectionStats().SmoothedRTT+c.rcv.maxWait()+fecAckEvery)
}

// withAcks appends to dst the datagram dgram, preceded by this end's
// acknowledgement and loss report when its positions moved since the
// last acknowledgement and the section fits (dgramAckRoom). The timer
// loop's stream ack then has nothing to say unless the connection goes
// quiet (receiver.timers).
func (c *fecConn) withAcks(dst, dgram []byte) []byte {
	rcvd, highest := c.direct.lossReport()
	var sec []byte
	ok := c.rcv.takeAck(time.Now(), func(p ackPos) bool {
		sec = appendDatagramAcks(dst, p, true, rcvd, highest)
		return len(sec)+len(dgram) <= orDefault(c.fcfg.MaxDatagram, fec.DefaultMaxDatagram)+dgramAckRoom
	})
	if !ok {
		return append(dst, dgram...)
	}
	c.counters.DatagramAcks.Add(1)
	return append(sec, dgram...)
}

// outDgram is a datagram for the pacer; data datagrams carry their frame
// so that the stream can take it when QUIC refuses the datagram.
type outDgram struct {
	b     []byte
	seq   uint64
	frame []byte // nil for parity
}

// queueParity hands parity datagrams to the pacer. When the pacer is that
// far behind (the link is congested), parity is dropped: the receiver
// NACKs what it then cannot rebuild.
func (c *fecConn) queueParity(dgrams [][]byte) {
	for _, b := range dgrams {
		select {
		case c.parity <- outDgram{b: b}:
		default:
		}
	}
}

// fecPaceBacklog is the datagram backlog above which the pacer stops
// spacing.
const fecPaceBacklog = 16

// pace sends the datagrams, data before parity, at least fecSpacing
// apart, so that quic-go does not pack several into one QUIC packet. When
// datagrams pile up (bursts of traffic) it sends them unspaced rather than
// late.
func (c *fecConn) pace() {
	defer c.wg.Done()
	var last time.Time
	var ackBuf []byte // datagram with acknowledgements (reused: the send copies it)
	for {
		var d outDgram
		select {
		case d = <-c.dataQ:
		default:
			select {
			case d = <-c.dataQ:
			case d = <-c.parity:
			case <-c.term:
				return
			}
		}
		if wait := fecSpacing - time.Since(last); wait > 0 && len(c.dataQ)+len(c.parity) < fecPaceBacklog {
			time.Sleep(wait)
		}
		b := d.b
		if c.ackInDgrams {
			ackBuf = c.withAcks(ackBuf[:0], d.b)
			b = ackBuf
		}
		err := c.sendDatagram(b)
		last = time.Now()
		var tooLarge *quic.DatagramTooLargeError
		if d.frame != nil && errors.As(err, &tooLarge) {
			// The path's packet size shrank: the stream takes the frame.
			c.counters.StreamFrames.Add(1)
			_ = c.writeControl(func(b []byte) []byte { return appendCtlFrame(b, d.seq, d.frame) })
		}
	}
}
