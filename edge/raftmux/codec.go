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

// The preamble opens every connection: a version line, then (versions 2
// and 3) the dialer's advertised address (uvarint length, bytes), so that
// the accepting node knows which peer an inbound connection comes from
// (see peerdown.go), then (version 3) the dialer's nonce, which starts the
// authentication handshake (auth.go). The dialer sends version 3 when it
// has a region secret (Options.Secret) and version 2 otherwise; version 1
// (no address) is still accepted from a dialer without a secret.
const (
	preambleV1 = "EGRAFT1\n"
	preambleV2 = "EGRAFT2\n"
	preambleV3 = "EGRAFT3\n"
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

// hello is a dialer's preamble as read by the acceptor.
type hello struct {
	version int                // 1, 2 or 3
	addr    raft.ServerAddress // the dialer's advertised address ("" in version 1)
	nonce   []byte             // version 3: the dialer's nonce (nonceLen bytes)
}

// appendPreamble appends the dialer's preamble, naming addr (this node's
// advertised address), to b: version 3 with nonce, version 2 without.
func appendPreamble(b []byte, addr raft.ServerAddress, nonce []byte) []byte {
	if nonce == nil {
		b = append(b, preambleV2...)
	} else {
		b = append(b, preambleV3...)
	}
	b = binary.AppendUvarint(b, uint64(len(addr)))
	b = append(b, addr...)
	return append(b, nonce...)
}

// readPreamble reads a connection's preamble, of any version.
func readPreamble(br *bufio.Reader) (hello, error) {
	pre := make([]byte, len(preambleV2))
	if _, err := io.ReadFull(br, pre); err != nil {
		return hello{}, err
	}
	var h hello
	switch string(pre) {
	case preambleV1:
		return hello{version: 1}, nil
	case preambleV2:
		h.version = 2
	case preambleV3:
		h.version = 3
	default:
		return hello{}, fmt.Errorf("%w: bad preamble", errBadFrame)
	}
	n, err := binary.ReadUvarint(br)
	if err != nil || n > maxPeerAddr {
		return hello{}, fmt.Errorf("%w: bad peer address", errBadFrame)
	}
	addr := make([]byte, n)
	if _, err := io.ReadFull(br, addr); err != nil {
		return hello{}, err
	}
	h.addr = raft.ServerAddress(addr)
	if h.version == 3 {
		h.nonce = make([]byte, nonceLen)
		if _, err := io.ReadFull(br, h.nonce); err != nil {
			return hello{}, err
		}
	}
	return h, nil
}
