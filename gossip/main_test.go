package gossip

import (
	"fmt"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestMain fails the package on leaked goroutines, like goleak.VerifyTestMain
// but with a longer grace period: memberlist's Shutdown does not wait for a
// probe in flight, which ends on its own within the probe interval scaled by
// memberlist's health awareness (up to 8 s with the LAN and local presets).
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		deadline := time.Now().Add(10 * time.Second)
		for goleak.Find() != nil && time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
		}
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}
