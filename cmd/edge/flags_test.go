package main

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testRaftSecret = "edge-cmd-test-raft-secret-0123456789abcdef"

// noEnv is an empty environment.
func noEnv(string) (string, bool) { return "", false }

// envOf is an environment holding the Raft secret s.
func envOf(s string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == raftSecretEnv {
			return s, true
		}
		return "", false
	}
}

// TestRaftSecretSources: the secret comes from the file (white space
// around it dropped) or from EDGEGATE_RAFT_SECRET, not both; an empty or
// missing file is an error; neither source gives no secret.
func TestRaftSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "raft.key")
	if err := os.WriteFile(file, []byte(testRaftSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		file string
		env  func(string) (string, bool)
		want string
		err  string
	}{
		{"file", file, noEnv, testRaftSecret, ""},
		{"env", "", envOf(" " + testRaftSecret + "\n"), testRaftSecret, ""},
		{"both", file, envOf(testRaftSecret), "", "use one"},
		{"neither", "", noEnv, "", ""},
		{"empty env", "", envOf(""), "", ""},
		{"empty file", empty, noEnv, "", "is empty"},
		{"missing file", filepath.Join(dir, "nope"), noEnv, "", "--raft-secret-file"},
	} {
		got, err := raftSecret(c.file, c.env)
		if string(got) != c.want || (err == nil) != (c.err == "") || (err != nil && !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s: %q, %v; want %q, %q", c.name, got, err, c.want, c.err)
		}
	}
}

// TestRaftSecretFlags: --raft-secret-file (also as
// EDGEGATE_RAFT_SECRET_FILE) and --raft-insecure reach edge.Config.
func TestRaftSecretFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "raft.key")
	if err := os.WriteFile(file, []byte(testRaftSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args, environ []string
		secret        string
		insecure      bool
	}{
		{[]string{"--raft-secret-file", file}, nil, testRaftSecret, false},
		{nil, []string{"EDGEGATE_RAFT_SECRET_FILE=" + file}, testRaftSecret, false},
		{[]string{"--raft-insecure"}, nil, "", true},
	} {
		fs := flag.NewFlagSet("edge", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o := defineFlags(fs)
		if err := fs.Parse(append([]string{"--data", "d"}, c.args...)); err != nil {
			t.Fatal(err)
		}
		if err := applyFileAndEnv(fs, "", c.environ); err != nil {
			t.Fatal(err)
		}
		cfg, err := o.config(noEnv)
		if err != nil || string(cfg.RaftSecret) != c.secret || cfg.RaftInsecure != c.insecure {
			t.Errorf("%v %v: secret %q, insecure %v, %v", c.args, c.environ, cfg.RaftSecret, cfg.RaftInsecure, err)
		}
	}
}

// TestRegionWithoutSecretRefused: the edge does not start with --peers
// naming other nodes and no Raft secret, and says what to set.
func TestRegionWithoutSecretRefused(t *testing.T) {
	t.Setenv(raftSecretEnv, "")
	err := run([]string{"--data", t.TempDir(), "--auth-hmac-secret", testRaftSecret, "--node-id", "a",
		"--raft-listen", "127.0.0.1:0", "--peers", "a@127.0.0.1:1,b@127.0.0.1:2"})
	if err == nil || !strings.Contains(err.Error(), "--raft-secret-file") || !strings.Contains(err.Error(), "--raft-insecure") {
		t.Fatalf("run: %v", err)
	}
	t.Log(err)
}
