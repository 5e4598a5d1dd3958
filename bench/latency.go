package bench

import (
	"slices"
	"sync"
	"time"
)

// Percentiles summarises a latency sample. Durations are in milliseconds in JSON.
type Percentiles struct {
	Count int     `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Percentile returns the q-quantile (0 ≤ q ≤ 1) of sorted by the nearest-rank method:
// the smallest value with at least q of the sample at or below it. It returns 0 for an
// empty sample; sorted must be in ascending order.
func Percentile(sorted []time.Duration, q float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	switch {
	case q <= 0:
		return sorted[0]
	case q >= 1:
		return sorted[n-1]
	}
	// rank = ceil(q*n), 1-based; computed in integers of parts per million so 0.99*100
	// is exactly 99, not 99.00000000000001.
	ppm := int64(q*1e6 + 0.5)
	rank := (ppm*int64(n) + 999_999) / 1_000_000
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// Summarise sorts sample in place and returns its percentiles.
func Summarise(sample []time.Duration) Percentiles {
	slices.Sort(sample)
	if len(sample) == 0 {
		return Percentiles{}
	}
	return Percentiles{
		Count: len(sample),
		P50:   ms(Percentile(sample, 0.50)),
		P90:   ms(Percentile(sample, 0.90)),
		P99:   ms(Percentile(sample, 0.99)),
		Max:   ms(sample[len(sample)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// Point is one bucket of a latency time series: deliveries that arrived in
// [At, At+bucket) after the start of the run, and their latency percentiles.
type Point struct {
	At float64 `json:"at_s"`
	Percentiles
}

// Series collects latencies by arrival time in fixed buckets, for plots over time. Safe
// for concurrent use.
type Series struct {
	mu      sync.Mutex
	start   time.Time
	bucket  time.Duration
	buckets [][]time.Duration
}

// NewSeries returns a series whose bucket 0 starts at start.
func NewSeries(start time.Time, bucket time.Duration) *Series {
	return &Series{start: start, bucket: bucket}
}

// Add records one latency observed at time at; observations before start are ignored.
func (s *Series) Add(at time.Time, latency time.Duration) {
	i := int(at.Sub(s.start) / s.bucket)
	if i < 0 || i > 100_000 {
		return
	}
	s.mu.Lock()
	for len(s.buckets) <= i {
		s.buckets = append(s.buckets, nil)
	}
	s.buckets[i] = append(s.buckets[i], latency)
	s.mu.Unlock()
}

// Points returns one Point per bucket, empty buckets included (Count 0).
func (s *Series) Points() []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Point, len(s.buckets))
	for i, b := range s.buckets {
		out[i] = Point{At: (time.Duration(i) * s.bucket).Seconds(), Percentiles: Summarise(slices.Clone(b))}
	}
	return out
}
