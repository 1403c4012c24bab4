package raftmux

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// otherSecret is a region secret other than testSecret.
var otherSecret = []byte("another-region-secret-0123456789abcdef")

// logRecorder is a slog.Handler that passes every record's message to a
// channel, so that a test can wait for a refusal instead of sleeping.
type logRecorder struct{ msgs chan string }

func (l logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l logRecorder) Handle(_ context.Context, r slog.Record) error {
	select {
	case l.msgs <- r.Message:
	default: // the test reads what it waits for; drop past 64
	}
	return nil
}
func (l logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l logRecorder) WithGroup(string) slog.Handler      { return l }

// waitLog waits (5 s at most) for a log message starting with prefix.
func waitLog(t *testing.T, msgs <-chan string, prefix string) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-msgs:
			if strings.HasPrefix(m, prefix) {
				return
			}
		case <-timeout:
			t.Fatalf("no %q logged", prefix)
		}
	}
}

// authNode is a Mux with secret whose logs go to msgs and whose group 1
// answers votes and counts the RPCs it got.
type authNode struct {
	*Mux
	msgs chan string
	rpcs atomic.Int32
}

func startAuthNode(t *testing.T, secret []byte, timeout time.Duration) *authNode {
	t.Helper()
	n := &authNode{msgs: make(chan string, 64)}
	m, err := Listen("127.0.0.1:0", Options{Timeout: timeout, Secret: secret, Logger: slog.New(logRecorder{n.msgs})})
	if err != nil {
		t.Fatal(err)
	}
	n.Mux = m
	stop := make(chan struct{})
	serveGroup(m.Transport(1), stop, func(raft.RPC) (any, error) {
		n.rpcs.Add(1)
		return &raft.RequestVoteResponse{Granted: true}, nil
	})
	t.Cleanup(func() {
		m.Close()
		close(stop)
	})
	return n
}

func (n *authNode) vote(to raft.ServerAddress) error {
	var resp raft.RequestVoteResponse
	return n.Transport(1).RequestVote("x", to, &raft.RequestVoteRequest{Term: 1}, &resp)
}

// TestAuthenticatedRPC: nodes with the same secret talk (the other tests
// of the package run with a secret too); nodes without one still talk
// (preamble version 2), and a version 1 preamble is still served by a
// node without a secret.
func TestAuthenticatedRPC(t *testing.T) {
	for _, secret := range [][]byte{testSecret, nil} {
		a, b := startAuthNode(t, secret, 2*time.Second), startAuthNode(t, secret, 2*time.Second)
		if err := a.vote(b.Addr()); err != nil {
			t.Fatalf("secret %q: %v", secret, err)
		}
		if st := b.Stats(); st.RefusedConns != 0 || b.rpcs.Load() != 1 {
			t.Fatalf("secret %q: %+v, %d RPCs", secret, st, b.rpcs.Load())
		}
	}
	b := startAuthNode(t, nil, 2*time.Second)
	c := rawDial(t, b)
	voteFrame(t, c, []byte(preambleV1))
	expectAnswer(t, c)
}

// TestShortSecretRefused: a secret under MinSecretLen is refused.
func TestShortSecretRefused(t *testing.T) {
	if m, err := Listen("127.0.0.1:0", Options{Secret: testSecret[:MinSecretLen-1]}); err == nil {
		m.Close()
		t.Fatal("a 31-byte secret was accepted")
	}
}

// TestWrongKeyRefusedBothWays: between nodes with different secrets (or
// one without), the dialer cannot get a request served and the acceptor
// refuses the connection; a dialer with a secret detects an acceptor
// with another one (its MAC does not verify) before sending any frame.
func TestWrongKeyRefusedBothWays(t *testing.T) {
	for _, c := range []struct {
		name             string
		dialer, acceptor []byte
		dialerDetects    bool // the acceptor's MAC fails at the dialer
	}{
		{"different secrets", testSecret, otherSecret, true},
		{"dialer without a secret", nil, testSecret, false},
		{"acceptor without a secret", testSecret, nil, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			a, b := startAuthNode(t, c.dialer, 2*time.Second), startAuthNode(t, c.acceptor, 2*time.Second)
			if err := a.vote(b.Addr()); err == nil {
				t.Fatal("a vote went through")
			}
			waitLog(t, b.msgs, "raftmux: refused a connection")
			if n := b.Stats().RefusedConns; n != 1 {
				t.Fatalf("acceptor counted %d refusals, want 1", n)
			}
			if n := b.rpcs.Load(); n != 0 {
				t.Fatalf("the acceptor served %d RPCs", n)
			}
			want := uint64(0)
			if c.dialerDetects {
				want = 1
			}
			if n := a.Stats().PeerAuthFailures; n != want {
				t.Fatalf("dialer counted %d failed peers, want %d", n, want)
			}
		})
	}
}

// TestDialerWithWrongKeyNotServed: a client that goes on after a wrong
// MAC (it ignores the acceptor's, sends one made with another key and a
// request) gets no answer and is disconnected; the same client with the
// right key is served (so the refusal is the MAC's doing).
func TestDialerWithWrongKeyNotServed(t *testing.T) {
	b := startAuthNode(t, testSecret, 2*time.Second)
	for _, key := range [][]byte{otherSecret, testSecret} {
		c := rawDial(t, b)
		nonce, peerNonce, _ := rawHello(t, c)
		voteFrame(t, c, handshakeMAC(key, labelDialer, nonce, peerNonce, "raw"))
		if bytes.Equal(key, testSecret) {
			expectAnswer(t, c)
			continue
		}
		expectClosed(t, c)
		waitLog(t, b.msgs, "raftmux: refused a connection")
	}
	if st := b.Stats(); st.RefusedConns != 1 || b.rpcs.Load() != 1 {
		t.Fatalf("%+v, %d RPCs: want one refusal, one RPC (the right key's)", st, b.rpcs.Load())
	}
}

// TestReflectionRefused: echoing the acceptor's own MAC back as the
// dialer's fails (the MACs name their side), as does replaying a MAC
// from an earlier handshake (fresh nonces).
func TestReflectionRefused(t *testing.T) {
	b := startAuthNode(t, testSecret, 2*time.Second)
	c := rawDial(t, b)
	nonce, peerNonce, mac := rawHello(t, c)
	voteFrame(t, c, mac)
	expectClosed(t, c)
	waitLog(t, b.msgs, "raftmux: refused a connection")

	// A replay: the right MAC of the last handshake, on a new one that
	// uses the same dialer nonce.
	c = rawDial(t, b)
	if _, err := c.Write(appendPreamble(nil, "raw", nonce)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, make([]byte, nonceLen+macLen)); err != nil {
		t.Fatal(err)
	}
	voteFrame(t, c, handshakeMAC(testSecret, labelDialer, nonce, peerNonce, "raw"))
	expectClosed(t, c)
	waitLog(t, b.msgs, "raftmux: refused a connection")
	if st := b.Stats(); st.RefusedConns != 2 || b.rpcs.Load() != 0 {
		t.Fatalf("%+v, %d RPCs: want two refusals and none served", st, b.rpcs.Load())
	}
}

// TestUnauthenticatedRefused: with a secret, a connection without the
// handshake (older preambles, garbage, silence or a handshake cut short
// past the timeout) is closed without an answer and counted; one closed
// before its first byte (a port probe, as peer checks make) is not.
func TestUnauthenticatedRefused(t *testing.T) {
	b := startAuthNode(t, testSecret, 300*time.Millisecond)
	v2 := appendPreamble(nil, "1.2.3.4:5", nil)
	v3 := appendPreamble(nil, "1.2.3.4:5", newNonce())
	for i, in := range []struct {
		b     []byte
		frame bool // a request follows
	}{
		{[]byte(preambleV1), true},
		{v2, true},
		{[]byte("GET / HTTP/1.1\r\n\r\n"), true},
		{nil, false},            // silence
		{v3[:len(v3)-1], false}, // a nonce cut short
		{v3, false},             // no MAC after the acceptor's answer
	} {
		c := rawDial(t, b)
		if in.frame {
			voteFrame(t, c, in.b)
		} else if _, err := c.Write(in.b); err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(in.b, v3) {
			if _, err := io.ReadFull(c, make([]byte, nonceLen+macLen)); err != nil {
				t.Fatal(err)
			}
		}
		expectClosed(t, c)
		waitLog(t, b.msgs, "raftmux: refused a connection")
		if n := b.Stats().RefusedConns; n != uint64(i+1) {
			t.Fatalf("input %d (%q): %d refusals counted", i, in.b, n)
		}
	}
	c := rawDial(t, b)
	c.Close()
	waitLog(t, b.msgs, "raftmux: a connection closed before its preamble")
	if st := b.Stats(); st.RefusedConns != 6 || b.rpcs.Load() != 0 {
		t.Fatalf("after a probe: %+v, %d RPCs", st, b.rpcs.Load())
	}
}

// rawDial connects to n's Raft port.
func rawDial(t *testing.T, n *authNode) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", string(n.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// rawHello sends a version 3 preamble naming "raw" on c and returns its
// nonce and the acceptor's nonce and MAC (not checked).
func rawHello(t *testing.T, c net.Conn) (nonce, peerNonce, mac []byte) {
	t.Helper()
	nonce = newNonce()
	if _, err := c.Write(appendPreamble(nil, "raw", nonce)); err != nil {
		t.Fatal(err)
	}
	ans := make([]byte, nonceLen+macLen)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, ans); err != nil {
		t.Fatal(err)
	}
	return nonce, ans[:nonceLen], ans[nonceLen:]
}

// voteFrame writes prefix and a RequestVote for group 1 on c.
func voteFrame(t *testing.T, c net.Conn, prefix []byte) {
	t.Helper()
	body, err := encode(&raft.RequestVoteRequest{Term: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write(appendFrame(bytes.Clone(prefix), kindRequestVote, 1, 1, body)); err != nil {
		t.Fatal(err)
	}
}

// expectAnswer reads the answer to voteFrame's request.
func expectAnswer(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	f, err := readFrame(bufio.NewReader(c), 1<<20)
	if err != nil || f.kind != kindRequestVote|kindAnswer || f.id != 1 {
		t.Fatalf("answer: %+v, %v", f, err)
	}
}

// expectClosed checks that the acceptor closes c without writing a byte.
func expectClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	n, err := c.Read(make([]byte, 1))
	var ne net.Error
	if n != 0 || err == nil || (errors.As(err, &ne) && ne.Timeout()) {
		t.Fatalf("read %d bytes, %v: want the connection closed", n, err)
	}
}

// TestPreamble: every preamble version is read, with the dialer's
// address from versions 2 and 3 and its nonce from version 3; anything
// else is refused.
func TestPreamble(t *testing.T) {
	v2 := append(binary.AppendUvarint([]byte(preambleV2), 9), "1.2.3.4:5"...)
	nonce := newNonce()
	v3 := appendPreamble(nil, "1.2.3.4:5", nonce)
	for _, c := range []struct {
		in      []byte
		version int
		addr    raft.ServerAddress
		ok      bool
	}{
		{[]byte(preambleV1), 1, "", true},
		{v2, 2, "1.2.3.4:5", true},
		{v3, 3, "1.2.3.4:5", true},
		{[]byte("EGRAFT9\n"), 0, "", false},
		{append([]byte(preambleV2), 0xff, 0xff, 0x03), 0, "", false}, // address too long
		{v2[:len(v2)-2], 0, "", false},                               // cut short
		{v3[:len(v3)-1], 0, "", false},                               // nonce cut short
	} {
		h, err := readPreamble(bufio.NewReader(bytes.NewReader(c.in)))
		if (err == nil) != c.ok || h.addr != c.addr || h.version != c.version {
			t.Errorf("readPreamble(%q) = %+v, %v", c.in, h, err)
		}
		if h.version == 3 && !bytes.Equal(h.nonce, nonce) {
			t.Errorf("nonce %x, want %x", h.nonce, nonce)
		}
	}
}

// TestHandshake: dialHello and acceptHello agree with the same secret
// (the acceptor learns the dialer's address) and fail on both sides with
// different ones.
func TestHandshake(t *testing.T) {
	for _, c := range []struct {
		dialer, acceptor []byte
		ok               bool
	}{
		{testSecret, testSecret, true},
		{nil, nil, true},
		{testSecret, otherSecret, false},
	} {
		d, a := net.Pipe()
		dialErr := make(chan error, 1)
		go func() {
			err := dialHello(d, c.dialer, "10.0.0.1:7000")
			d.Close() // a failed dialer hangs up; a good one has nothing more to say
			dialErr <- err
		}()
		addr, err := acceptHello(bufio.NewReader(a), a, c.acceptor)
		a.Close()
		derr := <-dialErr
		if c.ok && (err != nil || derr != nil || addr != "10.0.0.1:7000") {
			t.Fatalf("same secret: accepted %q, %v; dialer: %v", addr, err, derr)
		}
		if !c.ok && (err == nil || !errors.Is(derr, errPeerAuth)) {
			t.Fatalf("different secrets: acceptor %v, dialer %v", err, derr)
		}
	}
}

// rw is an io.ReadWriter of a reader and a writer.
type rw struct {
	io.Reader
	io.Writer
}

// FuzzPreamble: readPreamble never panics, and what it returns is within
// bounds and was in the input; no input passes the acceptor's handshake
// with a secret nor, as the acceptor's answer, the dialer's (each side's
// nonce is fresh, so no fixed input holds the MAC it expects); without a
// secret the acceptor takes exactly the version 1 and 2 preambles.
func FuzzPreamble(f *testing.F) {
	nonce := newNonce()
	f.Add([]byte(preambleV1))
	f.Add(append(binary.AppendUvarint([]byte(preambleV2), 9), "1.2.3.4:5"...))
	f.Add([]byte(preambleV2 + "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"))
	f.Add(append(appendPreamble(nil, "1.2.3.4:5", nonce), handshakeMAC(testSecret, labelDialer, nonce, nonce, "1.2.3.4:5")...))
	f.Add(append(bytes.Clone(nonce), handshakeMAC(testSecret, labelAcceptor, nonce, nonce, "a:1")...))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := readPreamble(bufio.NewReader(bytes.NewReader(b)))
		if err == nil {
			if len(h.addr) > maxPeerAddr || !bytes.Contains(b, []byte(h.addr)) || h.version < 1 || h.version > 3 {
				t.Fatalf("%+v from %q", h, b)
			}
			if (h.version == 3) != (len(h.nonce) == nonceLen) || !bytes.Contains(b, h.nonce) {
				t.Fatalf("nonce %x from %q", h.nonce, b)
			}
		}
		if addr, err := acceptHello(bufio.NewReader(bytes.NewReader(b)), io.Discard, testSecret); err == nil {
			t.Fatalf("the acceptor's handshake passed on %q (dialer %q)", b, addr)
		}
		addr, err2 := acceptHello(bufio.NewReader(bytes.NewReader(b)), io.Discard, nil)
		if wantOK := err == nil && h.version < 3; (err2 == nil) != wantOK || (wantOK && addr != h.addr) {
			t.Fatalf("without a secret: %q, %v on %q (preamble %+v, %v)", addr, err2, b, h, err)
		}
		if err := dialHello(rw{bytes.NewReader(b), io.Discard}, testSecret, "a:1"); err == nil {
			t.Fatalf("the dialer's handshake passed on %q", b)
		}
	})
}

// silentPeer is a port that accepts connections and never answers (a
// stopped process: the kernel still accepts). accepted gets each
// connection.
func silentPeer(t *testing.T) (addr string, accepted <-chan net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan net.Conn, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ch <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		close(ch)
		for c := range ch {
			c.Close()
		}
	})
	return ln.Addr().String(), ch
}

// TestStalledHandshake: a peer that never answers the handshake holds
// no other call past its own timeout (it waits for the dial under way
// until its deadline, not for the dial's), and Close interrupts the
// handshake at once.
func TestStalledHandshake(t *testing.T) {
	addr, accepted := silentPeer(t)
	a := listen(t)
	errc := make(chan error, 1)
	go func() {
		_, err := a.Call(addr, 1, nil, time.Minute)
		errc <- err
	}()
	// The dialer's preamble arrived: it waits for the answer.
	if _, err := io.ReadFull(<-accepted, make([]byte, len(preambleV3))); err != nil {
		t.Fatal(err)
	}
	const timeout = 300 * time.Millisecond
	start := time.Now()
	if _, err := a.Call(addr, 1, nil, timeout); err == nil {
		t.Fatal("a call to a silent peer succeeded")
	}
	if d := time.Since(start); d > 3*timeout {
		t.Fatalf("a call with a %v timeout took %v behind a stalled handshake", timeout, d)
	}
	start = time.Now()
	a.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("the call dialing during Close: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("Close took %v", d)
	}
}
