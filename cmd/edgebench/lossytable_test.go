package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgegate/edgegate/bench/loadgen"
)

// TestLossyTableAndPlot: medians per cell and transport, one row each, and
// a PNG per RTT that decodes.
func TestLossyTableAndPlot(t *testing.T) {
	dir := t.TempDir()
	var in bytes.Buffer
	enc := json.NewEncoder(&in)
	for _, rtt := range []float64{50, 200} {
		for _, loss := range []float64{0, 5, 10} {
			for i, tr := range []string{"ws", "quic-stream", "quic-fec"} {
				for run := range 3 {
					base := rtt + float64(run) // medians: the middle run
					r := loadgen.Result{Transport: tr, RTTMs: rtt, LossPct: loss, OverheadRatio: 1.5,
						Latency: loadgen.Percentiles{P50: base, P90: base + 10, P99: base + 100*loss/float64(i+1), P999: base + 200, Max: base + 300}}
					if tr == "quic-fec" {
						residual := float64(3-run) / 1000 // median 0.2 %
						r.ResidualLoss = &residual
					}
					if err := enc.Encode(r); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
	}
	file := filepath.Join(dir, "lossy.json")
	if err := os.WriteFile(file, in.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runLossyTable([]string{file, dir}, &out); err != nil {
		t.Fatal(err)
	}
	for _, row := range []string{
		"| 50 | 5 | 0 | quic-fec | 3 | 51 | 218 | 0 | 0 | 0 | 1.50 | 0 | 0 | 0.20 |",
		"| 50 | 5 | 0 | ws | 3 | 51 | 551 | 0 | 0 | 0 | 1.50 | 0 | 0 | - |",
	} {
		if !strings.Contains(out.String(), row) {
			t.Fatalf("no row %q in the table:\n%s", row, out.String())
		}
	}
	if n := strings.Count(out.String(), "\n| "); n != 18 {
		t.Fatalf("%d rows, want 18:\n%s", n, out.String())
	}
	for _, name := range []string{"lossy-rtt50.png", "lossy-rtt200.png"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil || img.Bounds().Dx() < 600 {
			t.Fatalf("%s: %v %v", name, err, img)
		}
	}
	if keep := os.Getenv("LOSSY_PLOT_DIR"); keep != "" {
		b, _ := os.ReadFile(filepath.Join(dir, "lossy-rtt50.png"))
		_ = os.WriteFile(filepath.Join(keep, "lossy-rtt50.png"), b, 0o644)
	}
}
