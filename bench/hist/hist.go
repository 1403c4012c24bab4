package hist

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	// subBits is the number of mantissa bits kept below the leading one:
	// 2^subBits sub-buckets per power of two.
	subBits  = 7
	subCount = 1 << subBits // 128
	// linearMax: values below it have a bucket each.
	linearMax = 2 * subCount // 256
	// NumBuckets is the number of buckets; values up to 2^64-1 fit.
	NumBuckets = linearMax + (64-subBits-1-1)*subCount + subCount
)

// ErrBadSnapshot is returned by FromSnapshot for a malformed snapshot.
var ErrBadSnapshot = errors.New("hist: bad snapshot")

// Histogram counts non-negative int64 values (nanoseconds, usually). The
// zero value is ready to use; all methods are safe for concurrent use.
// Quantiles read while Record runs are approximate snapshots.
type Histogram struct {
	counts [NumBuckets]atomic.Uint64
	total  atomic.Uint64
	max    atomic.Int64
	min    atomic.Int64 // stored as value+1 so 0 means "none"
}

// New returns an empty Histogram.
func New() *Histogram { return &Histogram{} }

// bucket returns the bucket index of v (v >= 0).
func bucket(v uint64) int {
	if v < linearMax {
		return int(v)
	}
	e := bits.Len64(v) - (subBits + 1) // >= 1
	m := v >> uint(e)                  // in [subCount, 2*subCount)
	return linearMax + (e-1)*subCount + int(m-subCount)
}

// bounds returns the smallest and largest value of bucket i.
func bounds(i int) (lo, hi uint64) {
	if i < linearMax {
		return uint64(i), uint64(i)
	}
	e := (i-linearMax)/subCount + 1
	m := uint64((i-linearMax)%subCount + subCount)
	lo = m << uint(e)
	hi = lo + (uint64(1) << uint(e)) - 1
	return lo, hi
}

// Record adds one value. Negative values count as 0.
func (h *Histogram) Record(v int64) {
	v = min(max(v, 0), math.MaxInt64-1)
	h.counts[bucket(uint64(v))].Add(1)
	h.total.Add(1)
	for {
		cur := h.max.Load()
		if v <= cur || h.max.CompareAndSwap(cur, v) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if (cur != 0 && v+1 >= cur) || h.min.CompareAndSwap(cur, v+1) {
			break
		}
	}
}

// RecordDuration adds d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.total.Load() }

// Max returns the largest recorded value (exact), 0 when empty.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Min returns the smallest recorded value (exact), 0 when empty.
func (h *Histogram) Min() int64 {
	if m := h.min.Load(); m > 0 {
		return m - 1
	}
	return 0
}

// Quantile returns the value at quantile q in [0, 1]: the smallest
// recorded value v such that at least q of all values are <= v, reported
// as the midpoint of its bucket (within 0.8%) and clamped to [Min, Max].
// It returns 0 when the histogram is empty.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.total.Load()
	if n == 0 {
		return 0
	}
	if math.IsNaN(q) || q < 0 {
		q = 0
	}
	if q > 1 {
		q = 1
	}
	rank := uint64(math.Ceil(q * float64(n)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i := range h.counts {
		c := h.counts[i].Load()
		if c == 0 {
			continue
		}
		seen += c
		if seen >= rank {
			lo, hi := bounds(i)
			v := int64(lo + (hi-lo)/2)
			return min(max(v, h.Min()), h.Max())
		}
	}
	return h.Max() // counts raced ahead of total
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.total.Add(o.total.Load())
	if o.total.Load() > 0 {
		h.mergeMinMax(o.Min(), o.Max())
	}
}

func (h *Histogram) mergeMinMax(lo, hi int64) {
	for {
		cur := h.max.Load()
		if hi <= cur || h.max.CompareAndSwap(cur, hi) {
			break
		}
	}
	for {
		cur := h.min.Load()
		if (cur != 0 && lo+1 >= cur) || h.min.CompareAndSwap(cur, lo+1) {
			break
		}
	}
}

// Snapshot is a sparse, JSON-friendly copy of a Histogram.
type Snapshot struct {
	// Buckets are [index, count] pairs for the non-empty buckets.
	Buckets [][2]uint64 `json:"buckets"`
	// Min and Max are the exact extremes.
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

// Snapshot returns a sparse copy of h.
func (h *Histogram) Snapshot() Snapshot {
	s := Snapshot{Min: h.Min(), Max: h.Max()}
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return s
}

// FromSnapshot rebuilds a Histogram from s, checking every field.
func FromSnapshot(s Snapshot) (*Histogram, error) {
	h := New()
	if len(s.Buckets) == 0 {
		if s.Min != 0 || s.Max != 0 {
			return nil, fmt.Errorf("%w: min/max set on an empty histogram", ErrBadSnapshot)
		}
		return h, nil
	}
	if s.Min < 0 || s.Max < s.Min || s.Max == math.MaxInt64 {
		return nil, fmt.Errorf("%w: min %d, max %d", ErrBadSnapshot, s.Min, s.Max)
	}
	var total uint64
	for _, b := range s.Buckets {
		if b[0] >= NumBuckets {
			return nil, fmt.Errorf("%w: bucket index %d out of range", ErrBadSnapshot, b[0])
		}
		if b[1] == 0 {
			return nil, fmt.Errorf("%w: empty bucket %d listed", ErrBadSnapshot, b[0])
		}
		lo, hi := bounds(int(b[0]))
		if hi < uint64(s.Min) || lo > uint64(s.Max) {
			return nil, fmt.Errorf("%w: bucket %d outside [min, max]", ErrBadSnapshot, b[0])
		}
		if total+b[1] < total {
			return nil, fmt.Errorf("%w: count overflow", ErrBadSnapshot)
		}
		total += b[1]
		h.counts[b[0]].Add(b[1])
	}
	h.total.Store(total)
	h.max.Store(s.Max)
	h.min.Store(s.Min + 1)
	return h, nil
}
