package nodelink

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package on leaked goroutines: Close must wait for
// every dial loop, reader and writer.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
