package hist

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// refQuantile is the exact quantile of sorted values with the same
// definition as Histogram.Quantile.
func refQuantile(sorted []int64, q float64) int64 {
	rank := int(math.Ceil(q * float64(len(sorted))))
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

func within(t *testing.T, what string, got, want int64, rel float64) {
	t.Helper()
	diff := math.Abs(float64(got - want))
	if diff > rel*float64(want)+0.5 {
		t.Errorf("%s: got %d, want %d (±%.2f%%)", what, got, want, rel*100)
	}
}

func TestQuantilesAgainstSortedReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	dists := map[string]func() int64{
		"uniform-small": func() int64 { return rng.Int64N(300) },
		"uniform-ms":    func() int64 { return rng.Int64N(50_000_000) },
		"lognormal":     func() int64 { return int64(math.Exp(rng.NormFloat64()*2 + 13)) },
		"bimodal": func() int64 {
			if rng.IntN(100) < 97 {
				return 200_000 + rng.Int64N(50_000)
			}
			return 80_000_000 + rng.Int64N(40_000_000)
		},
	}
	for name, gen := range dists {
		t.Run(name, func(t *testing.T) {
			h := New()
			vals := make([]int64, 20000)
			for i := range vals {
				vals[i] = gen()
				h.Record(vals[i])
			}
			slices.Sort(vals)
			if h.Count() != uint64(len(vals)) {
				t.Fatalf("count %d", h.Count())
			}
			for _, q := range []float64{0, 0.01, 0.5, 0.9, 0.99, 0.999, 1} {
				within(t, name, h.Quantile(q), refQuantile(vals, q), 0.008)
			}
			if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
				t.Errorf("min/max %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
			}
		})
	}
}

func TestBucketBoundsRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 255, 256, 257, 511, 512, 1000, 1 << 20, 123456789, math.MaxInt64, math.MaxUint64} {
		i := bucket(v)
		if i < 0 || i >= NumBuckets {
			t.Fatalf("bucket(%d) = %d out of range", v, i)
		}
		lo, hi := bounds(i)
		if v < lo || v > hi {
			t.Errorf("v %d not in bucket %d [%d, %d]", v, i, lo, hi)
		}
		if lo > 256 && float64(hi-lo)/float64(lo) > 1.0/128 {
			t.Errorf("bucket %d too wide: [%d, %d]", i, lo, hi)
		}
	}
	// Buckets tile the range without gaps.
	for i := 1; i < NumBuckets; i++ {
		_, prevHi := bounds(i - 1)
		lo, _ := bounds(i)
		if lo != prevHi+1 {
			t.Fatalf("gap between bucket %d (hi %d) and %d (lo %d)", i-1, prevHi, i, lo)
		}
	}
}

func TestEmptyAndNegative(t *testing.T) {
	h := New()
	if h.Quantile(0.5) != 0 || h.Max() != 0 || h.Min() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	if h.Quantile(0.99) != 0 || h.Count() != 1 {
		t.Fatalf("negative value not clamped to 0: %d", h.Quantile(0.99))
	}
}

func TestConcurrentRecordAndMerge(t *testing.T) {
	a, b := New(), New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				a.Record(int64(g*1000 + i))
			}
		})
	}
	wg.Wait()
	b.Record(1_000_000)
	a.Merge(b)
	if a.Count() != 8001 || a.Max() != 1_000_000 || a.Min() != 0 {
		t.Fatalf("count %d max %d min %d", a.Count(), a.Max(), a.Min())
	}
	within(t, "p50", a.Quantile(0.5), 4000, 0.008)
}

func TestSnapshotRoundTrip(t *testing.T) {
	h := New()
	for i := range 5000 {
		h.Record(int64(i * i))
	}
	b, err := json.Marshal(h.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var s Snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	g, err := FromSnapshot(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []float64{0.1, 0.5, 0.99, 1} {
		if g.Quantile(q) != h.Quantile(q) {
			t.Errorf("q %v: %d != %d", q, g.Quantile(q), h.Quantile(q))
		}
	}
	if g.Count() != h.Count() || g.Min() != h.Min() || g.Max() != h.Max() {
		t.Error("count/min/max differ")
	}
}

func TestFromSnapshotRejectsBadInput(t *testing.T) {
	for name, s := range map[string]Snapshot{
		"index":      {Buckets: [][2]uint64{{NumBuckets, 1}}, Max: 1},
		"zero count": {Buckets: [][2]uint64{{3, 0}}, Min: 3, Max: 3},
		"min>max":    {Buckets: [][2]uint64{{3, 1}}, Min: 5, Max: 3},
		"outside":    {Buckets: [][2]uint64{{200, 1}}, Min: 3, Max: 3},
		"overflow":   {Buckets: [][2]uint64{{3, math.MaxUint64}, {4, 2}}, Min: 3, Max: 4},
		"empty+max":  {Max: 9},
	} {
		if _, err := FromSnapshot(s); !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s: err %v, want ErrBadSnapshot", name, err)
		}
	}
}

func FuzzFromSnapshot(f *testing.F) {
	h := New()
	for _, v := range []int64{1, 500, 70000, 9e9} {
		h.Record(v)
	}
	seed, _ := json.Marshal(h.Snapshot())
	f.Add(seed)
	f.Add([]byte(`{"buckets":[[1,2]],"min":1,"max":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s Snapshot
		if json.Unmarshal(b, &s) != nil {
			return
		}
		g, err := FromSnapshot(s)
		if err != nil {
			return
		}
		if q := g.Quantile(0.99); q < g.Min() || q > g.Max() {
			t.Fatalf("quantile %d outside [%d, %d]", q, g.Min(), g.Max())
		}
	})
}
