package raftgroup

import (
	"bytes"
	"testing"

	"github.com/edgegate/edgegate/edge/ordering"
	"github.com/edgegate/edgegate/transport/pb"
)

// FuzzDecodeBatch: the log entry decoder never panics and what it
// accepts re-encodes to the same bytes.
func FuzzDecodeBatch(f *testing.F) {
	f.Add(encodeBatch(nil, []ordering.Request{req("c", "u", 1), {Conv: "d", Sender: "v", ServerTimeMs: -5}}))
	f.Add(encodeBatch(nil, nil))
	f.Add([]byte{cmdFormat, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		reqs, err := decodeBatch(b)
		if err != nil {
			return
		}
		if re := encodeBatch(nil, reqs); !bytes.Equal(re, b) {
			again, err := decodeBatch(re)
			if err != nil || len(again) != len(reqs) {
				t.Fatalf("round trip: %v", err)
			}
			for i := range reqs {
				a, r := again[i], reqs[i]
				if a.Conv != r.Conv || a.Sender != r.Sender || a.SenderDevice != r.SenderDevice || a.ClientMsgID != r.ClientMsgID ||
					!bytes.Equal(a.Body, r.Body) || a.ServerTimeMs != r.ServerTimeMs {
					t.Fatalf("request %d changed: %+v vs %+v", i, a, r)
				}
			}
		}
	})
}

// FuzzReadSnapshot: the snapshot reader never panics and hands out only
// the messages it fully decoded.
func FuzzReadSnapshot(f *testing.F) {
	var good bytes.Buffer
	good.WriteString(snapshotMagic)
	good.Write([]byte{7, 2, 0x0a, 0x00, 0})
	f.Add(good.Bytes())
	f.Add([]byte(snapshotMagic))
	f.Add([]byte("EGS1\x05\xff\xff\xff\xff\x0f"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n := 0
		_, _ = readSnapshot(bytes.NewReader(b), func(_ uint64, msgs []*pb.Message) error {
			for _, m := range msgs {
				if m == nil {
					t.Fatal("nil message")
				}
			}
			n += len(msgs)
			return nil
		})
		if n > len(b) {
			t.Fatalf("%d messages from %d bytes", n, len(b))
		}
	})
}
