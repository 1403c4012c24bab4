package metrics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series names read by Snapshot.Node.
const (
	RSSMetric         = "process_resident_memory_bytes"
	CPUMetric         = "process_cpu_seconds_total"
	ConnectionsMetric = "edgegate_connections"
	// FECRecoveredMetric, FECRetransmittedMetric, FECDataPacketsMetric and
	// FECNackedDataMetric are the edge's quic-fec counters.
	FECRecoveredMetric     = "edgegate_fec_recovered_total"
	FECRetransmittedMetric = "edgegate_fec_retransmitted_total"
	FECDataPacketsMetric   = "edgegate_fec_data_packets_total"
	FECNackedDataMetric    = "edgegate_fec_nacked_data_total"
)

// maxBody bounds a scraped exposition.
const maxBody = 32 << 20

// Sentinel errors.
var (
	// ErrParse wraps every exposition parse failure.
	ErrParse = errors.New("metrics: malformed exposition")
	// ErrStatus: the endpoint answered with a non-200 status.
	ErrStatus = errors.New("metrics: unexpected HTTP status")
	// ErrMissing: a required series is absent.
	ErrMissing = errors.New("metrics: series missing")
)

// Snapshot is one parsed exposition.
type Snapshot struct {
	families map[string]*dto.MetricFamily
}

// Parse reads a Prometheus text exposition.
func Parse(r io.Reader) (*Snapshot, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParse, err)
	}
	return &Snapshot{families: fams}, nil
}

// Has reports whether the exposition has a family called name.
func (s *Snapshot) Has(name string) bool { _, ok := s.families[name]; return ok }

// Sum returns the sum of every sample of the gauge, counter or untyped
// family name (over all label values), and whether the family exists.
func (s *Snapshot) Sum(name string) (float64, bool) {
	f, ok := s.families[name]
	if !ok {
		return 0, false
	}
	var sum float64
	for _, m := range f.GetMetric() {
		sum += value(m)
	}
	return sum, true
}

// Value returns the sample of family name whose labels include every
// name/value pair in labels (given as "name", "value", ...).
func (s *Snapshot) Value(name string, labels ...string) (float64, bool) {
	f, ok := s.families[name]
	if !ok || len(labels)%2 != 0 {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		for i := 0; i < len(labels); i += 2 {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
					found = true
					break
				}
			}
			if !found {
				continue next
			}
		}
		return value(m), true
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	var v float64
	switch {
	case m.GetGauge() != nil:
		v = m.GetGauge().GetValue()
	case m.GetCounter() != nil:
		v = m.GetCounter().GetValue()
	case m.GetUntyped() != nil:
		v = m.GetUntyped().GetValue()
	}
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// NodeStats are the process figures of one edge.
type NodeStats struct {
	// RSSBytes is process_resident_memory_bytes.
	RSSBytes uint64
	// CPUSeconds is process_cpu_seconds_total (user + system).
	CPUSeconds float64
	// Connections is edgegate_connections summed over transports (0 when
	// the edge does not export it).
	Connections float64
	// FECRecovered and FECRetransmitted are the edge's quic-fec counters
	// (0 when it has none).
	FECRecovered, FECRetransmitted uint64
	// FECDataPackets counts the FEC data packets the edge sent and
	// FECUnrecoverable those of them clients NACKed
	// (edgegate_fec_nacked_data_total); 0 when it has none.
	FECDataPackets, FECUnrecoverable uint64
}

// Node extracts NodeStats. RSS and CPU are required.
func (s *Snapshot) Node() (NodeStats, error) {
	rss, ok := s.Sum(RSSMetric)
	if !ok {
		return NodeStats{}, fmt.Errorf("%w: %s", ErrMissing, RSSMetric)
	}
	cpu, ok := s.Sum(CPUMetric)
	if !ok {
		return NodeStats{}, fmt.Errorf("%w: %s", ErrMissing, CPUMetric)
	}
	conns, _ := s.Sum(ConnectionsMetric)
	return NodeStats{RSSBytes: uint64(max(rss, 0)), CPUSeconds: cpu, Connections: conns,
		FECRecovered: s.count(FECRecoveredMetric), FECRetransmitted: s.count(FECRetransmittedMetric),
		FECDataPackets: s.count(FECDataPacketsMetric), FECUnrecoverable: s.count(FECNackedDataMetric)}, nil
}

// count returns the counter family name summed, 0 when it is missing.
func (s *Snapshot) count(name string) uint64 {
	v, _ := s.Sum(name)
	return uint64(max(v, 0))
}

// Scraper fetches expositions over HTTP. The zero value is usable.
type Scraper struct {
	// Client does the requests. Default: a client with a 10 s timeout.
	Client *http.Client
	// Header is added to every request (e.g. Authorization).
	Header http.Header
}

var defaultClient = &http.Client{Timeout: 10 * time.Second}

// Scrape fetches and parses url (e.g. http://127.0.0.1:8080/metrics).
func (sc *Scraper) Scrape(ctx context.Context, url string) (*Snapshot, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for k, v := range sc.Header {
		req.Header[k] = v
	}
	// Ask for the plain text format, not protobuf or OpenMetrics.
	req.Header.Set("Accept", "text/plain; version=0.0.4")
	c := sc.Client
	if c == nil {
		c = defaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics: scrape %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%w: %s from %s", ErrStatus, resp.Status, url)
	}
	return Parse(io.LimitReader(resp.Body, maxBody))
}

// ScrapeNode scrapes url and extracts NodeStats.
func (sc *Scraper) ScrapeNode(ctx context.Context, url string) (NodeStats, error) {
	s, err := sc.Scrape(ctx, url)
	if err != nil {
		return NodeStats{}, err
	}
	return s.Node()
}
