package store

import (
	"bytes"
	"testing"

	"github.com/edgegate/edgegate/transport/pb"
)

// FuzzKeyDecode checks DecodeKey never panics and accepts only canonical
// encodings: whatever it accepts re-encodes to the same bytes.
func FuzzKeyDecode(f *testing.F) {
	for _, id := range trickyIDs {
		f.Add(logKey(id, 42))
		f.Add(headKey(id))
		f.Add(dedupKey("c", id, "m\x00"))
		f.Add(posKey(id, "d", "c"))
	}
	f.Add(formatKey)
	f.Add([]byte{byte(KindHead), 0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := DecodeKey(b)
		if err != nil {
			return
		}
		if k.Kind == KindMeta {
			if !bytes.Equal(b, formatKey) {
				t.Fatalf("accepted meta key %x", b)
			}
			return
		}
		if enc := k.Encode(); !bytes.Equal(enc, b) {
			t.Fatalf("non-canonical: %x decodes to %+v which encodes to %x", b, k, enc)
		}
	})
}

// FuzzRecordDecode checks that decoding a stored record never panics and
// that whatever decodes agrees with the key it was read under.
func FuzzRecordDecode(f *testing.F) {
	for _, m := range []*pb.Message{
		{Conversation: "c", Seq: 1, Sender: "u", SenderDevice: "d", ServerTimeMs: 1700000000000, Body: []byte("hi"), ClientMsgId: "m1", Class: pb.DeliveryClass_DELIVERY_CLASS_ORDERED},
		{Conversation: "c", Seq: 7},
		{Conversation: "other", Seq: 1, Body: make([]byte, 300)},
	} {
		rec, err := encodeRecord(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add("c", uint64(1), rec)
	}
	f.Add("c", uint64(1), []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, conv string, seq uint64, val []byte) {
		m, err := decodeRecord(conv, seq, val)
		if err != nil {
			return
		}
		if m.GetConversation() != conv || m.GetSeq() != seq {
			t.Fatalf("decoded %q/%d under %q/%d", m.GetConversation(), m.GetSeq(), conv, seq)
		}
	})
}
