package metrics

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestExposition(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounter("herald_publishes_total", "Events published.")
	c.Add(3)
	r.NewGaugeFunc("herald_connections", "Open streams.", func() float64 { return 7 })
	h := r.NewHistogram("herald_append_seconds", "Append latency.", []float64{0.001, 0.01})
	h.Observe(500 * time.Microsecond)
	h.Observe(5 * time.Millisecond)
	h.Observe(time.Second)

	rec := httptest.NewRecorder()
	r.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	got := rec.Body.String()
	for _, want := range []string{
		"# TYPE herald_publishes_total counter\nherald_publishes_total 3\n",
		"# TYPE herald_connections gauge\nherald_connections 7\n",
		`herald_append_seconds_bucket{le="0.001"} 1` + "\n",
		`herald_append_seconds_bucket{le="0.01"} 2` + "\n",
		`herald_append_seconds_bucket{le="+Inf"} 3` + "\n",
		"herald_append_seconds_count 3\n",
		"herald_append_seconds_sum 1.0055\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("exposition lacks %q; got:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "herald_append_seconds"), strings.Index(got, "herald_publishes_total"); i > j {
		t.Errorf("metrics not sorted by name:\n%s", got)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestDuplicatePanics(t *testing.T) {
	r := NewRegistry()
	r.NewCounter("x", "x")
	defer func() {
		if recover() == nil {
			t.Fatal("registering a duplicate name did not panic")
		}
	}()
	r.NewCounter("x", "x")
}

func TestCounterVec(t *testing.T) {
	r := NewRegistry()
	c := r.NewCounterVec("refused_total", "Refused requests.", "reason", "a", "b")
	c.Inc("b")
	c.Inc("b")
	var b strings.Builder
	if _, err := r.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	want := "# HELP refused_total Refused requests.\n# TYPE refused_total counter\nrefused_total{reason=\"a\"} 0\nrefused_total{reason=\"b\"} 2\n"
	if b.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", b.String(), want)
	}
}
