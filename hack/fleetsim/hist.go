package main

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram buckets: values below linearBuckets microseconds are exact; above, every power
// of two is split into subBuckets equal buckets, so a percentile is within 1/subBuckets
// (1.6 %) of the true value. Memory is fixed whatever the number of samples.
const (
	subBuckets    = 64
	linearBuckets = 2 * subBuckets
	maxExponent   = 40 // 2^(40+7) µs ≈ 4.5 years; larger values land in the last bucket
	numBuckets    = linearBuckets + maxExponent*subBuckets
)

// Histogram records durations at microsecond resolution in fixed logarithmic buckets. It
// is safe for concurrent use and never allocates after creation.
type Histogram struct {
	buckets [numBuckets]atomic.Uint64
	count   atomic.Uint64
	max     atomic.Uint64 // exact, microseconds
}

// Record adds one sample; negative durations count as zero.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d.Microseconds(), 0))
	h.buckets[bucketOf(v)].Add(1)
	h.count.Add(1)
	for {
		m := h.max.Load()
		if v <= m || h.max.CompareAndSwap(m, v) {
			return
		}
	}
}

// Count is the number of samples.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// Max is the largest sample, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) * time.Microsecond }

// Percentile returns the smallest recorded value v such that at least p percent of the
// samples are ≤ v (to bucket precision, and never above Max); 0 without samples.
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.count.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(float64(n)*p/100 + 0.5)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.buckets {
		seen += h.buckets[i].Load()
		if seen >= rank {
			if i == numBuckets-1 {
				return h.Max() // the last bucket is open-ended
			}
			v := min(bucketHigh(i), h.max.Load())
			return time.Duration(v) * time.Microsecond
		}
	}
	return h.Max()
}

// bucketOf maps a value in microseconds to its bucket.
func bucketOf(v uint64) int {
	if v < linearBuckets {
		return int(v)
	}
	e := bits.Len64(v) - 7 // v>>e is in [64, 128)
	if e > maxExponent {
		return numBuckets - 1
	}
	return linearBuckets + (e-1)*subBuckets + int(v>>uint(e)) - subBuckets
}

// bucketHigh is the largest value bucket i holds.
func bucketHigh(i int) uint64 {
	if i < linearBuckets {
		return uint64(i)
	}
	k := i - linearBuckets
	e := uint(k/subBuckets + 1)
	m := uint64(k%subBuckets + subBuckets)
	return (m+1)<<e - 1
}
