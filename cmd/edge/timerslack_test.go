package main

import (
	"testing"
	"time"
)

func TestTimerSlackFlag(t *testing.T) {
	for _, c := range []struct {
		flag       string
		replicated bool
		want       time.Duration
		err        bool
	}{
		{"auto", true, defaultRegionTimerSlack, false},
		{"auto", false, 0, false},
		{"", true, defaultRegionTimerSlack, false},
		{"off", true, 0, false},
		{"0", true, 0, false},
		{"2ms", false, 2 * time.Millisecond, false},
		{"101ms", true, 0, true},
		{"-1ms", true, 0, true},
		{"soon", true, 0, true},
	} {
		got, err := timerSlack(c.flag, c.replicated)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("timerSlack(%q, %v) = %v, %v; want %v, error %v", c.flag, c.replicated, got, err, c.want, c.err)
		}
	}
}
