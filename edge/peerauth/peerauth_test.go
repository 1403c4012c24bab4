package peerauth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net"
	"testing"
	"time"
)

var (
	secret = []byte("region-secret-0123456789abcdef-0123456789")
	other  = []byte("another-secret-0123456789abcdef-012345678")
)

// handshake runs both sides over a pipe: the dialer with dk under dp, the
// acceptor with ak under ap.
func handshake(dp, ap Protocol, dk, ak []byte) (dialErr, acceptErr error) {
	d, a := net.Pipe()
	defer d.Close()
	defer a.Close()
	nonce := NewNonce()
	done := make(chan error, 1)
	go func() {
		err := dp.Dial(d, dk, nonce, "node-a")
		if err != nil {
			d.Close()
		}
		done <- err
	}()
	acceptErr = ap.Accept(a, a, ak, nonce, "node-a")
	if acceptErr != nil {
		a.Close()
	}
	return <-done, acceptErr
}

// TestHandshake: same label and key succeed; another key or another
// protocol's label fail on the side that checks first (the dialer).
func TestHandshake(t *testing.T) {
	raft, link := Protocol{Label: "edgegate raftmux v3"}, Protocol{Label: "edgegate nodelink v1"}
	if d, a := handshake(link, link, secret, secret); d != nil || a != nil {
		t.Fatalf("same key: dial %v, accept %v", d, a)
	}
	if d, a := handshake(link, link, secret, other); !errors.Is(d, ErrPeerAuth) || a == nil {
		t.Fatalf("other key: dial %v, accept %v", d, a)
	}
	if d, a := handshake(raft, link, secret, secret); !errors.Is(d, ErrPeerAuth) || a == nil {
		t.Fatalf("a Raft dialer on the link: dial %v, accept %v", d, a)
	}
}

// TestMACLayout: the MAC is HMAC(secret, label+role, D, A, uvarint len(id), id),
// so raftmux's version 3 handshake is unchanged by the extraction.
func TestMACLayout(t *testing.T) {
	d, a := bytes.Repeat([]byte{1}, NonceLen), bytes.Repeat([]byte{2}, NonceLen)
	h := hmac.New(sha256.New, secret)
	h.Write([]byte("edgegate raftmux v3 acceptor\x00"))
	h.Write(d)
	h.Write(a)
	h.Write([]byte{9})
	h.Write([]byte("1.2.3.4:5"))
	if got := (Protocol{Label: "edgegate raftmux v3"}).MAC(secret, Acceptor, d, a, "1.2.3.4:5"); !hmac.Equal(got, h.Sum(nil)) {
		t.Fatal("the acceptor's MAC changed layout")
	}
	p := Protocol{Label: "x"}
	if bytes.Equal(p.MAC(secret, Acceptor, d, a, "i"), p.MAC(secret, Dialer, d, a, "i")) {
		t.Fatal("both roles have the same MAC (reflection)")
	}
}

// TestWarnLimiter: one Warn per WarnEvery, with the count suppressed.
func TestWarnLimiter(t *testing.T) {
	var l WarnLimiter
	now := time.Now()
	if ok, _ := l.Allow(now); !ok {
		t.Fatal("the first was not let through")
	}
	for range 2 {
		if ok, _ := l.Allow(now.Add(time.Second)); ok {
			t.Fatal("a second Warn within WarnEvery")
		}
	}
	if ok, n := l.Allow(now.Add(WarnEvery)); !ok || n != 2 {
		t.Fatalf("after WarnEvery: %v, %d suppressed (want 2)", ok, n)
	}
}
