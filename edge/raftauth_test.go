package edge

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/edgegate/edgegate/edge/raftgroup"
)

// TestRaftSecretRequired: a region with nodes other than this one needs a
// RaftSecret of at least 32 bytes, unless RaftInsecure; a region of one
// needs none. New refuses to start without it.
func TestRaftSecretRequired(t *testing.T) {
	region := []raftgroup.Peer{{ID: "a", Addr: "127.0.0.1:1"}, {ID: "b", Addr: "127.0.0.1:2"}}
	for _, c := range []struct {
		name     string
		peers    []raftgroup.Peer
		secret   []byte
		insecure bool
		err      string // "" for valid
	}{
		{"region without a secret", region, nil, false, "no RaftSecret, but Peers names other nodes (b)"},
		{"region, insecure", region, nil, true, ""},
		{"region with a secret", region, testRaftSecret, false, ""},
		{"region with a short secret", region, testRaftSecret[:31], false, "RaftSecret is 31 bytes; use at least 32"},
		{"short secret, insecure", region, testRaftSecret[:31], true, "RaftSecret is 31 bytes"},
		{"this node alone in Peers", region[:1], nil, false, ""},
		{"no peers", nil, nil, false, ""},
	} {
		cfg := Config{NodeID: "a", DataDir: t.TempDir(), AuthHMACSecret: []byte(testSecret),
			RaftListen: "127.0.0.1:0", Peers: c.peers, RaftSecret: c.secret, RaftInsecure: c.insecure}
		cfg.setDefaults()
		err := cfg.Validate()
		if (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %v, want %q", c.name, err, c.err)
		}
	}
	cfg := Config{NodeID: "a", DataDir: t.TempDir(), AuthHMACSecret: []byte(testSecret), RaftListen: "127.0.0.1:0", Peers: region, Logger: discardLogger()}
	if srv, err := New(cfg); err == nil || !strings.Contains(err.Error(), "--raft-secret-file") {
		if srv != nil {
			srv.Close()
		}
		t.Fatalf("New without a region secret: %v", err)
	}
}

// TestRaftRefusedConnectionCounted: a connection to the Raft port of an
// edge with a secret that does not authenticate (an older preamble) is
// closed and shows in edgegate_raft_refused_connections_total.
func TestRaftRefusedConnectionCounted(t *testing.T) {
	e := startEdge(t, func(c *Config) {
		c.RaftListen, c.RaftGroups, c.RaftSecret = "127.0.0.1:0", 1, testRaftSecret
	})
	if body := scrape(t, e); !strings.Contains(body, "edgegate_raft_refused_connections_total 0") ||
		!strings.Contains(body, "edgegate_raft_peer_auth_failures_total 0") {
		t.Fatalf("metrics before:\n%s", grepLines(body, "edgegate_raft"))
	}
	c, err := net.Dial("tcp", string(e.srv.repl.mux.Addr()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(append([]byte("EGRAFT2\n\x03a:1"), bytes.Repeat([]byte{0}, 20)...)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || strings.Contains(err.Error(), "timeout") {
		t.Fatalf("read %d bytes, %v: want the connection closed", n, err)
	}
	// The refusal is counted before the connection is closed.
	if body := scrape(t, e); !strings.Contains(body, "edgegate_raft_refused_connections_total 1") {
		t.Fatalf("metrics after:\n%s", grepLines(body, "edgegate_raft"))
	}
}
