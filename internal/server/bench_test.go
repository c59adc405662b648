package server_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/bolt"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/boltstate"
)

// BenchmarkPublish measures the publish endpoint end to end over HTTP
// (parse, authorize, journal append, answer) with 16 concurrent publishers.
func BenchmarkPublish(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchPublish(b, journal.NewMemory(journal.Retention{}))
	})
	b.Run("bolt-durable", func(b *testing.B) {
		j, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { j.Close() })
		benchPublish(b, j)
	})
}

func benchPublish(b *testing.B, j journal.Journal) {
	// The hub's throughput, not the per-token rate limit's.
	e := newEnvWithJournal(b, j, func(c *serverConfig, _ *hubConfig) { c.Limits.PublishRate = -1 })
	tok := e.publisherToken()
	body := url.Values{"topic": {"https://example.com/bench"}, "data": {strings.Repeat("x", 100)}}.Encode()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8) // 16 publishers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", e.url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "publishes/s")
}

// BenchmarkFanoutSSE measures deliveries per second to 1,000 SSE
// subscribers on one topic over real HTTP connections.
func BenchmarkFanoutSSE(b *testing.B) {
	const subscribers = 1000
	e := newEnv(b, anonymous)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: subscribers, MaxConnsPerHost: 0}}

	var delivered atomic.Int64
	var wg sync.WaitGroup
	want := int64(b.N)
	for range subscribers {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.url+"?topic=bench", nil)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer resp.Body.Close()
			br := bufio.NewReaderSize(resp.Body, 32<<10)
			var got int64
			for got < want {
				line, err := br.ReadSlice('\n')
				if err != nil {
					return
				}
				if bytes.HasPrefix(line, []byte("id:")) {
					got++
					delivered.Add(1)
				}
			}
		}()
	}
	tok := e.token(auth.MintClaims{Publish: []string{"*"}})
	body := url.Values{"topic": {"bench"}, "data": {strings.Repeat("x", 100)}}.Encode()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		req, _ := http.NewRequest("POST", e.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if got := delivered.Load(); got != want*subscribers {
		b.Fatalf("delivered %d, want %d", got, want*subscribers)
	}
	b.ReportMetric(float64(delivered.Load())/elapsed.Seconds(), "deliveries/s")
}

// BenchmarkDBWrite measures PUTs of a small leaf to the state tree from 16
// writers over HTTP, each to its own path, on the memory journal and on a
// durable bbolt journal (with the tree kept in its file).
func BenchmarkDBWrite(b *testing.B) {
	b.Run("memory", func(b *testing.B) {
		benchDBWrite(b, journal.NewMemory(journal.Retention{}), state.Loaded{})
	})
	b.Run("bolt-durable", func(b *testing.B) {
		view := boltstate.View{}
		j, err := bolt.Open(filepath.Join(b.TempDir(), "bench.db"), bolt.Options{Views: []bolt.View{view}})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { j.Close() })
		benchDBWrite(b, j, state.Loaded{})
	})
}

func benchDBWrite(b *testing.B, j journal.Journal, loaded state.Loaded) {
	store, err := state.Open(state.Config{Journal: j}, loaded)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	e := newEnvWithJournal(b, j, func(c *serverConfig, _ *hubConfig) { c.State, c.DBAdminToken = store, adminToken })
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	var writer atomic.Int64
	b.SetParallelism(8) // 16 writers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		url := e.ts.URL + "/db/devices/d" + strconv.FormatInt(writer.Add(1), 10) + "/temp.json?print=silent"
		for i := 0; pb.Next(); i++ {
			req, _ := http.NewRequest("PUT", url, strings.NewReader(strconv.Itoa(i)))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNoContent {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "writes/s")
}
