package peerauth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

const (
	// MinSecretLen is the shortest region secret accepted: 32 bytes,
	// HMAC-SHA256's output size, below which the key, not the hash, would
	// bound the MAC's strength.
	MinSecretLen = 32
	// NonceLen is each side's nonce.
	NonceLen = 32
	// MACLen is an HMAC-SHA256.
	MACLen = sha256.Size
	// AnswerLen is the acceptor's answer: its nonce and its MAC.
	AnswerLen = NonceLen + MACLen
)

var (
	// ErrPeerAuth is returned to the dialer when the acceptor's MAC does
	// not verify (it has another secret, or is not a node of the region).
	ErrPeerAuth = errors.New("the peer failed authentication (a different region secret?)")
	// ErrDialerAuth is returned to the acceptor when the dialer's MAC does
	// not verify.
	ErrDialerAuth = errors.New("the dialer failed authentication (a different region secret?)")
)

// Role is the side of a handshake whose MAC it is.
type Role uint8

const (
	// Acceptor is the side that accepted the connection.
	Acceptor Role = iota
	// Dialer is the side that dialed it.
	Dialer
)

// Protocol is one inter-node protocol's handshake. Its Label goes into
// every MAC, so handshakes of different protocols never verify on each
// other.
type Protocol struct {
	// Label names the protocol and its version, e.g. "edgegate raftmux v3".
	Label string
}

// MAC is role's MAC over both nonces and the dialer's identity.
func (p Protocol) MAC(secret []byte, role Role, dialerNonce, acceptorNonce []byte, id string) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(p.Label))
	if role == Acceptor {
		h.Write([]byte(" acceptor\x00"))
	} else {
		h.Write([]byte(" dialer\x00"))
	}
	h.Write(dialerNonce)
	h.Write(acceptorNonce)
	h.Write(binary.AppendUvarint(nil, uint64(len(id))))
	h.Write([]byte(id))
	return h.Sum(nil)
}

// NewNonce returns NonceLen random bytes (crypto/rand.Read does not fail).
func NewNonce() []byte {
	b := make([]byte, NonceLen)
	_, _ = rand.Read(b)
	return b
}

// Accept runs the acceptor's side once the dialer's preamble, carrying
// dialerNonce and id, has been read: it answers on w and reads and checks
// the dialer's MAC from r. A nil error means the dialer proved the secret.
func (p Protocol) Accept(r io.Reader, w io.Writer, secret, dialerNonce []byte, id string) error {
	nonce := NewNonce()
	if _, err := w.Write(append(nonce, p.MAC(secret, Acceptor, dialerNonce, nonce, id)...)); err != nil {
		return err
	}
	mac := make([]byte, MACLen)
	if _, err := io.ReadFull(r, mac); err != nil {
		return fmt.Errorf("no MAC from the dialer: %w", err)
	}
	if !hmac.Equal(mac, p.MAC(secret, Dialer, dialerNonce, nonce, id)) {
		return ErrDialerAuth
	}
	return nil
}

// Dial runs the dialer's side once its preamble, carrying nonce and id,
// has been written: it reads the acceptor's answer from rw (unbuffered:
// nothing follows it until the dialer's MAC), checks it, and answers with
// the dialer's MAC. A nil error means the acceptor proved the secret.
func (p Protocol) Dial(rw io.ReadWriter, secret, nonce []byte, id string) error {
	ans := make([]byte, AnswerLen)
	if _, err := io.ReadFull(rw, ans); err != nil {
		return fmt.Errorf("no handshake answer (the peer refused it: no or another region secret, or an older version?): %w", err)
	}
	peerNonce, mac := ans[:NonceLen], ans[NonceLen:]
	if !hmac.Equal(mac, p.MAC(secret, Acceptor, nonce, peerNonce, id)) {
		return ErrPeerAuth
	}
	_, err := rw.Write(p.MAC(secret, Dialer, nonce, peerNonce, id))
	return err
}
