package transport

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/edgegate/edgegate/fec"
)

// FuzzControlRecord: the quic-fec control stream decoder never panics,
// never reads past a record's declared length, and what it accepts
// re-encodes to the same bytes.
func FuzzControlRecord(f *testing.F) {
	f.Add(appendCtlFrame(nil, 7, []byte("frame")))
	f.Add(appendCtlAck(nil, 10, 4, 12))
	f.Add(appendCtlNack(nil, []fec.ID{{Group: 1, Index: 3}, {Group: 0xffffffff, Index: 0}}))
	f.Add([]byte{ctlAck, 3, 1, 2, 1})
	f.Add([]byte{9, 0})
	f.Add(appendCtlNackSeq(nil, []uint64{1, 300, 1 << 40}))
	f.Add(appendCtlLoss(nil, 90, 100))
	f.Add([]byte{ctlLoss, 2, 5, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		var buf []byte
		for {
			var rec ctlRecord
			var err error
			rec, buf, err = readCtlRecord(br, buf, 1<<16)
			if err != nil {
				return
			}
			var re []byte
			switch rec.typ {
			case ctlFrame:
				re = appendCtlFrame(nil, rec.seq, rec.body)
			case ctlAck:
				if rec.consumed > rec.recv || rec.seen < rec.recv {
					t.Fatalf("accepted inconsistent ack %+v", rec)
				}
				re = appendCtlAck(nil, rec.recv, rec.consumed, rec.seen)
			case ctlNack:
				re = appendCtlNack(nil, rec.nack)
			case ctlNackSeq:
				re = appendCtlNackSeq(nil, rec.nackSeq)
			case ctlLoss:
				if rec.rcvd > rec.highest {
					t.Fatalf("accepted inconsistent loss report %+v", rec)
				}
				re = appendCtlLoss(nil, rec.rcvd, rec.highest)
			default:
				t.Fatalf("accepted record type %d", rec.typ)
			}
			again, _, err := readCtlRecord(bufio.NewReader(bytes.NewReader(re)), nil, 1<<16)
			if err != nil || again.typ != rec.typ || again.seq != rec.seq || !bytes.Equal(again.body, rec.body) ||
				again.recv != rec.recv || again.rcvd != rec.rcvd || again.highest != rec.highest || len(again.nack) != len(rec.nack) || len(again.nackSeq) != len(rec.nackSeq) {
				t.Fatalf("re-encoded record differs: %+v vs %+v (%v)", again, rec, err)
			}
		}
	})
}

// FuzzDatagramPayload: the payload split never panics and round-trips.
func FuzzDatagramPayload(f *testing.F) {
	f.Add(appendDatagramPayload(nil, 300, []byte("x")))
	f.Add([]byte{0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, frame, err := parseDatagramPayload(b)
		if err != nil {
			return
		}
		if len(frame) == 0 {
			t.Fatal("empty frame accepted")
		}
		s2, f2, err := parseDatagramPayload(appendDatagramPayload(nil, seq, frame))
		if err != nil || s2 != seq || !bytes.Equal(f2, frame) {
			t.Fatalf("round trip: %d %v", s2, err)
		}
	})
}

// FuzzDatagramAcks: the acknowledgement section of a datagram
// (QUICFECDirectAcksALPN) never panics, never reads past its declared
// length, accepts only one ack optionally followed by one loss report,
// and what it accepts re-encodes to the same bytes.
func FuzzDatagramAcks(f *testing.F) {
	f.Add(append(appendDatagramAcks(nil, ackPos{recv: 5, consumed: 3, seen: 9}, true, 40, 42), bareTag, 1, 'x'))
	f.Add(appendDatagramAcks(nil, ackPos{recv: 1 << 40, consumed: 1, seen: 1 << 41}, false, 0, 0))
	f.Add([]byte{dgramAckTag, 5, ctlAck, 3, 1, 2, 1})
	f.Add([]byte{dgramAckTag, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, rest, err := parseDatagramAcks(b)
		if err != nil {
			return
		}
		if a.ack.consumed > a.ack.recv || a.ack.seen < a.ack.recv || (a.hasLoss && a.loss.rcvd > a.loss.highest) {
			t.Fatalf("accepted inconsistent acks %+v", a)
		}
		d := ackPos{recv: a.ack.recv, consumed: a.ack.consumed, seen: a.ack.seen}
		re := append(appendDatagramAcks(nil, d, a.hasLoss, a.loss.rcvd, a.loss.highest), rest...)
		again, rest2, err := parseDatagramAcks(re)
		same := again.ack.recv == a.ack.recv && again.ack.consumed == a.ack.consumed && again.ack.seen == a.ack.seen &&
			again.hasLoss == a.hasLoss && again.loss.rcvd == a.loss.rcvd && again.loss.highest == a.loss.highest
		if err != nil || !same || !bytes.Equal(rest2, rest) {
			t.Fatalf("re-encoded acks differ: %+v vs %+v (%v)", again, a, err)
		}
	})
}
