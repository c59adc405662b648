package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/testutil"
)

// scrape reads the server's /metrics as Prometheus would.
func (e *hubEnv) scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// sample returns the metric of family name whose labels include labels
// (name=value pairs), or nil.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) *dto.Metric {
	f := fams[name]
	if f == nil {
		return nil
	}
next:
	for _, m := range f.Metric {
		for i := 0; i+1 < len(labels); i += 2 {
			if !slices.ContainsFunc(m.Label, func(l *dto.LabelPair) bool { return l.GetName() == labels[i] && l.GetValue() == labels[i+1] }) {
				continue next
			}
		}
		return m
	}
	return nil
}

// value is the value of a counter or gauge sample, or a histogram's count.
func value(m *dto.Metric) float64 {
	switch {
	case m == nil:
		return -1
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return -1
}

// After traffic over every transport (a publish over HTTP and one over a
// WebSocket; an SSE stream, a long poll and a WebSocket subscription that
// receive them), /metrics has each series with its type and labels, and
// the counts of that traffic.
func TestMetricsAfterTraffic(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, anonymous, mode, func(c *serverConfig, _ *hubConfig) { c.Version = "v9.8.7" })
		stream := e.subscribe("topic=t", nil)
		sock := e.dialWS(bearer(e.token(auth.MintClaims{Publish: []string{"t"}})))
		sock.subscribe("s", "", "t")
		start := e.poll("topic=t&wait=0", nil).LastEventID
		polled := make(chan pollAnswer, 1)
		go func() { polled <- e.poll("topic=t&wait=10&lastEventID="+url.QueryEscape(start), nil) }()
		waitStreams(t, e, 3)

		id := e.mustPublish(form("topic", "t", "data", "over http"))
		if ev := stream.next(t); ev.ID != id {
			t.Fatalf("stream got %q, want %q", ev.ID, id)
		}
		if m := sock.expect("event"); m.ID != id {
			t.Fatalf("socket got %q, want %q", m.ID, id)
		}
		select {
		case a := <-polled:
			if !slices.Equal(a.ids(), []string{id}) {
				t.Fatalf("poll got %v, want %q", a.ids(), id)
			}
		case <-time.After(testutil.WaitTimeout):
			t.Fatal("held poll not answered")
		}
		sock.send(map[string]any{"op": "publish", "ref": 1, "topics": []string{"t"}, "data": "over websocket"})
		// The socket is subscribed to t: the event and its ack come in
		// either order.
		if m := sock.next(); m.Op != "ack" {
			sock.expect("ack")
		}
		stream.next(t)
		stream.close()

		var fams map[string]*dto.MetricFamily
		testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
			fams = e.scrape(t)
			if v := value(sample(fams, "herald_streams_closed_total", "transport", "sse", "reason", "client_gone")); v != 1 {
				return fmt.Errorf("herald_streams_closed_total{sse,client_gone} = %v, want 1", v)
			}
			// A scrape reads the gauge and the counter one after the
			// other: the close may fall between them.
			if v := value(sample(fams, "herald_streams", "transport", "sse")); v != 0 {
				return fmt.Errorf("herald_streams{sse} = %v after the stream closed, want 0", v)
			}
			return nil
		})

		checks := []struct {
			name   string
			typ    dto.MetricType
			labels []string
			min    float64 // the least value (a histogram's count)
		}{
			{"herald_build_info", dto.MetricType_GAUGE, []string{"version", "v9.8.7"}, 1},
			{"go_goroutines", dto.MetricType_GAUGE, nil, 1},
			{"go_memstats_heap_inuse_bytes", dto.MetricType_GAUGE, nil, 1},
			{"process_resident_memory_bytes", dto.MetricType_GAUGE, nil, 1},
			{"herald_publishes_total", dto.MetricType_COUNTER, nil, 2},
			{"herald_publish_errors_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_publish_duration_seconds", dto.MetricType_HISTOGRAM, []string{"via", "http"}, 1},
			{"herald_publish_duration_seconds", dto.MetricType_HISTOGRAM, []string{"via", "websocket"}, 1},
			{"herald_journal_append_seconds", dto.MetricType_HISTOGRAM, nil, 2},
			{"herald_journal_events", dto.MetricType_GAUGE, nil, 2},
			{"herald_journal_oldest_event_age_seconds", dto.MetricType_GAUGE, nil, 0},
			{"herald_journal_pending_events", dto.MetricType_GAUGE, nil, 0},
			{"herald_deliveries_total", dto.MetricType_COUNTER, nil, 5},
			{"herald_fanned_out_total", dto.MetricType_COUNTER, nil, 2},
			{"herald_replayed_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_subscriptions", dto.MetricType_GAUGE, nil, 1},
			{"herald_slow_consumer_disconnects_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_announcements_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_announcements_dropped_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_auth_failures_total", dto.MetricType_COUNTER, nil, 0},
			{"herald_streams_rejected_total", dto.MetricType_COUNTER, nil, 0},
			// The publish over HTTP, two polls, the closed stream. (The
			// open socket's 101 counts when its handler returns: at once
			// in the pool, at its end on a goroutine of its own.)
			{"herald_http_responses_total", dto.MetricType_COUNTER, []string{"class", "2xx"}, 4},
			{"herald_refused_total", dto.MetricType_COUNTER, []string{"reason", "publish_rate"}, 0},
			{"herald_refused_total", dto.MetricType_COUNTER, []string{"reason", "connect_rate"}, 0},
			{"herald_streams", dto.MetricType_GAUGE, []string{"transport", "websocket"}, 1},
			{"herald_streams", dto.MetricType_GAUGE, []string{"transport", "sse"}, 0},
			{"herald_streams", dto.MetricType_GAUGE, []string{"transport", "poll"}, 0},
			{"herald_streams_opened_total", dto.MetricType_COUNTER, []string{"transport", "sse"}, 1},
			{"herald_streams_opened_total", dto.MetricType_COUNTER, []string{"transport", "poll"}, 2},
			{"herald_streams_opened_total", dto.MetricType_COUNTER, []string{"transport", "websocket"}, 1},
			{"herald_streams_closed_total", dto.MetricType_COUNTER, []string{"transport", "poll", "reason", "answered"}, 2},
			{"herald_sent_bytes_total", dto.MetricType_COUNTER, []string{"transport", "sse"}, 1},
			{"herald_sent_bytes_total", dto.MetricType_COUNTER, []string{"transport", "poll"}, 1},
			{"herald_sent_bytes_total", dto.MetricType_COUNTER, []string{"transport", "websocket"}, 1},
			{"herald_delivery_age_seconds", dto.MetricType_HISTOGRAM, []string{"transport", "sse"}, 1},
			{"herald_delivery_age_seconds", dto.MetricType_HISTOGRAM, []string{"transport", "poll"}, 1},
			{"herald_delivery_age_seconds", dto.MetricType_HISTOGRAM, []string{"transport", "websocket"}, 1},
		}
		for _, c := range checks {
			f := fams[c.name]
			if f == nil {
				t.Errorf("%s: missing", c.name)
				continue
			}
			if f.GetType() != c.typ {
				t.Errorf("%s: type %v, want %v", c.name, f.GetType(), c.typ)
			}
			m := sample(fams, c.name, c.labels...)
			if m == nil {
				t.Errorf("%s%v: no such series", c.name, c.labels)
				continue
			}
			if v := value(m); v < c.min {
				t.Errorf("%s%v = %v, want at least %v", c.name, c.labels, v, c.min)
			}
		}
		if v := value(sample(fams, "herald_journal_events")); v != 2 {
			t.Errorf("herald_journal_events = %v, want the 2 events published", v)
		}
		bi := sample(fams, "herald_build_info")
		if bi == nil {
			return
		}
		for _, l := range []string{"version", "goversion", "revision"} {
			if !slices.ContainsFunc(bi.Label, func(p *dto.LabelPair) bool { return p.GetName() == l }) {
				t.Errorf("herald_build_info has no %s label: %v", l, bi.Label)
			}
		}
	})
}

// With PrivateMetrics, the public handler has no /metrics; the metrics are
// the program's to serve elsewhere.
func TestPrivateMetrics(t *testing.T) {
	e := newEnv(t, anonymous, func(c *serverConfig, _ *hubConfig) { c.PrivateMetrics = true })
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics with PrivateMetrics: %d, want 404", resp.StatusCode)
	}
	rec := httptest.NewRecorder()
	e.srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "herald_publishes_total") {
		t.Fatalf("MetricsHandler served %q", rec.Body.String())
	}
}

// The Grafana dashboard in deploy/grafana parses, and every series its
// queries name is one the server exports (after traffic, so that every
// labelled series exists).
func TestGrafanaDashboardSeriesExist(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/herald.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("herald.json: %v", err)
	}
	e := newEnv(t, anonymous)
	e.mustPublish(form("topic", "t", "data", "x"))
	fams := e.scrape(t)
	name := regexp.MustCompile(`\b(?:herald|go|process)_[a-z_]+\b`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				continue
			}
			queries++
			for _, n := range name.FindAllString(tg.Expr, -1) {
				if fams[n] != nil {
					continue
				}
				base := n
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					base = strings.TrimSuffix(base, suffix)
				}
				if f := fams[base]; base != n && f != nil && f.GetType() == dto.MetricType_HISTOGRAM {
					continue
				}
				t.Errorf("panel %q queries %s, which the server does not export", p.Title, n)
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has %d queries; want a panel per metric group", queries)
	}
}
