package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"

	"github.com/edgegate/edgegate/bench/loadgen"
)

// lossyKey names one cell of the lossy matrix and one transport.
type lossyKey struct {
	rtt, loss, burst float64
	tr               string
}

// runLossyTable is `edgebench lossy-table FILE [PLOTDIR]`: it reads the
// JSON results of `edgebench lossy --json` runs (concatenated, as `make
// bench-lossy` writes them) and prints a Markdown table with the median of
// the runs of each link condition and transport (residual %: quic-fec's
// residual loss before retransmission, "-" without FEC data packets);
// with PLOTDIR it also writes a latency plot per RTT there
// (lossy-rtt<RTT>.png).
func runLossyTable(args []string, stdout io.Writer) error {
	if len(args) != 1 && len(args) != 2 {
		return errors.New("usage: edgebench lossy-table RESULTS.json [PLOTDIR]")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return err
	}
	defer f.Close()
	runs := map[lossyKey][]*loadgen.Result{}
	dec := json.NewDecoder(f)
	for {
		var r loadgen.Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("%s: %w", args[0], err)
		}
		k := lossyKey{r.RTTMs, r.LossPct, r.BurstLen, r.Transport}
		runs[k] = append(runs[k], &r)
	}
	keys := make([]lossyKey, 0, len(runs))
	for k := range runs {
		keys = append(keys, k)
	}
	order := make(map[string]int, len(lossyTransports))
	for i, tr := range lossyTransports {
		order[tr] = i
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		switch {
		case a.rtt != b.rtt:
			return a.rtt < b.rtt
		case a.burst != b.burst:
			return a.burst < b.burst
		case a.loss != b.loss:
			return a.loss < b.loss
		}
		return order[a.tr] < order[b.tr]
	})
	fmt.Fprintln(stdout, "| RTT ms | loss % | burst | transport | runs | p50 ms | p99 ms | lost | dup | reordered | overhead | fec_recovered | retransmitted | residual % |")
	fmt.Fprintln(stdout, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
	for _, k := range keys {
		rs := runs[k]
		med := func(get func(*loadgen.Result) float64) float64 {
			v := make([]float64, len(rs))
			for i, r := range rs {
				v[i] = get(r)
			}
			slices.Sort(v)
			return v[len(v)/2]
		}
		var lost, dup, reord uint64
		for _, r := range rs {
			lost += r.Lost
			dup += r.Duplicates
			reord += r.Reordered
		}
		fmt.Fprintf(stdout, "| %.0f | %g | %g | %s | %d | %.0f | %.0f | %d | %d | %d | %.2f | %.0f | %.0f | %s |\n",
			k.rtt, k.loss, k.burst, k.tr, len(rs),
			med(func(r *loadgen.Result) float64 { return r.Latency.P50 }),
			med(func(r *loadgen.Result) float64 { return r.Latency.P99 }),
			lost, dup, reord,
			med(func(r *loadgen.Result) float64 { return r.OverheadRatio }),
			med(func(r *loadgen.Result) float64 { return float64(deref(r.FECRecovered)) }),
			med(func(r *loadgen.Result) float64 { return float64(deref(r.Retransmitted)) }),
			medianResidual(rs))
	}
	if len(args) == 2 {
		files, err := writeLossyPlots(runs, args[1])
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout)
		for _, f := range files {
			fmt.Fprintf(stdout, "![latency %s](%s)\n", filepath.Base(f), filepath.Base(f))
		}
	}
	return nil
}

// medianResidual formats the median residual loss, in percent, of the
// runs that sent FEC data packets: "-" when none did.
func medianResidual(rs []*loadgen.Result) string {
	var v []float64
	for _, r := range rs {
		if r.ResidualLoss != nil {
			v = append(v, *r.ResidualLoss*100)
		}
	}
	if len(v) == 0 {
		return "-"
	}
	slices.Sort(v)
	return fmt.Sprintf("%.2f", v[len(v)/2])
}

func deref(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

// lossyTransports are the transports of the lossy matrix, in the order of
// the table's rows and the plots' legends.
var lossyTransports = []string{"ws", "quic-stream", "quic-fec-inquic", "quic-fec", "auto"}
