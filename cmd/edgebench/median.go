package main

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/edgegate/edgegate/bench/loadgen"
)

// multiResult is the output of --runs N > 1: every field of the embedded
// Result is the median of that field over the runs (each field on its own,
// so the p99 shown is the median p99, not the p99 of one chosen run), and
// Runs holds every run as measured.
type multiResult struct {
	*loadgen.Result
	MedianOf int               `json:"median_of"`
	Runs     []*loadgen.Result `json:"runs"`
}

// medianResult returns a Result whose numeric fields are the per-field
// medians of rs (the lower middle for an even count, so every figure is
// one that was measured); other fields come from the first run.
func medianResult(rs []*loadgen.Result) (*loadgen.Result, error) {
	maps := make([]any, len(rs))
	for i, r := range rs {
		b, err := json.Marshal(r)
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &maps[i]); err != nil {
			return nil, err
		}
	}
	b, err := json.Marshal(medianValue(maps))
	if err != nil {
		return nil, err
	}
	var out loadgen.Result
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("median: %w", err)
	}
	return &out, nil
}

// medianValue merges decoded JSON values: numbers by median, objects key
// by key, anything else from the first value.
func medianValue(vs []any) any {
	switch first := vs[0].(type) {
	case float64:
		nums := make([]float64, 0, len(vs))
		for _, v := range vs {
			if f, ok := v.(float64); ok {
				nums = append(nums, f)
			}
		}
		slices.Sort(nums)
		return nums[(len(nums)-1)/2]
	case map[string]any:
		out := make(map[string]any, len(first))
		for k := range first {
			var sub []any
			for _, v := range vs {
				if m, ok := v.(map[string]any); ok {
					if x, ok := m[k]; ok {
						sub = append(sub, x)
					}
				}
			}
			out[k] = medianValue(sub)
		}
		return out
	default:
		return first
	}
}
