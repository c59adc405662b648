package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// The histogram is log-linear, in the manner of HdrHistogram: values below
// 2^subBits are counted exactly, and every power-of-two range above that is
// split into halfBuckets equal buckets. A recorded value is therefore reported
// within 1/halfBuckets (0.4%) of what was measured, whatever its magnitude,
// and memory is fixed whatever the number of samples.
const (
	subBits     = 9
	halfBuckets = 1 << (subBits - 1)
	// maxBits caps the recorded range at 2^43 ns (about 2.4 hours); larger
	// values land in the last bucket, and max stays exact.
	maxBits    = 43
	numBuckets = (maxBits-subBits+1)*halfBuckets + halfBuckets
)

// histogram counts durations in nanoseconds. The zero value is not usable;
// call newHistogram. It is not safe for concurrent use: callers shard it or
// hold a lock.
type histogram struct {
	counts []uint64
	total  uint64
	sum    float64 // for the mean; float so that it cannot overflow
	min    int64
	max    int64
}

func newHistogram() *histogram {
	return &histogram{counts: make([]uint64, numBuckets), min: math.MaxInt64}
}

// bucketOf returns the index of the bucket that holds v (v >= 0).
func bucketOf(v int64) int {
	if v < 1<<subBits {
		return int(v)
	}
	n := bits.Len64(uint64(v))
	if n > maxBits {
		return numBuckets - 1
	}
	shift := n - subBits
	return shift*halfBuckets + int(v>>shift)
}

// bucketBounds returns the smallest and largest value counted in bucket i.
func bucketBounds(i int) (lo, hi int64) {
	if i < 1<<subBits {
		return int64(i), int64(i)
	}
	shift := i/halfBuckets - 1
	mantissa := int64(i - shift*halfBuckets)
	lo = mantissa << shift
	return lo, lo + 1<<shift - 1
}

// record counts one duration. Negative durations (a clock step between the
// sender and the receiver) count as zero.
func (h *histogram) record(d time.Duration) {
	v := max(int64(d), 0)
	h.counts[bucketOf(v)]++
	h.total++
	h.sum += float64(v)
	h.min = min(h.min, v)
	h.max = max(h.max, v)
}

// merge adds every sample of o to h.
func (h *histogram) merge(o *histogram) {
	if o.total == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	h.sum += o.sum
	h.min = min(h.min, o.min)
	h.max = max(h.max, o.max)
}

// quantile returns the value at or below which a fraction q (0..1) of the
// samples lie. Like HdrHistogram it reports the highest value of the bucket
// reached (never an optimistic figure), clamped to the exact maximum.
func (h *histogram) quantile(q float64) time.Duration {
	if h.total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.total)))
	rank = min(max(rank, 1), h.total)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			return time.Duration(min(max(hi, h.min), h.max))
		}
	}
	return time.Duration(h.max)
}

// latencySummary is how a histogram appears in reports.
type latencySummary struct {
	Count  uint64  `json:"count"`
	MinMS  float64 `json:"min_ms"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (h *histogram) summary() latencySummary {
	if h.total == 0 {
		return latencySummary{}
	}
	return latencySummary{
		Count:  h.total,
		MinMS:  millis(time.Duration(h.min)),
		MeanMS: h.sum / float64(h.total) / float64(time.Millisecond),
		P50MS:  millis(h.quantile(0.50)),
		P90MS:  millis(h.quantile(0.90)),
		P99MS:  millis(h.quantile(0.99)),
		P999MS: millis(h.quantile(0.999)),
		MaxMS:  millis(time.Duration(h.max)),
	}
}

// histogramWire is the sparse form in which child processes send their
// histograms: only non-empty buckets, as [index, count] pairs.
type histogramWire struct {
	Buckets [][2]uint64 `json:"buckets"`
	Sum     float64     `json:"sum"`
	Min     int64       `json:"min"`
	Max     int64       `json:"max"`
}

// MarshalJSON encodes h sparsely, for the child-process protocol.
func (h *histogram) MarshalJSON() ([]byte, error) {
	w := histogramWire{Sum: h.sum, Min: h.min, Max: h.max, Buckets: [][2]uint64{}}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON decodes what MarshalJSON wrote.
func (h *histogram) UnmarshalJSON(b []byte) error {
	var w histogramWire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = *newHistogram()
	for _, bc := range w.Buckets {
		if bc[0] >= numBuckets {
			return fmt.Errorf("histogram bucket %d out of range", bc[0])
		}
		h.counts[bc[0]] += bc[1]
		h.total += bc[1]
	}
	if h.total > 0 {
		h.sum, h.min, h.max = w.Sum, w.Min, w.Max
	}
	return nil
}
