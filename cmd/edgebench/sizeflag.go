package main

import (
	"fmt"
	"strconv"
	"strings"
)

// sizeRange is a --size flag: one body size ("500") or a range
// ("100-1000", each message's size uniform in it).
type sizeRange struct{ min, max int }

func (s *sizeRange) String() string {
	if s.max > s.min {
		return fmt.Sprintf("%d-%d", s.min, s.max)
	}
	return strconv.Itoa(s.min)
}

func (s *sizeRange) Set(v string) error {
	lo, hi, isRange := strings.Cut(v, "-")
	a, err := strconv.Atoi(lo)
	if err != nil {
		return fmt.Errorf("size %q: want N or MIN-MAX bytes", v)
	}
	b := a
	if isRange {
		if b, err = strconv.Atoi(hi); err != nil || b < a {
			return fmt.Errorf("size %q: want N or MIN-MAX bytes with MIN <= MAX", v)
		}
	}
	s.min, s.max = a, b
	return nil
}
