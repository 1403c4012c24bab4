// Package metrics scrapes an edge's Prometheus /metrics endpoint (text
// exposition format, parsed with prometheus/common/expfmt) and extracts the
// few series the load generator reports: resident memory, CPU seconds and
// open connections.
//
// It must not touch: the edge's metric registration (edge/metrics.go) or
// any server internals; it only reads what any Prometheus server could.
package metrics
