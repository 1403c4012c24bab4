package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const sample = `# HELP edgegate_connections Open client connections by transport.
# TYPE edgegate_connections gauge
edgegate_connections{transport="ws"} 17
edgegate_connections{transport="quic-stream"} 3
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.34
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 1.2345678e+07
# HELP edgegate_append_seconds Time to durably order one message (until the ack).
# TYPE edgegate_append_seconds histogram
edgegate_append_seconds_bucket{le="0.0002"} 1
edgegate_append_seconds_bucket{le="+Inf"} 4
edgegate_append_seconds_sum 0.01
edgegate_append_seconds_count 4
# TYPE edgegate_errors_total counter
edgegate_errors_total{code="RATE_LIMITED"} 2
edgegate_errors_total{code="FORBIDDEN"} 5
# TYPE edgegate_fec_recovered_total counter
edgegate_fec_recovered_total 40
# TYPE edgegate_fec_retransmitted_total counter
edgegate_fec_retransmitted_total 9
# TYPE edgegate_fec_data_packets_total counter
edgegate_fec_data_packets_total 1000
# TYPE edgegate_fec_nacked_data_total counter
edgegate_fec_nacked_data_total 3
`

func TestParseSample(t *testing.T) {
	s, err := Parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Node()
	if err != nil {
		t.Fatal(err)
	}
	if n.RSSBytes != 12345678 || n.CPUSeconds != 12.34 || n.Connections != 20 {
		t.Fatalf("node stats %+v", n)
	}
	if n.FECRecovered != 40 || n.FECRetransmitted != 9 || n.FECDataPackets != 1000 || n.FECUnrecoverable != 3 {
		t.Fatalf("quic-fec counters %+v", n)
	}
	if v, ok := s.Value("edgegate_errors_total", "code", "FORBIDDEN"); !ok || v != 5 {
		t.Fatalf("labelled value %v %v", v, ok)
	}
	if _, ok := s.Value("edgegate_errors_total", "code", "NOPE"); ok {
		t.Fatal("matched a missing label value")
	}
	if _, ok := s.Value("edgegate_errors_total", "code"); ok {
		t.Fatal("odd label list accepted")
	}
	if !s.Has("edgegate_append_seconds") || s.Has("nope") {
		t.Fatal("Has")
	}
}

func TestParseErrors(t *testing.T) {
	if _, err := Parse(strings.NewReader("metric{ 1\n")); !errors.Is(err, ErrParse) {
		t.Fatalf("err %v, want ErrParse", err)
	}
	s, err := Parse(strings.NewReader("# TYPE x gauge\nx 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Node(); !errors.Is(err, ErrMissing) {
		t.Fatalf("err %v, want ErrMissing", err)
	}
}

func TestScrapeHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer k" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(sample))
	}))
	defer srv.Close()
	sc := &Scraper{Header: http.Header{"Authorization": {"Bearer k"}}}
	n, err := sc.ScrapeNode(context.Background(), srv.URL+"/metrics")
	if err != nil || n.RSSBytes != 12345678 {
		t.Fatalf("%+v %v", n, err)
	}
	if _, err := (&Scraper{}).Scrape(context.Background(), srv.URL); !errors.Is(err, ErrStatus) {
		t.Fatalf("err %v, want ErrStatus", err)
	}
	srv.Client().CloseIdleConnections()
	defaultClient.CloseIdleConnections()
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(sample))
	f.Add([]byte("process_resident_memory_bytes 1\nprocess_cpu_seconds_total 2\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Parse(strings.NewReader(string(b)))
		if err != nil {
			return
		}
		_, _ = s.Node()
		_, _ = s.Sum(ConnectionsMetric)
	})
}
