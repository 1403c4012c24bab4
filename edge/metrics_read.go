package edge

import (
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gathered is one read of the node's metrics registry, by family name:
// what /v1/status and the health score see is what /metrics exports.
type gathered map[string]*dto.MetricFamily

func gather(reg *prometheus.Registry) (gathered, error) {
	mfs, err := reg.Gather()
	if err != nil {
		return nil, err
	}
	g := make(gathered, len(mfs))
	for _, mf := range mfs {
		g[mf.GetName()] = mf
	}
	return g, nil
}

// byLabel sums a family's counter and gauge values per value of label
// (all under "" when label is empty or absent).
func (g gathered) byLabel(name, label string) map[string]float64 {
	out := map[string]float64{}
	mf := g[name]
	if mf == nil {
		return out
	}
	for _, m := range mf.GetMetric() {
		key := ""
		for _, lp := range m.GetLabel() {
			if lp.GetName() == label {
				key = lp.GetValue()
			}
		}
		switch {
		case m.Counter != nil:
			out[key] += m.GetCounter().GetValue()
		case m.Gauge != nil:
			out[key] += m.GetGauge().GetValue()
		}
	}
	return out
}

// total sums a family's values.
func (g gathered) total(name string) float64 { return g.byLabel(name, "")[""] }
