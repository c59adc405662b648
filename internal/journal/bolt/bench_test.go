package bolt_test

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
)

// benchEvent is a typical small publish: one topic URL, a JSON payload.
func benchEvent(i int) *journal.Event {
	return &journal.Event{
		Topics: []string{fmt.Sprintf("https://example.com/books/%d", i%1000)},
		Type:   "update",
		Data:   fmt.Appendf(nil, `{"id":%d,"title":"The Go Programming Language","price":34.99,"stock":%d}`, i, i%97),
	}
}

// BenchmarkAppendParallel measures durable appends (fsync on) from 16
// concurrent publishers, the shape of `herald bench`'s publish test, and
// reports the throughput and the 99th-percentile latency of one Append.
func BenchmarkAppendParallel(b *testing.B) {
	const publishers = 16
	j, err := bolt.Open(filepath.Join(b.TempDir(), "journal.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()

	var mu sync.Mutex
	var latencies []time.Duration
	b.SetParallelism((publishers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for i := 0; pb.Next(); i++ {
			t := time.Now()
			if err := j.Append(context.Background(), benchEvent(i)); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t))
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()

	slices.Sort(latencies)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if len(latencies) > 0 {
		p99 := latencies[len(latencies)*99/100]
		b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
	}
}

// BenchmarkRead100k measures a resume that replays 100,000 events from the
// middle of a journal, the case the 0.5 s resume target is about.
func BenchmarkRead100k(b *testing.B) {
	const skip, replay = 10_000, 100_000
	j, err := bolt.Open(filepath.Join(b.TempDir(), "journal.db"), bolt.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer j.Close()
	fill(b, j, skip+replay)

	b.ResetTimer()
	start := time.Now()
	for range b.N {
		n := 0
		err := j.Read(context.Background(), skip, func(*journal.Event) error {
			n++
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		if n != replay {
			b.Fatalf("Read delivered %d events, want %d", n, replay)
		}
	}
	elapsed := time.Since(start)
	events := float64(b.N * replay)
	b.ReportMetric(events/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/events, "ns/event")
}

// fill appends n events from many goroutines, so they commit in large batches.
func fill(b *testing.B, j journal.Journal, n int) {
	b.Helper()
	const workers = 256
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				if err := j.Append(context.Background(), benchEvent(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
