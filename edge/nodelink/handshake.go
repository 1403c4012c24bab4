package nodelink

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/edgegate/edgegate/edge/peerauth"
)

// The preamble opens every link, from the dialer:
//
//	"EGLINK1\n", flags (1 byte: bit 0 = authenticated),
//	uvarint len(from) from, uvarint len(to) to, [nonce (32 bytes) if authenticated]
//
// from is the dialer's node id, to the id of the node it means to reach.
// With a secret the handshake of edge/peerauth follows under linkAuth's
// label, over the identity from+"\x00"+to, so both ids are proved: the
// acceptor refuses a link meant for another node (a stale address) and a
// link from a node that should not dial it (see dialsTo).
const (
	preamble = "EGLINK1\n"
	// maxID bounds a node id on the wire.
	maxID         = 255
	flagAuth byte = 1
)

// linkAuth is the link's handshake; its label differs from raftmux's, so a
// Raft handshake never verifies on the link, nor the reverse.
var linkAuth = peerauth.Protocol{Label: "edgegate nodelink v1"}

var (
	errWrongTarget    = errors.New("nodelink: the dialer means another node")
	errWrongDirection = errors.New("nodelink: the dialer's id is not below this node's (the lower id dials)")
)

// dialsTo reports whether node self dials node peer: the lower id dials,
// so each pair has one link and no duplicate to resolve.
func dialsTo(self, peer string) bool { return self < peer }

// appendPreamble appends the dialer's preamble.
func appendPreamble(dst []byte, from, to string, nonce []byte) []byte {
	dst = append(dst, preamble...)
	flags := byte(0)
	if nonce != nil {
		flags = flagAuth
	}
	dst = append(dst, flags)
	dst = binary.AppendUvarint(dst, uint64(len(from)))
	dst = append(dst, from...)
	dst = binary.AppendUvarint(dst, uint64(len(to)))
	dst = append(dst, to...)
	return append(dst, nonce...)
}

// hello is a decoded preamble.
type hello struct {
	from, to string
	nonce    []byte // nil when not authenticated
}

// readPreamble reads and checks a dialer's preamble.
func readPreamble(br *bufio.Reader) (hello, error) {
	var h hello
	line := make([]byte, len(preamble)+1)
	if _, err := io.ReadFull(br, line); err != nil {
		return h, fmt.Errorf("nodelink: preamble: %w", err)
	}
	if string(line[:len(preamble)]) != preamble {
		return h, fmt.Errorf("nodelink: not a link preamble: %q", line[:len(preamble)])
	}
	flags := line[len(preamble)]
	if flags&^flagAuth != 0 {
		return h, fmt.Errorf("nodelink: unknown preamble flags %#x", flags)
	}
	readID := func() (string, error) {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return "", fmt.Errorf("nodelink: preamble id: %w", err)
		}
		if n == 0 || n > maxID {
			return "", fmt.Errorf("nodelink: preamble id of %d bytes", n)
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return string(b), err
	}
	var err error
	if h.from, err = readID(); err != nil {
		return h, err
	}
	if h.to, err = readID(); err != nil {
		return h, err
	}
	if flags&flagAuth != 0 {
		h.nonce = make([]byte, peerauth.NonceLen)
		if _, err := io.ReadFull(br, h.nonce); err != nil {
			return h, fmt.Errorf("nodelink: preamble nonce: %w", err)
		}
	}
	return h, nil
}

// acceptHandshake runs the acceptor's side on c (br reads it) and returns
// the dialer's node id.
func (l *Link) acceptHandshake(c net.Conn, br *bufio.Reader) (string, error) {
	_ = c.SetDeadline(time.Now().Add(l.cfg.DialTimeout))
	h, err := readPreamble(br)
	if err != nil {
		return "", err
	}
	switch {
	case h.to != l.cfg.NodeID:
		return "", fmt.Errorf("%w (%q)", errWrongTarget, h.to)
	case !dialsTo(h.from, l.cfg.NodeID):
		return "", fmt.Errorf("%w (%q)", errWrongDirection, h.from)
	case len(l.cfg.Secret) > 0 && h.nonce == nil:
		return "", errors.New("nodelink: an unauthenticated dialer while this node has a region secret")
	case len(l.cfg.Secret) == 0 && h.nonce != nil:
		return "", errors.New("nodelink: the dialer authenticates but this node has no region secret")
	}
	if h.nonce != nil {
		if err := linkAuth.Accept(br, c, l.cfg.Secret, h.nonce, h.from+"\x00"+h.to); err != nil {
			return "", fmt.Errorf("nodelink: %w", err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	return h.from, nil
}

// dialHandshake runs the dialer's side on c, a new connection to peer.
func (l *Link) dialHandshake(c net.Conn, peer string) error {
	_ = c.SetDeadline(time.Now().Add(l.cfg.DialTimeout))
	var nonce []byte
	if len(l.cfg.Secret) > 0 {
		nonce = peerauth.NewNonce()
	}
	if _, err := c.Write(appendPreamble(nil, l.cfg.NodeID, peer, nonce)); err != nil {
		return err
	}
	if nonce != nil {
		if err := linkAuth.Dial(c, l.cfg.Secret, nonce, l.cfg.NodeID+"\x00"+peer); err != nil {
			return fmt.Errorf("nodelink: %w", err)
		}
	}
	_ = c.SetDeadline(time.Time{})
	return nil
}
