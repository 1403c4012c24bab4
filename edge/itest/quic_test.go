package itest

import (
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/edgegate/edgegate/client"
	"github.com/edgegate/edgegate/transport"
	"github.com/edgegate/edgegate/transport/pb"
)

// quicCertFiles writes a self-signed certificate and key as PEM files and
// returns their paths and a client TLS config pinned to it.
func quicCertFiles(t *testing.T) (certFile, keyFile string, pin *tls.Config) {
	t.Helper()
	cert, err := transport.SelfSignedCert(time.Hour, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalECPrivateKey(cert.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	if pin, err = transport.PinnedTLSConfig(transport.CertFingerprint(cert)); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, pin
}

// freeUDPPort returns a UDP port free on 127.0.0.1 right now.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// TestQUICClientsOnARealEdge: a client on QUIC and one on WebSocket chat
// through a real edge process; on SIGTERM the QUIC client is redirected
// (over QUIC) to a second edge and goes on there.
func TestQUICClientsOnARealEdge(t *testing.T) {
	certFile, keyFile, pin := quicCertFiles(t)
	q1, q2 := freeUDPPort(t), freeUDPPort(t)
	addr2 := freePort(t)
	p2 := startEdge(t, addr2, t.TempDir(), "--quic-listen", q2, "--quic-cert", certFile, "--quic-key", keyFile)
	defer p2.term()
	addr1 := freePort(t)
	p1 := startEdge(t, addr1, t.TempDir(), "--quic-listen", q1, "--quic-cert", certFile, "--quic-key", keyFile,
		"--drain-redirect", client.QUICScheme+q2)

	conv := "dm:alice:bob"
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := client.Config{URL: client.QUICScheme + q1, Token: token(t, "alice", []string{conv}, nil), DeviceID: "phone",
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}
	cfg.Dial = client.DialAny(cfg, pin)
	alice, err := client.Dial(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	bob := dialClient(t, p1.url(), "bob", "laptop", []string{conv}, nil)
	for _, c := range []*client.Client{alice, bob} {
		if _, err := c.Subscribe(ctx, conv); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 10 {
		if _, err := alice.Send(ctx, conv, []byte(fmt.Sprint("over quic ", i))); err != nil {
			t.Fatal(err)
		}
	}
	var got []*pb.Message
	for len(got) < 10 {
		select {
		case m := <-bob.Messages():
			got = append(got, m)
		case <-ctx.Done():
			t.Fatalf("bob received %d of 10 messages sent over QUIC", len(got))
		}
	}
	checkOrder(t, got, 1)

	// Drain edge 1: alice follows the QUIC redirect to edge 2.
	if err := p1.term(); err != nil {
		t.Fatalf("edge 1 exit: %v", err)
	}
	ack, err := alice.Send(ctx, "dm:alice:bob", []byte("on edge 2"))
	if err != nil {
		t.Fatalf("send after the redirect: %v", err)
	}
	if ack.Seq != 1 {
		t.Fatalf("edge 2 (its own store) acked seq %d, want 1", ack.Seq)
	}
	if st := alice.Stats(); st.Reconnects < 1 {
		t.Fatalf("alice did not reconnect: %+v", st)
	}
}
