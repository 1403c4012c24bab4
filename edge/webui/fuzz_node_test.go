package webui

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/edgegate/edgegate/transport"
)

// jsFuzzRuns is how many mutated frames TestJSDecoderFuzz feeds the JS
// decoder; EDGEGATE_JS_FUZZ_RUNS raises it for a longer run (make fuzz).
func jsFuzzRuns() int {
	if n, err := strconv.Atoi(os.Getenv("EDGEGATE_JS_FUZZ_RUNS")); err == nil && n > 0 {
		return n
	}
	return 200000
}

// TestJSDecoderFuzz is the browser SDK's decoder fuzz target: go test -fuzz
// cannot drive JavaScript, so a seeded mutation fuzzer runs under Node
// over real frames of every type made by Go (testdata/fuzz.mjs). The
// decoder must return or throw ProtocolError, never anything else, and
// what it decodes must round-trip.
func TestJSDecoderFuzz(t *testing.T) {
	var seeds []string
	for _, m := range agreeSamples() {
		b, err := transport.Encode(nil, m, nil)
		if err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, base64.StdEncoding.EncodeToString(b))
	}
	f := filepath.Join(t.TempDir(), "seeds.json")
	b, _ := json.Marshal(seeds)
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano() & 0x7fffffff
	t.Logf("rng seed %d (reproduce: node testdata/fuzz.mjs SEEDS N %d)", seed, seed)
	out := runNode(t, 25*time.Minute, "testdata/fuzz.mjs", f, strconv.Itoa(jsFuzzRuns()), strconv.FormatInt(seed, 10))
	var res struct {
		Runs, Decoded, Rejected int
		Failure, Input          string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("fuzz.mjs output %q: %v", out, err)
	}
	if res.Failure != "" {
		t.Fatalf("JS decoder failure on input %s: %s", res.Input, res.Failure)
	}
	if res.Decoded == 0 || res.Rejected == 0 || res.Decoded+res.Rejected != res.Runs {
		t.Fatalf("fuzz run %+v: expected both decoded and rejected inputs", res)
	}
	t.Logf("%d inputs: %d decoded, %d rejected", res.Runs, res.Decoded, res.Rejected)
}
