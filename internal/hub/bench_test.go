package hub_test

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
)

// fanoutHub returns a hub, not running, with n subscriptions to topic.
func fanoutHub(tb testing.TB, n int, topic string) (*hub.Hub, []*hub.Subscription) {
	tb.Helper()
	h := hub.New(newJournal(tb), hub.Config{Logger: quiet})
	set := sels(tb, topic)
	subs := make([]*hub.Subscription, n)
	for i := range subs {
		subs[i] = subscribe(tb, h, hub.SubscribeRequest{Selectors: set})
	}
	return h, subs
}

// BenchmarkFanout measures the fan-out of one event to 10,000 subscribers
// of its topic: one op is one event. Subscribers drain every few events, as
// writers would, outside the timed part.
func BenchmarkFanout(b *testing.B) { benchFanout(b, "bench/1") }

// BenchmarkFanoutTemplate is BenchmarkFanout with subscribers that use a
// URI template, matched event by event instead of found by topic.
func BenchmarkFanoutTemplate(b *testing.B) { benchFanout(b, "bench/{id}") }

// BenchmarkFanoutRegexpTemplate is BenchmarkFanout with subscribers whose
// template needs a regular expression: each distinct selector is matched
// once per event, so 10,000 subscribers of it cost one match.
func BenchmarkFanoutRegexpTemplate(b *testing.B) { benchFanout(b, "bench/{id}{?q,r}") }

func benchFanout(b *testing.B, sel string) {
	const subscribers = 10_000
	const drainEvery = 8 // below the queue array Drain keeps, as for a writer keeping up
	h, subs := fanoutHub(b, subscribers, sel)
	data := []byte(`{"id":42,"status":"shipped"}`)
	var buf []*hub.Message
	var seq uint64
	fanout := func() {
		seq++
		h.Fanout(&journal.Event{ID: fmt.Sprint(seq), Seq: seq, Topics: []string{"bench/1"}, Data: data})
	}
	drain := func() {
		for _, s := range subs {
			buf = s.Drain(buf[:0])
		}
	}
	// Warm up: the queues grow their arrays once, then reuse them.
	for range drainEvery {
		fanout()
	}
	drain()
	warmup := seq
	b.ReportAllocs()
	for b.Loop() {
		fanout()
		if seq%drainEvery == 0 {
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(seq-warmup)*subscribers/b.Elapsed().Seconds(), "deliveries/s")
	if st := h.Stats(); st.Delivered != seq*subscribers {
		b.Fatalf("delivered %d, want %d", st.Delivered, seq*subscribers)
	}
}

// BenchmarkSubscribeClose measures registering and unregistering a
// subscription from many goroutines at once.
func BenchmarkSubscribeClose(b *testing.B) {
	for _, bc := range []struct {
		name   string
		topics int
	}{
		{"distinct topics", 1024},
		{"one topic", 1},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h, _ := fanoutHub(b, 1000, "crowd") // an index that is not empty
			sets := make([]selector.Set, bc.topics)
			for i := range sets {
				sets[i] = sels(b, fmt.Sprintf("topic/%d", i))
			}
			var next atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(7919) // spread goroutines over the topics
				for pb.Next() {
					s, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sets[i%uint64(len(sets))]})
					if err != nil {
						b.Error(err)
						return
					}
					s.Close()
					i++
				}
			})
			if n := h.Stats().Subscribers; n != 1000 {
				b.Fatalf("%d subscribers left, want 1000", n)
			}
		})
	}
}

// TestFanoutAllocatesPerEventNotPerDelivery checks that what the fan-out
// allocates does not grow with the number of subscribers.
func TestFanoutAllocatesPerEventNotPerDelivery(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	perEvent := func(subscribers int) float64 {
		h, subs := fanoutHub(t, subscribers, "t")
		var buf []*hub.Message
		var seq uint64
		ev := journal.Event{ID: "x", Topics: []string{"t"}, Data: []byte("data")}
		return testing.AllocsPerRun(200, func() {
			seq++
			e := ev
			e.Seq = seq
			h.Fanout(&e)
			for _, s := range subs {
				buf = s.Drain(buf[:0])
			}
		})
	}
	few, many := perEvent(1), perEvent(2000)
	if many > few {
		t.Errorf("fan-out allocates %.1f times per event to 2000 subscribers, %.1f to one", many, few)
	}
	t.Logf("%.1f allocations per event", many)
}

// BenchmarkFanoutCostlyTemplates measures what the most costly subscribers
// a client can make cost the fan-out: 100 subscriptions, each with a
// distinct template using the whole default selector budget (256) and no
// literal text, so that the radix index cannot spare them any topic. One
// op is one event, which each of them rejects; ns/attacker is the
// matching time one of them adds to every event, B/attacker the memory
// it holds once its matchers have run.
func BenchmarkFanoutCostlyTemplates(b *testing.B) {
	const attackers, budget = 100, 256
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	h := hub.New(newJournal(b), hub.Config{Logger: quiet})
	for i := range attackers {
		// A chain of simple expressions: of the shapes tried, the one
		// with the most matching time per unit of cost.
		raw, best := "", ""
		for j := 0; ; j++ {
			raw += fmt.Sprintf("{a%d_%d}", i, j)
			sel, err := selector.Parse(raw) // at most 32 variables
			if err != nil || sel.Cost() > budget {
				break
			}
			best = raw
		}
		subscribe(b, h, hub.SubscribeRequest{Selectors: sels(b, best)})
	}
	target := subscribe(b, h, hub.SubscribeRequest{Selectors: sels(b, "https://example.com/books/1")})
	var seq uint64
	fanout := func() {
		seq++
		h.Fanout(&journal.Event{ID: fmt.Sprint(seq), Seq: seq, Topics: []string{"https://example.com/books/1?x=1&y=2&z=3"}, Data: []byte("x")})
	}
	fanout() // every matcher has run once
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ResetTimer()
	for b.Loop() {
		fanout()
		target.Drain(nil)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/attackers, "ns/attacker")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/attackers, "B/attacker")
}
