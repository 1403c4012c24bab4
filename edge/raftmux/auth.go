package raftmux

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/hashicorp/raft"

	"github.com/edgegate/edgegate/edge/peerauth"
)

// Authentication of peers with the region secret (Options.Secret): a
// mutual HMAC-SHA256 challenge-response before any frame (edge/peerauth,
// shared with the inter-node link under another label). With
// D = the dialer's nonce, A = the acceptor's, addr = the dialer's
// advertised address (as in its preamble):
//
//	dialer   -> "EGRAFT3\n", uvarint len(addr), addr, D (32 bytes)
//	acceptor -> A (32 bytes), HMAC(secret, "edgegate raftmux v3 acceptor\0" D A uvarint len(addr) addr)
//	dialer   -> HMAC(secret, "edgegate raftmux v3 dialer\0" D A uvarint len(addr) addr), then frames
//
// The dialer checks the acceptor's MAC before answering with its own, so
// it never computes a MAC for a peer that has not proved the secret, and
// the acceptor checks the dialer's before it reads a frame. Each side's
// MAC covers a fresh nonce of its own (a recorded handshake cannot be
// replayed) and a label naming its role (a MAC echoed back to the side
// that made it, a reflection, does not verify). MACs are compared in
// constant time (hmac.Equal). The acceptor refuses and closes a
// connection that fails, that is not version 3 while it has a secret (or
// is version 3 while it has none), or that does not finish within
// Options.Timeout; Stats.RefusedConns counts them.

const (
	// MinSecretLen is the shortest Options.Secret accepted (see
	// peerauth.MinSecretLen).
	MinSecretLen = peerauth.MinSecretLen
	// nonceLen is each side's nonce.
	nonceLen = peerauth.NonceLen
	// macLen is an HMAC-SHA256.
	macLen = peerauth.MACLen
)

// raftAuth is the handshake of the Raft port (edge/peerauth). Its label
// keeps the MACs of version 3 byte for byte, and differs from the
// inter-node link's, so neither handshake verifies on the other port.
var raftAuth = peerauth.Protocol{Label: "edgegate raftmux v3"}

// The MACs' roles.
const (
	labelAcceptor = peerauth.Acceptor
	labelDialer   = peerauth.Dialer
)

// errPeerAuth: the acceptor's MAC did not verify (it has another secret,
// or is not a node of the region).
var errPeerAuth = peerauth.ErrPeerAuth

// handshakeMAC is role's MAC over both nonces and the dialer's address.
func handshakeMAC(secret []byte, role peerauth.Role, dialerNonce, acceptorNonce []byte, addr raft.ServerAddress) []byte {
	return raftAuth.MAC(secret, role, dialerNonce, acceptorNonce, string(addr))
}

// newNonce returns nonceLen random bytes.
func newNonce() []byte { return peerauth.NewNonce() }

// acceptHello reads a dialer's preamble from br and, with a secret, runs
// the acceptor's side of the handshake (answers on w). It returns the
// dialer's advertised address ("" from a version 1 preamble).
func acceptHello(br *bufio.Reader, w io.Writer, secret []byte) (raft.ServerAddress, error) {
	h, err := readPreamble(br)
	if err != nil {
		return "", err
	}
	if len(secret) == 0 {
		if h.version == 3 {
			return "", errors.New("raftmux: the dialer authenticates (EGRAFT3) but this node has no region secret")
		}
		return h.addr, nil
	}
	if h.version != 3 {
		return "", fmt.Errorf("raftmux: an unauthenticated preamble (EGRAFT%d) while this node has a region secret", h.version)
	}
	if err := raftAuth.Accept(br, w, secret, h.nonce, string(h.addr)); err != nil {
		return "", fmt.Errorf("raftmux: %w", err)
	}
	return h.addr, nil
}

// dialHello sends the dialer's preamble naming self on rw and, with a
// secret, runs the dialer's side of the handshake: the acceptor's answer
// is read from rw unbuffered (nothing follows it until the dialer's MAC).
func dialHello(rw io.ReadWriter, secret []byte, self raft.ServerAddress) error {
	if len(secret) == 0 {
		_, err := rw.Write(appendPreamble(nil, self, nil))
		return err
	}
	nonce := newNonce()
	if _, err := rw.Write(appendPreamble(nil, self, nonce)); err != nil {
		return err
	}
	if err := raftAuth.Dial(rw, secret, nonce, string(self)); err != nil {
		return fmt.Errorf("raftmux: %w", err)
	}
	return nil
}

// acceptConn runs the acceptor's handshake on c (br reads c) within
// Options.Timeout and returns the dialer's address; ok is false when the
// connection is to be closed. A refusal is counted and logged; a
// connection closed before its first byte (a port probe, such as
// peerdown.go's dial checks) or during Close is not.
func (m *Mux) acceptConn(c net.Conn, br *bufio.Reader) (from raft.ServerAddress, ok bool) {
	_ = c.SetDeadline(time.Now().Add(m.o.Timeout))
	_, err := br.Peek(1)
	if errors.Is(err, io.EOF) {
		m.o.Logger.Debug("raftmux: a connection closed before its preamble", "remote", c.RemoteAddr())
		return "", false
	}
	if err == nil {
		from, err = acceptHello(br, c, m.o.Secret)
	}
	if err != nil {
		select {
		case <-m.quit:
		default:
			m.refused.Add(1)
			m.logAuth(&m.refusedLog, "raftmux: refused a connection", "remote", c.RemoteAddr(), "err", err)
		}
		return "", false
	}
	_ = c.SetDeadline(time.Time{})
	return from, true
}

// dialConn runs the dialer's handshake on c, a new connection to addr,
// before deadline.
func (m *Mux) dialConn(c net.Conn, addr raft.ServerAddress, deadline time.Time) error {
	_ = c.SetDeadline(deadline)
	err := dialHello(c, m.o.Secret, m.addr)
	if errors.Is(err, errPeerAuth) {
		m.peerAuthFailures.Add(1)
		m.logAuth(&m.peerAuthLog, "raftmux: a peer failed authentication", "peer", addr, "remote", c.RemoteAddr())
	}
	if err != nil {
		return err
	}
	_ = c.SetDeadline(time.Time{})
	return nil
}

// logAuth logs a refused handshake at Warn if l allows, else at Debug.
func (m *Mux) logAuth(l *peerauth.WarnLimiter, msg string, args ...any) {
	if ok, n := l.Allow(time.Now()); ok {
		m.o.Logger.Warn(msg, append(args, "not_logged_since_last", n)...)
		return
	}
	m.o.Logger.Debug(msg, args...)
}
