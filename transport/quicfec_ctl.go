package transport

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/edgegate/edgegate/fec"
)

// Control records of a quic-fec connection travel on its reliable stream:
//
//	byte 0      record type (ctl*)
//	uvarint     body length
//	body
//
// Bodies:
//
//	ctlFrame  uvarint seq, then the frame (large frames, and retransmissions
//	          of frames FEC could not recover)
//	ctlAck    uvarint recv (every seq below it arrived), uvarint consumed
//	          (every seq below it was read by the application: the flow
//	          control window), uvarint seen (one past the highest seq that
//	          arrived: frames below it that are missing will be NACKed)
//	ctlNack   n x (4-byte group, 1-byte index): FEC packets the receiver
//	          gave up on; the sender retransmits their frames as ctlFrame
//	ctlNackSeq n x uvarint seq: frames missing for longer than the group
//	          timeout (bare datagrams, which no FEC group reports)
//	ctlLoss   uvarint received, uvarint highest: direct datagrams that
//	          arrived, and one past the highest packet number among them
//	          (direct path only; the sender's loss measure)
const (
	ctlFrame byte = 1
	ctlAck   byte = 2
	ctlNack  byte = 3
	// ctlNackSeq names missing frames by seq.
	ctlNackSeq byte = 4
	// ctlLoss reports direct datagrams received.
	ctlLoss byte = 5
)

// nackEntrySize is the size of one fec.ID in a ctlNack body.
const nackEntrySize = 5

// errBadControl reports a malformed control record; the connection is
// closed with CloseProtocol.
var errBadControl = fmt.Errorf("%w: bad quic-fec control record", ErrBadFrame)

// ctlRecord is one decoded control record. Body aliases the reader's
// buffer until the next read.
type ctlRecord struct {
	typ  byte
	seq  uint64 // ctlFrame
	body []byte // ctlFrame: the frame

	recv, consumed, seen uint64   // ctlAck
	rcvd, highest        uint64   // ctlLoss
	nack                 []fec.ID // ctlNack
	nackSeq              []uint64 // ctlNackSeq
}

// appendCtlFrame appends a ctlFrame record.
func appendCtlFrame(dst []byte, seq uint64, frame []byte) []byte {
	dst = append(dst, ctlFrame)
	dst = binary.AppendUvarint(dst, uint64(uvarintLen(seq)+len(frame)))
	dst = binary.AppendUvarint(dst, seq)
	return append(dst, frame...)
}

// appendCtlAck appends a ctlAck record.
func appendCtlAck(dst []byte, recv, consumed, seen uint64) []byte {
	dst = append(dst, ctlAck)
	dst = binary.AppendUvarint(dst, uint64(uvarintLen(recv)+uvarintLen(consumed)+uvarintLen(seen)))
	dst = binary.AppendUvarint(dst, recv)
	dst = binary.AppendUvarint(dst, consumed)
	return binary.AppendUvarint(dst, seen)
}

// appendCtlLoss appends a ctlLoss record.
func appendCtlLoss(dst []byte, rcvd, highest uint64) []byte {
	dst = append(dst, ctlLoss)
	dst = binary.AppendUvarint(dst, uint64(uvarintLen(rcvd)+uvarintLen(highest)))
	dst = binary.AppendUvarint(dst, rcvd)
	return binary.AppendUvarint(dst, highest)
}

// appendCtlNack appends a ctlNack record.
func appendCtlNack(dst []byte, ids []fec.ID) []byte {
	dst = append(dst, ctlNack)
	dst = binary.AppendUvarint(dst, uint64(len(ids)*nackEntrySize))
	for _, id := range ids {
		dst = binary.BigEndian.AppendUint32(dst, id.Group)
		dst = append(dst, id.Index)
	}
	return dst
}

// appendCtlNackSeq appends a ctlNackSeq record.
func appendCtlNackSeq(dst []byte, seqs []uint64) []byte {
	n := 0
	for _, s := range seqs {
		n += uvarintLen(s)
	}
	dst = append(dst, ctlNackSeq)
	dst = binary.AppendUvarint(dst, uint64(n))
	for _, s := range seqs {
		dst = binary.AppendUvarint(dst, s)
	}
	return dst
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// readCtlRecord reads one record; buf is reused for the body. maxBody
// bounds a record (a frame of MaxFrameBytes plus its seq). It returns
// io.EOF only at a record boundary.
func readCtlRecord(r *bufio.Reader, buf []byte, maxBody int) (ctlRecord, []byte, error) {
	typ, err := r.ReadByte()
	if err != nil {
		return ctlRecord{}, buf, err
	}
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return ctlRecord{}, buf, unexpected(err)
	}
	if n > uint64(maxBody) {
		return ctlRecord{}, buf, fmt.Errorf("%w: control record of %d bytes (limit %d)", ErrTooLarge, n, maxBody)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return ctlRecord{}, buf, unexpected(err)
	}
	rec, err := parseCtlBody(typ, buf)
	return rec, buf, err
}

// parseCtlBody decodes a record body.
func parseCtlBody(typ byte, b []byte) (ctlRecord, error) {
	rec := ctlRecord{typ: typ}
	switch typ {
	case ctlFrame:
		seq, n := binary.Uvarint(b)
		if n <= 0 {
			return rec, errBadControl
		}
		rec.seq, rec.body = seq, b[n:]
		if len(rec.body) == 0 {
			return rec, errBadControl
		}
	case ctlAck:
		recv, n := binary.Uvarint(b)
		if n <= 0 {
			return rec, errBadControl
		}
		consumed, m := binary.Uvarint(b[n:])
		if m <= 0 {
			return rec, errBadControl
		}
		seen, o := binary.Uvarint(b[n+m:])
		if o <= 0 || n+m+o != len(b) || consumed > recv || seen < recv {
			return rec, errBadControl
		}
		rec.recv, rec.consumed, rec.seen = recv, consumed, seen
	case ctlLoss:
		rcvd, n := binary.Uvarint(b)
		if n <= 0 {
			return rec, errBadControl
		}
		highest, m := binary.Uvarint(b[n:])
		if m <= 0 || n+m != len(b) || rcvd > highest {
			return rec, errBadControl
		}
		rec.rcvd, rec.highest = rcvd, highest
	case ctlNack:
		if len(b) == 0 || len(b)%nackEntrySize != 0 {
			return rec, errBadControl
		}
		rec.nack = make([]fec.ID, 0, len(b)/nackEntrySize)
		for ; len(b) > 0; b = b[nackEntrySize:] {
			rec.nack = append(rec.nack, fec.ID{Group: binary.BigEndian.Uint32(b), Index: b[4]})
		}
	case ctlNackSeq:
		if len(b) == 0 {
			return rec, errBadControl
		}
		for len(b) > 0 {
			seq, n := binary.Uvarint(b)
			if n <= 0 {
				return rec, errBadControl
			}
			rec.nackSeq = append(rec.nackSeq, seq)
			b = b[n:]
		}
	default:
		return rec, errBadControl
	}
	return rec, nil
}

// unexpected turns a mid-record EOF into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bareTag is the first byte of a bare datagram: a frame sent without FEC
// (clean path): bareTag, uvarint seq, frame. FEC packets start with their
// version (1), so the two cannot be confused.
const bareTag byte = 0

// appendDatagramPayload builds the FEC payload of a frame sent as a
// datagram: uvarint seq, then the frame.
func appendDatagramPayload(dst []byte, seq uint64, frame []byte) []byte {
	dst = binary.AppendUvarint(dst, seq)
	return append(dst, frame...)
}

// parseDatagramPayload splits a delivered FEC payload into seq and frame.
func parseDatagramPayload(b []byte) (uint64, []byte, error) {
	seq, n := binary.Uvarint(b)
	if n <= 0 || n == len(b) {
		return 0, nil, errBadControl
	}
	return seq, b[n:], nil
}

// dgramAckTag starts a datagram that carries acknowledgements (ALPN
// QUICFECDirectAcksALPN only):
//
//	dgramAckTag, uvarint n, n bytes of control records (one ctlAck, then
//	at most one ctlLoss), then the datagram proper (bare or FEC; it may
//	be empty)
//
// Bare datagrams start with bareTag (0) and FEC packets with their
// version (1), so the three cannot be confused.
const dgramAckTag byte = 2

// dgramAckRoom is how many bytes acknowledgements may add to a datagram
// of the configured MaxDatagram: with DefaultFECMaxDatagram a direct
// packet then still fits 1280-byte IPv6 paths (1150 + 48 + direct
// header and tag, plus IPv6 and UDP headers: 1275 bytes).
const dgramAckRoom = 48

// appendDatagramAcks appends an acknowledgement section (ctlAck, and
// ctlLoss when withLoss) in the dgramAckTag format; the caller appends the
// datagram after it.
func appendDatagramAcks(dst []byte, p ackPos, withLoss bool, rcvd, highest uint64) []byte {
	var recs [64]byte
	b := appendCtlAck(recs[:0], p.recv, p.consumed, p.seen)
	if withLoss {
		b = appendCtlLoss(b, rcvd, highest)
	}
	dst = append(dst, dgramAckTag)
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// dgramAcks is a decoded acknowledgement section.
type dgramAcks struct {
	ack, loss ctlRecord
	hasLoss   bool
}

// parseDatagramAcks splits a dgramAckTag datagram into its
// acknowledgements and the datagram proper (rest, aliasing b). The
// section must hold exactly one ctlAck, optionally followed by one
// ctlLoss.
func parseDatagramAcks(b []byte) (a dgramAcks, rest []byte, err error) {
	if len(b) == 0 || b[0] != dgramAckTag {
		return a, nil, errBadControl
	}
	n, k := binary.Uvarint(b[1:])
	if k <= 0 || n > uint64(len(b)-1-k) {
		return a, nil, errBadControl
	}
	sec, rest := b[1+k:1+k+int(n)], b[1+k+int(n):]
	for i := 0; len(sec) > 0; i++ {
		typ := sec[0]
		m, j := binary.Uvarint(sec[1:])
		if j <= 0 || m > uint64(len(sec)-1-j) {
			return a, nil, errBadControl
		}
		rec, err := parseCtlBody(typ, sec[1+j:1+j+int(m)])
		if err != nil {
			return a, nil, err
		}
		switch {
		case i == 0 && typ == ctlAck:
			a.ack = rec
		case i == 1 && typ == ctlLoss:
			a.loss, a.hasLoss = rec, true
		default:
			return a, nil, errBadControl
		}
		sec = sec[1+j+int(m):]
	}
	if a.ack.typ != ctlAck {
		return a, nil, errBadControl
	}
	return a, rest, nil
}
