package client

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
)

// TestDialAnyQUICFECOptions: an unknown quic+fec:// option is a
// configuration error, named in the message, before anything is dialed.
func TestDialAnyQUICFECOptions(t *testing.T) {
	dial := DialAny(Config{}, &tls.Config{})
	_, err := dial(context.Background(), "quic+fec://127.0.0.1:1?datagrams=carrier-pigeon")
	if !errors.Is(err, ErrConfig) {
		t.Fatalf("unknown option: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the known options get as far as dialing, which fails at once
	for _, url := range []string{"quic+fec://127.0.0.1:1?datagrams=quic", "quic+fec://127.0.0.1:1?datagrams=direct"} {
		if _, err := dial(ctx, url); err == nil || errors.Is(err, ErrConfig) {
			t.Fatalf("%s: %v", url, err)
		}
	}
}
