package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"
)

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Count() != 0 || h.Percentile(50) != 0 || h.Max() != 0 {
		t.Fatalf("empty histogram: count %d p50 %v max %v", h.Count(), h.Percentile(50), h.Max())
	}
}

func TestHistogramExactBelowLinearRange(t *testing.T) {
	var h Histogram
	for v := 1; v <= 100; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Microsecond}, {90, 90 * time.Microsecond}, {99, 99 * time.Microsecond}, {100, 100 * time.Microsecond}} {
		if got := h.Percentile(c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
}

// TestHistogramMatchesSortedSamples compares the bucketed percentiles with the exact ones
// of a sorted sample over six orders of magnitude.
func TestHistogramMatchesSortedSamples(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]time.Duration, 200_000)
	for i := range samples {
		// log-uniform between 10 µs and 10 s
		d := time.Duration(10*math.Pow(10, r.Float64()*6)) * time.Microsecond
		samples[i] = d
		h.Record(d)
	}
	slices.Sort(samples)
	for _, p := range []float64{50, 90, 99, 99.9} {
		exact := samples[int(float64(len(samples))*p/100+0.5)-1]
		got := h.Percentile(p)
		if rel := float64(got-exact) / float64(exact); rel < -0.001 || rel > 1.0/subBuckets+0.001 {
			t.Errorf("p%v = %v, exact %v (relative error %.4f)", p, got, exact, rel)
		}
	}
	if h.Max() != samples[len(samples)-1].Truncate(time.Microsecond) {
		t.Errorf("max = %v, want %v", h.Max(), samples[len(samples)-1])
	}
	if h.Percentile(100) != h.Max() {
		t.Errorf("p100 = %v, max %v", h.Percentile(100), h.Max())
	}
}

func TestHistogramHugeAndNegativeValues(t *testing.T) {
	var h Histogram
	h.Record(-time.Second)
	h.Record(time.Duration(1 << 62)) // about 146 years: beyond the last bucket
	if h.Count() != 2 || h.Percentile(1) != 0 {
		t.Fatalf("count %d p1 %v", h.Count(), h.Percentile(1))
	}
	if h.Percentile(100) != h.Max() {
		t.Fatalf("p100 %v max %v", h.Percentile(100), h.Max())
	}
}

func TestHistogramBucketsAreContiguous(t *testing.T) {
	for i := 1; i < numBuckets; i++ {
		lo := bucketHigh(i-1) + 1
		if bucketOf(lo) != i || bucketOf(bucketHigh(i)) != i {
			t.Fatalf("bucket %d: low %d maps to %d, high %d maps to %d", i, lo, bucketOf(lo), bucketHigh(i), bucketOf(bucketHigh(i)))
		}
	}
}

func TestHistogramConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 10_000 {
				h.Record(time.Duration(g*10_000+i) * time.Microsecond)
			}
		})
	}
	wg.Wait()
	if h.Count() != 80_000 || h.Max() != 79_999*time.Microsecond {
		t.Fatalf("count %d max %v", h.Count(), h.Max())
	}
}
