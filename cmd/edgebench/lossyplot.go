package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/edgegate/edgegate/bench/loadgen"
)

// transportStyle gives each transport one color and dash pattern in every
// plot.
var transportStyle = map[string]struct {
	color color.Color
	dash  []vg.Length
}{
	"ws":              {color.RGBA{R: 200, G: 60, B: 50, A: 255}, nil},
	"quic-stream":     {color.RGBA{R: 230, G: 150, B: 20, A: 255}, []vg.Length{vg.Points(6), vg.Points(3)}},
	"quic-fec":        {color.RGBA{R: 30, G: 110, B: 200, A: 255}, nil},
	"quic-fec-inquic": {color.RGBA{R: 130, G: 70, B: 180, A: 255}, []vg.Length{vg.Points(4), vg.Points(2), vg.Points(1), vg.Points(2)}},
	"auto":            {color.RGBA{R: 90, G: 160, B: 70, A: 255}, []vg.Length{vg.Points(2), vg.Points(2)}},
}

// writeLossyPlots writes, for each RTT, the latency distribution of every
// transport in every link condition: one panel per condition, each a
// percentile curve (p50, p90, p99, p99.9, max: the share of messages
// delivered within x ms, each point the median over the runs).
func writeLossyPlots(cells map[lossyKey][]*loadgen.Result, dir string) ([]string, error) {
	byRTT := map[float64][]lossyKey{}
	for k := range cells {
		byRTT[k.rtt] = append(byRTT[k.rtt], k)
	}
	var files []string
	for rtt, keys := range byRTT {
		type cond struct{ loss, burst float64 }
		var conds []cond
		for _, k := range keys {
			if c := (cond{k.loss, k.burst}); !slices.Contains(conds, c) {
				conds = append(conds, c)
			}
		}
		slices.SortFunc(conds, func(a, b cond) int {
			if a.burst != b.burst {
				return int(a.burst - b.burst)
			}
			return int(a.loss - b.loss)
		})
		plots := make([][]*plot.Plot, 1)
		for _, c := range conds {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("RTT %.0f ms, loss %g%%", rtt, c.loss)
			if c.burst > 1 {
				p.Title.Text += fmt.Sprintf(" (bursts of %g)", c.burst)
			}
			p.X.Label.Text = "delivery latency (ms, log)"
			p.Y.Label.Text = "delivered within x"
			p.X.Scale = plot.LogScale{}
			p.X.Tick.Marker = plot.LogTicks{Prec: -1}
			// The y axis counts nines (50%, 90%, 99%, 99.9%, all), so the
			// tail, where transports differ, gets the room.
			p.Y.Min, p.Y.Max = 0.2, 3.6
			p.Y.Tick.Marker = plot.ConstantTicks{{Value: nines(0.5), Label: "50%"}, {Value: nines(0.9), Label: "90%"},
				{Value: nines(0.99), Label: "99%"}, {Value: nines(0.999), Label: "99.9%"}, {Value: nines(1), Label: "max"}}
			p.Legend.Top, p.Legend.Left = false, false
			p.Legend.YOffs = vg.Points(20)
			for _, tr := range lossyTransports {
				rs := cells[lossyKey{rtt, c.loss, c.burst, tr}]
				if len(rs) == 0 {
					continue
				}
				q := medianPercentiles(rs)
				pts := plotter.XYs{{X: q[0], Y: nines(0.5)}, {X: q[1], Y: nines(0.9)}, {X: q[2], Y: nines(0.99)}, {X: q[3], Y: nines(0.999)}, {X: q[4], Y: nines(1)}}
				line, err := plotter.NewLine(pts)
				if err != nil {
					return nil, err
				}
				st := transportStyle[tr]
				line.Color, line.Dashes, line.Width = st.color, st.dash, vg.Points(2)
				p.Add(line)
				p.Legend.Add(tr, line)
			}
			plots[0] = append(plots[0], p)
		}
		if len(plots[0]) == 0 {
			continue
		}
		w, h := vg.Length(len(plots[0]))*vg.Points(330), vg.Points(300)
		name := filepath.Join(dir, fmt.Sprintf("lossy-rtt%.0f.png", rtt))
		if err := savePNG(drawTiles(plots, w, h), name); err != nil {
			return nil, err
		}
		files = append(files, name)
	}
	slices.Sort(files)
	return files, nil
}

// nines maps a quantile to the y axis: -log10(1-q), and the max (q = 1)
// half a decade above p99.9.
func nines(q float64) float64 {
	if q >= 1 {
		return 3.5
	}
	return -math.Log10(1 - q)
}

// medianPercentiles returns the medians over runs of p50, p90, p99, p99.9
// and max (each at least 1 ms, for the log scale).
func medianPercentiles(rs []*loadgen.Result) [5]float64 {
	var out [5]float64
	for i, get := range []func(loadgen.Percentiles) float64{
		func(p loadgen.Percentiles) float64 { return p.P50 },
		func(p loadgen.Percentiles) float64 { return p.P90 },
		func(p loadgen.Percentiles) float64 { return p.P99 },
		func(p loadgen.Percentiles) float64 { return p.P999 },
		func(p loadgen.Percentiles) float64 { return p.Max },
	} {
		v := make([]float64, len(rs))
		for j, r := range rs {
			v[j] = get(r.Latency)
		}
		slices.Sort(v)
		out[i] = math.Max(v[len(v)/2], 1)
	}
	return out
}

// drawTiles lays plots out in a grid on a new canvas.
func drawTiles(plots [][]*plot.Plot, w, h vg.Length) *vgimg.Canvas {
	c := vgimg.New(w, h)
	t := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: vg.Points(8), PadY: vg.Points(8),
		PadTop: vg.Points(4), PadBottom: vg.Points(4), PadLeft: vg.Points(4), PadRight: vg.Points(4)}
	canvases := plot.Align(plots, t, draw.New(c))
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	return c
}

// savePNG writes c as a PNG file.
func savePNG(c *vgimg.Canvas, name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
