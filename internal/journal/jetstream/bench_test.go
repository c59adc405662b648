package jetstream_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
)

// benchEvent is a typical small publish: one topic URL, a JSON payload.
func benchEvent(i int) *journal.Event {
	return &journal.Event{
		Topics: []string{fmt.Sprintf("https://example.com/books/%d", i%1000)},
		Type:   "update",
		Data:   fmt.Appendf(nil, `{"id":%d,"title":"The Go Programming Language","price":34.99,"stock":%d}`, i, i%97),
	}
}

// BenchmarkAppendParallel measures appends from 16 concurrent publishers,
// the shape of `herald bench`'s publish test, each acknowledged by
// JetStream (file storage) before the publisher goes on: on one server
// (R1), and on a 3-server cluster with 3 replicas, where an
// acknowledgement means a quorum stored the event (R3). The servers run in
// the benchmark's process, on its CPUs. It reports the throughput and the
// 99th-percentile latency of one Append; each run appends to a stream of
// its own.
func BenchmarkAppendParallel(b *testing.B) {
	srv := natstest.Run(b)
	solo := natstest.Connect(b, srv.URL())
	b.Run("R1", func(b *testing.B) { benchAppend(b, newOptions(solo, 1)) })
	c := natstest.RunCluster(b, 3)
	cluster := natstest.Connect(b, c.Servers[0].URL())
	b.Run("R3", func(b *testing.B) { benchAppend(b, newOptions(cluster, 3)) })
}

func benchAppend(b *testing.B, opts jetstream.Options) {
	const publishers = 16
	opts.Logger = testLogger(b)
	j, err := jetstream.Open(b.Context(), opts)
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
		b.ReportMetric(float64(latencies[len(latencies)*99/100])/float64(time.Millisecond), "p99-ms")
	}
}
