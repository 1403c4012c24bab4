package raftmux

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
)

// preamble opens every connection. Version 2 is followed by the dialer's
// advertised address (uvarint length, bytes), so that the accepting node
// knows which peer an inbound connection comes from (see peerdown.go);
// version 1 (no address) is still accepted.
const (
	preamble   = "EGRAFT2\n"
	preambleV1 = "EGRAFT1\n"
	// maxPeerAddr bounds the address after the preamble.
	maxPeerAddr = 255
)

// Frame kinds; answers are kind | kindAnswer.
const (
	kindAppendEntries   byte = 1
	kindRequestVote     byte = 2
	kindInstallSnapshot byte = 3
	kindTimeoutNow      byte = 4
	kindRequestPreVote  byte = 5
	kindApp             byte = 6 // application request (Mux.Call)
	kindAnswer          byte = 0x80
)

// headerLen is kind + group + id.
const headerLen = 1 + 4 + 8

var errBadFrame = errors.New("raftmux: malformed frame")

// frame is one decoded frame; body aliases the reader's buffer until the
// next read unless copied.
type frame struct {
	kind  byte
	group uint32
	id    uint64
	body  []byte
}

// readFrame reads one frame of at most max bytes.
func readFrame(r *bufio.Reader, max int) (frame, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return frame{}, err
	}
	if n < headerLen || n > uint64(max) {
		return frame{}, fmt.Errorf("%w: %d bytes (limit %d)", errBadFrame, n, max)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return frame{}, err
	}
	return frame{kind: b[0], group: binary.BigEndian.Uint32(b[1:]), id: binary.BigEndian.Uint64(b[5:]), body: b[headerLen:]}, nil
}

// appendFrame appends a frame with body to dst.
func appendFrame(dst []byte, kind byte, group uint32, id uint64, body []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(headerLen+len(body)))
	dst = append(dst, kind)
	dst = binary.BigEndian.AppendUint32(dst, group)
	dst = binary.BigEndian.AppendUint64(dst, id)
	return append(dst, body...)
}

var mh = &codec.MsgpackHandle{}

// encode msgpack-encodes v.
func encode(v any) ([]byte, error) {
	var b []byte
	if err := codec.NewEncoderBytes(&b, mh).Encode(v); err != nil {
		return nil, fmt.Errorf("raftmux: encode %T: %w", v, err)
	}
	return b, nil
}

// decode msgpack-decodes b into v.
func decode(b []byte, v any) error {
	if err := codec.NewDecoderBytes(b, mh).Decode(v); err != nil {
		return fmt.Errorf("%w: %T: %v", errBadFrame, v, err)
	}
	return nil
}

// snapshotRequest is the body of an InstallSnapshot request: the
// arguments and the whole snapshot.
type snapshotRequest struct {
	Args *raft.InstallSnapshotRequest
	Data []byte
}

// Answer bodies start with answerOK (msgpack of the response follows) or
// answerErr (an error message follows).
const (
	answerOK  byte = 0
	answerErr byte = 1
)

// appendPreamble appends the dialer's preamble (version 2, naming addr,
// this node's advertised address) to b.
func appendPreamble(b []byte, addr raft.ServerAddress) []byte {
	b = binary.AppendUvarint(append(b, preamble...), uint64(len(addr)))
	return append(b, addr...)
}

// readPreamble reads a connection's preamble and returns the dialer's
// advertised address ("" for a version 1 preamble).
func readPreamble(br *bufio.Reader) (raft.ServerAddress, error) {
	pre := make([]byte, len(preamble))
	if _, err := io.ReadFull(br, pre); err != nil {
		return "", err
	}
	switch string(pre) {
	case preambleV1:
		return "", nil
	case preamble:
	default:
		return "", fmt.Errorf("%w: bad preamble", errBadFrame)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxPeerAddr {
		return "", fmt.Errorf("%w: bad peer address", errBadFrame)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(br, addr); err != nil {
		return "", err
	}
	return raft.ServerAddress(addr), nil
}
