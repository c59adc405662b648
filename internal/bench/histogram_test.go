package bench

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsTileTheRange(t *testing.T) {
	// Every value falls in the bucket whose bounds hold it, and consecutive
	// buckets leave no gap: what record counts, quantile can find again.
	prevHi := int64(-1)
	for i := range numBuckets - 1 {
		lo, hi := bucketBounds(i)
		if lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, previous ended at %d", i, lo, prevHi)
		}
		for _, v := range []int64{lo, hi, lo + (hi-lo)/2} {
			if got := bucketOf(v); got != i {
				t.Fatalf("bucketOf(%d) = %d, want %d (bounds %d..%d)", v, got, i, lo, hi)
			}
		}
		if width := hi - lo + 1; lo >= 1<<subBits && float64(width)/float64(lo) > 1.0/halfBuckets {
			t.Fatalf("bucket %d is %d wide at %d: relative error above 1/%d", i, width, lo, halfBuckets)
		}
		prevHi = hi
	}
	if got := bucketOf(math.MaxInt64); got != numBuckets-1 {
		t.Errorf("bucketOf(MaxInt64) = %d, want the last bucket", got)
	}
}

func TestQuantilesMatchSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	h := newHistogram()
	var samples []time.Duration
	for range 100_000 {
		// Log-normal-ish latencies from microseconds to seconds.
		d := time.Duration(math.Exp(rng.NormFloat64()*2+13)) * time.Nanosecond
		samples = append(samples, d)
		h.record(d)
	}
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		want := samples[int(math.Ceil(q*float64(len(samples))))-1]
		got := h.quantile(q)
		if got < want || float64(got-want) > float64(want)/halfBuckets+1 {
			t.Errorf("quantile(%g) = %v, exact %v: outside [exact, exact+1/%d]", q, got, want, halfBuckets)
		}
	}
	s := h.summary()
	if s.Count != 100_000 || s.MinMS != millis(samples[0]) || s.MaxMS != millis(samples[len(samples)-1]) {
		t.Errorf("summary count/min/max = %d/%v/%v, want 100000/%v/%v", s.Count, s.MinMS, s.MaxMS, millis(samples[0]), millis(samples[len(samples)-1]))
	}
}

func TestHistogramSmallValuesAreExact(t *testing.T) {
	h := newHistogram()
	for v := range 100 {
		h.record(time.Duration(v + 1))
	}
	if got := h.quantile(0.5); got != 50 {
		t.Errorf("median of 1..100 = %d, want 50", got)
	}
	if got := h.quantile(0.99); got != 99 {
		t.Errorf("p99 of 1..100 = %d, want 99", got)
	}
	h.record(-5 * time.Millisecond) // a clock step must not corrupt the histogram
	if got := h.quantile(0); got != 0 {
		t.Errorf("min after a negative sample = %d, want 0", got)
	}
}

func TestHistogramMergeAndWire(t *testing.T) {
	a, b := newHistogram(), newHistogram()
	for i := range 1000 {
		a.record(time.Duration(i) * time.Microsecond)
		b.record(time.Duration(i) * time.Millisecond)
	}
	all := newHistogram()
	all.merge(a)
	all.merge(b)
	all.merge(newHistogram()) // an empty one changes nothing

	raw, err := json.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	back := newHistogram()
	if err := json.Unmarshal(raw, back); err != nil {
		t.Fatal(err)
	}
	if back.summary() != all.summary() {
		t.Errorf("after a JSON round trip:\n got %+v\nwant %+v", back.summary(), all.summary())
	}
	if all.total != 2000 || all.quantile(0.25) >= time.Millisecond || all.quantile(0.75) < time.Millisecond {
		t.Errorf("merged histogram: total %d, p25 %v, p75 %v", all.total, all.quantile(0.25), all.quantile(0.75))
	}
	if err := json.Unmarshal([]byte(`{"buckets":[[99999999,1]]}`), back); err == nil {
		t.Error("a bucket index out of range was accepted")
	}
}

func TestEmptyHistogram(t *testing.T) {
	h := newHistogram()
	if h.quantile(0.99) != 0 || h.summary() != (latencySummary{}) {
		t.Errorf("empty histogram: p99 %v, summary %+v", h.quantile(0.99), h.summary())
	}
}
