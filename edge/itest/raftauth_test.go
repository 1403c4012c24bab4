package itest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRaftRegionNeedsSecret: the edge binary refuses to start a region
// with other nodes in --peers and no Raft secret, and names the flags
// that fix it.
func TestRaftRegionNeedsSecret(t *testing.T) {
	// An edge that wrongly starts is killed after 20 s (and the test fails).
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, edgeBin, "--listen", freePort(t), "--data", filepath.Join(t.TempDir(), "data"),
		"--auth-hmac-secret", secret, "--node-id", "n0", "--raft-listen", freePort(t),
		"--peers", "n0@127.0.0.1:1,n1@127.0.0.1:2")
	cmd.Env = append(os.Environ(), "EDGEGATE_RAFT_SECRET=", "EDGEGATE_RAFT_SECRET_FILE=", "EDGEGATE_RAFT_INSECURE=false")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the edge started without a Raft secret:\n%s", out)
	}
	if !strings.Contains(string(out), "--raft-secret-file") || !strings.Contains(string(out), "--raft-insecure") {
		t.Fatalf("exit %v without naming the flags:\n%s", err, out)
	}
}
