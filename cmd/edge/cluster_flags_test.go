package main

import (
	"flag"
	"io"
	"strings"
	"testing"
)

// TestPublicAddressFlags: --public-url and --public-quic-addr reach
// edge.Config; without them the addresses come from --listen and
// --quic-listen when those name a host, and stay unset (not advertised)
// for an unspecified host or port 0; edge.Config refuses unusable ones.
func TestPublicAddressFlags(t *testing.T) {
	for _, c := range []struct {
		args          []string
		wantURL, quic string
		invalid       string
	}{
		{nil, "ws://127.0.0.1:8080/v1/ws", "", ""},
		{[]string{"--listen", "10.1.2.3:9000", "--quic-listen", "10.1.2.3:8443"}, "ws://10.1.2.3:9000/v1/ws", "10.1.2.3:8443", ""},
		{[]string{"--listen", "[::1]:9000"}, "ws://[::1]:9000/v1/ws", "", ""},
		{[]string{"--listen", ":8080", "--quic-listen", ":8443"}, "", "", ""},
		{[]string{"--listen", "0.0.0.0:8080", "--quic-listen", "[::]:8443"}, "", "", ""},
		{[]string{"--listen", "127.0.0.1:0"}, "", "", ""},
		{[]string{"--listen", ":8080", "--public-url", "wss://edge1.example.com/v1/ws", "--public-quic-addr", "edge1.example.com:443"},
			"wss://edge1.example.com/v1/ws", "edge1.example.com:443", ""},
		{[]string{"--public-url", "http://edge1.example.com/v1/ws"}, "http://edge1.example.com/v1/ws", "", "want ws or wss"},
		{[]string{"--public-url", "ws://0.0.0.0:8080/v1/ws"}, "ws://0.0.0.0:8080/v1/ws", "", "unspecified address"},
		{[]string{"--public-url", "ws:///v1/ws"}, "ws:///v1/ws", "", "no host"},
		{[]string{"--public-quic-addr", "edge1.example.com"}, "ws://127.0.0.1:8080/v1/ws", "edge1.example.com", "PublicQUICAddr"},
		{[]string{"--public-quic-addr", "[::]:443"}, "ws://127.0.0.1:8080/v1/ws", "[::]:443", "unspecified address"},
	} {
		fs := flag.NewFlagSet("edge", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o := defineFlags(fs)
		if err := fs.Parse(append([]string{"--data", "d"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		cfg, err := o.config(noEnv)
		if err != nil || cfg.PublicURL != c.wantURL || cfg.PublicQUICAddr != c.quic {
			t.Errorf("%v: public URL %q, QUIC %q, %v; want %q, %q", c.args, cfg.PublicURL, cfg.PublicQUICAddr, err, c.wantURL, c.quic)
			continue
		}
		// Validate runs after New's defaults; these are the ones it checks.
		cfg.AuthHMACSecret, cfg.MaxFrameBytes, cfg.MaxMessageBytes = []byte(testRaftSecret), 64<<10, 16<<10
		err = cfg.Validate()
		if (err == nil) != (c.invalid == "") || (err != nil && !strings.Contains(err.Error(), c.invalid)) {
			t.Errorf("%v: Validate: %v, want an error with %q", c.args, err, c.invalid)
		}
	}
}
