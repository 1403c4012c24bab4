package store

import (
	"fmt"

	"github.com/edgegate/edgegate/transport/pb"
	"google.golang.org/protobuf/proto"
)

// encodeRecord encodes a log record.
func encodeRecord(m *pb.Message) ([]byte, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("store: encode record %q/%d: %w", m.GetConversation(), m.GetSeq(), err)
	}
	return b, nil
}

// decodeRecord decodes the log record stored under (conv, seq) and checks it
// agrees with its key. The result does not alias val.
func decodeRecord(conv string, seq uint64, val []byte) (*pb.Message, error) {
	m := new(pb.Message)
	if err := proto.Unmarshal(val, m); err != nil {
		return nil, fmt.Errorf("%w: record %q/%d: %v", ErrCorrupt, conv, seq, err)
	}
	if m.GetConversation() != conv || m.GetSeq() != seq {
		return nil, fmt.Errorf("%w: record under %q/%d claims %q/%d", ErrCorrupt, conv, seq, m.GetConversation(), m.GetSeq())
	}
	return m, nil
}
