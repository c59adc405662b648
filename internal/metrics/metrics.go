// Package metrics holds the few Prometheus instruments Herald exports and
// writes them in the Prometheus text exposition format (version 0.0.4).
//
// It is deliberately small: counters, gauges read from a function, and
// fixed-bucket histograms, all lock-free on the hot path.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Registry holds named instruments and writes them in a stable order.
type Registry struct {
	mu    sync.Mutex
	items map[string]writer
}

type writer interface {
	write(w *bufio.Writer, name string)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{items: make(map[string]writer)} }

func (r *Registry) add(name string, w writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.items[name]; dup {
		panic("metrics: duplicate metric " + name)
	}
	r.items[name] = w
}

// Counter is a monotonically increasing value.
type Counter struct {
	help string
	v    atomic.Uint64
}

// NewCounter registers a counter.
func (r *Registry) NewCounter(name, help string) *Counter {
	c := &Counter{help: help}
	r.add(name, c)
	return c
}

// Inc adds one.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value returns the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

func (c *Counter) write(w *bufio.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", name, c.help, name, name, c.v.Load())
}

// CounterVec is a family of counters told apart by the value of one label,
// from a fixed list given when it is registered.
type CounterVec struct {
	help, label string
	values      []string
	counters    []atomic.Uint64
}

// NewCounterVec registers a counter per value of label; the series exist
// (at 0) from the start, so that a rate over them is defined.
func (r *Registry) NewCounterVec(name, help, label string, values ...string) *CounterVec {
	c := &CounterVec{help: help, label: label, values: values, counters: make([]atomic.Uint64, len(values))}
	r.add(name, c)
	return c
}

// Inc adds one to the counter of value; it panics for a value not
// registered.
func (c *CounterVec) Inc(value string) {
	for i, v := range c.values {
		if v == value {
			c.counters[i].Add(1)
			return
		}
	}
	panic("metrics: unknown label value " + value)
}

// Value returns the count of value.
func (c *CounterVec) Value(value string) uint64 {
	for i, v := range c.values {
		if v == value {
			return c.counters[i].Load()
		}
	}
	return 0
}

func (c *CounterVec) write(w *bufio.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", name, c.help, name)
	for i, v := range c.values {
		fmt.Fprintf(w, "%s{%s=%q} %d\n", name, c.label, v, c.counters[i].Load())
	}
}

// Func is a value read when metrics are scraped.
type Func struct {
	help, typ string
	fn        func() float64
}

// NewGaugeFunc registers a gauge whose value fn returns at scrape time.
func (r *Registry) NewGaugeFunc(name, help string, fn func() float64) {
	r.add(name, &Func{help: help, typ: "gauge", fn: fn})
}

// NewCounterFunc registers a counter whose value fn returns at scrape time
// (for counts kept elsewhere, such as the hub's statistics).
func (r *Registry) NewCounterFunc(name, help string, fn func() float64) {
	r.add(name, &Func{help: help, typ: "counter", fn: fn})
}

func (f *Func) write(w *bufio.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, f.help, name, f.typ, name, formatFloat(f.fn()))
}

// Histogram counts observations in fixed buckets (upper bounds, seconds).
type Histogram struct {
	help    string
	bounds  []float64
	counts  []atomic.Uint64 // one per bound, plus +Inf
	sumNano atomic.Uint64
}

// NewHistogram registers a histogram with the given bucket upper bounds in
// seconds, which must be sorted.
func (r *Registry) NewHistogram(name, help string, bounds []float64) *Histogram {
	if !sort.Float64sAreSorted(bounds) {
		panic("metrics: histogram bounds not sorted: " + name)
	}
	h := &Histogram{help: help, bounds: bounds, counts: make([]atomic.Uint64, len(bounds)+1)}
	r.add(name, h)
	return h
}

// Observe records one duration.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(h.bounds, s)
	h.counts[i].Add(1)
	h.sumNano.Add(uint64(max(d, 0)))
}

func (h *Histogram) write(w *bufio.Writer, name string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", name, h.help, name)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i].Load()
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", name, formatFloat(b), cum)
	}
	cum += h.counts[len(h.bounds)].Load()
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n", name, cum)
	fmt.Fprintf(w, "%s_sum %s\n%s_count %d\n", name, formatFloat(float64(h.sumNano.Load())/1e9), name, cum)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// WriteTo writes every instrument, sorted by name.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	r.mu.Lock()
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	items := make([]writer, len(names))
	sort.Strings(names)
	for i, n := range names {
		items[i] = r.items[n]
	}
	r.mu.Unlock()
	cw := &countWriter{w: w}
	bw := bufio.NewWriter(cw)
	for i, it := range items {
		it.write(bw, names[i])
	}
	err := bw.Flush()
	return cw.n, err
}

// Handler serves the registry at a scrape endpoint.
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = r.WriteTo(w)
	})
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
