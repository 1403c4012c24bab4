package main

import "testing"

func TestSizeRangeFlag(t *testing.T) {
	for _, tc := range []struct {
		in       string
		min, max int
		bad      bool
	}{
		{in: "500", min: 500, max: 500},
		{in: "100-1000", min: 100, max: 1000},
		{in: "1000-100", bad: true},
		{in: "x", bad: true},
		{in: "100-", bad: true},
	} {
		var s sizeRange
		err := s.Set(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%q accepted as %v", tc.in, s)
			}
			continue
		}
		if err != nil || s.min != tc.min || s.max != tc.max || s.String() != tc.in {
			t.Errorf("%q: got %d-%d %q, %v", tc.in, s.min, s.max, s.String(), err)
		}
	}
}
