package edge

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package on leaked goroutines. It allows a grace
// period, as gossip's does: memberlist's Shutdown (in-process clusters,
// presence_cluster_test.go) does not wait for a probe in flight, which
// ends on its own within seconds.
func TestMain(m *testing.M) {
	opts := []goleak.Option{
		// pebble and glog-style background goroutines end with the store;
		// the ones below are process-wide caches of dependencies.
		goleak.IgnoreTopFunction("github.com/klauspost/compress/zstd.(*blockDec).startDecoder"),
		goleak.IgnoreAnyFunction("github.com/cockroachdb/pebble/v2/internal/cache.(*shard).releaseLoop"),
	}
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for goleak.Find(opts...) != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
