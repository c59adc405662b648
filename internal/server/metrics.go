package server

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/push"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/transport/websocket"
)

// The values of the transport label: how a subscriber receives events.
const (
	transportSSE       = "sse"
	transportPoll      = "poll"
	transportWebSocket = "websocket"
	transportDB        = "db"
)

// The values of the via label of publishes: what carried the update.
const (
	viaHTTP      = "http"
	viaWebSocket = "websocket"
)

// Why a stream closed: the values of herald_streams_closed_total's reason.
const (
	closedClientGone   = "client_gone"
	closedSlowConsumer = "slow_consumer"
	closedTokenExpired = "token_expired"
	closedLifetime     = "lifetime"
	closedDraining     = "draining"
	closedHubClosed    = "hub_closed"
	closedProtocol     = "protocol"
	closedAnswered     = "answered"
	closedWriteError   = "write_error"
)

// closeReason names why a stream closed, for herald_streams_closed_total.
func closeReason(err error) string {
	switch {
	case err == nil, errors.Is(err, session.ErrClosed):
		return closedAnswered
	case errors.Is(err, push.ErrClientGone), errors.Is(err, context.Canceled):
		return closedClientGone
	case errors.Is(err, hub.ErrSlowConsumer):
		return closedSlowConsumer
	case errors.Is(err, session.ErrTokenExpired):
		return closedTokenExpired
	case errors.Is(err, session.ErrLifetime):
		return closedLifetime
	case errors.Is(err, session.ErrDraining), errors.Is(err, push.ErrPoolClosed):
		return closedDraining
	case errors.Is(err, hub.ErrHubClosed):
		return closedHubClosed
	}
	if ce, ok := errors.AsType[*websocket.CloseError](err); ok {
		if ce.Code == websocket.CodeSlowConsumer {
			return closedSlowConsumer
		}
		return closedProtocol
	}
	return closedWriteError
}

// Buckets of the latency histograms, in seconds: from a memory journal's
// tens of microseconds to a struggling disk's seconds.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// ageBuckets are those of the event age at delivery, in seconds: up to
// the backlog of a subscriber about to be cut as a slow consumer.
var ageBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// serverMetrics are the instruments the server updates itself; the hub's
// counters and the journal's holdings are read at scrape time (see
// hubCollector).
type serverMetrics struct {
	publishes       prometheus.Counter
	publishErrors   prometheus.Counter
	authFailures    prometheus.Counter
	rejectedStreams prometheus.Counter
	appendLatency   prometheus.Histogram
	refused         *prometheus.CounterVec
	// The state tree's writes: stored, refused or failed, and the time
	// to a stored one's answer (durable, and visible to reads here).
	dbWrites, dbWriteErrors prometheus.Counter
	dbWriteLatency          prometheus.Histogram
	// Publish latency, by what carried the update.
	publishHTTP, publishWebSocket prometheus.Observer
	// responses counts HTTP answers by status class, 1xx to 5xx
	// (responses[2] is 2xx), when their handler returns.
	responses [6]prometheus.Counter

	sse, poll, websocket, db transportMetrics
}

// transportMetrics are one transport's instruments, resolved once so that
// the write path does no label lookup.
type transportMetrics struct {
	open   prometheus.Gauge
	opened prometheus.Counter
	closed *prometheus.CounterVec // by reason
	sent   prometheus.Counter
	age    prometheus.Observer
}

func newServerMetrics(reg prometheus.Registerer, s *Server) *serverMetrics {
	f := promauto.With(reg)
	m := &serverMetrics{
		publishes:       f.NewCounter(prometheus.CounterOpts{Name: "herald_publishes_total", Help: "Events accepted and journaled by the publish endpoint or a WebSocket."}),
		publishErrors:   f.NewCounter(prometheus.CounterOpts{Name: "herald_publish_errors_total", Help: "Publishes refused or failed."}),
		authFailures:    f.NewCounter(prometheus.CounterOpts{Name: "herald_auth_failures_total", Help: "Requests answered 401, and WebSocket auth messages refused."}),
		rejectedStreams: f.NewCounter(prometheus.CounterOpts{Name: "herald_streams_rejected_total", Help: "Subscriber streams refused with 503 by the connection limit."}),
		appendLatency: f.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_journal_append_seconds", Help: "Time to append a published event durably (the journal's commit, group commits included).",
			Buckets: latencyBuckets,
		}),
		refused: f.NewCounterVec(prometheus.CounterOpts{
			Name: "herald_refused_total", Help: "Requests refused with 429 by a per-client limit, by limit.",
		}, []string{"reason"}),
		dbWrites:      f.NewCounter(prometheus.CounterOpts{Name: "herald_db_writes_total", Help: "State tree writes stored."}),
		dbWriteErrors: f.NewCounter(prometheus.CounterOpts{Name: "herald_db_write_errors_total", Help: "State tree writes refused (bad input, access, a failed condition) or failed."}),
		dbWriteLatency: f.NewHistogram(prometheus.HistogramOpts{
			Name: "herald_db_write_seconds", Help: "From a state tree write's arrival to its answer, for writes stored: computed, durable in the journal, and visible to reads on this node.",
			Buckets: latencyBuckets,
		}),
	}
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(r)
	}
	responses := f.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_http_responses_total", Help: "HTTP responses by status class (1xx to 5xx), counted when the handler returns: for a push stream or a WebSocket in the pool, when it opens; for a stream on a goroutine of its own, when it ends.",
	}, []string{"class"})
	for c := 1; c <= 5; c++ {
		m.responses[c] = responses.WithLabelValues(strconv.Itoa(c) + "xx")
	}
	latency := f.NewHistogramVec(prometheus.HistogramOpts{
		Name: "herald_publish_duration_seconds", Help: "Time from a publish's arrival to its acknowledgement, for acknowledged publishes, by what carried it.",
		Buckets: latencyBuckets,
	}, []string{"via"})
	m.publishHTTP, m.publishWebSocket = latency.WithLabelValues(viaHTTP), latency.WithLabelValues(viaWebSocket)

	open := f.NewGaugeVec(prometheus.GaugeOpts{Name: "herald_streams", Help: "Open subscriber streams, by transport (a WebSocket counts once, whatever its subscriptions; a poll while it is held)."}, []string{"transport"})
	opened := f.NewCounterVec(prometheus.CounterOpts{Name: "herald_streams_opened_total", Help: "Subscriber streams opened, by transport."}, []string{"transport"})
	closed := f.NewCounterVec(prometheus.CounterOpts{Name: "herald_streams_closed_total", Help: "Subscriber streams closed, by transport and reason."}, []string{"transport", "reason"})
	sent := f.NewCounterVec(prometheus.CounterOpts{Name: "herald_sent_bytes_total", Help: "Bytes written to subscribers' connections (frames, replays, heartbeats, poll answers), by transport."}, []string{"transport"})
	age := f.NewHistogramVec(prometheus.HistogramOpts{
		Name: "herald_delivery_age_seconds",
		Help: "Age of live events when a writer takes them: now minus the time the journal accepted the event. " +
			"One observation per write batch, of its oldest event.",
		Buckets: ageBuckets,
	}, []string{"transport"})
	for _, t := range []struct {
		name    string
		m       *transportMetrics
		reasons []string
	}{
		{transportSSE, &m.sse, []string{closedClientGone, closedSlowConsumer, closedTokenExpired, closedLifetime, closedDraining, closedWriteError}},
		{transportPoll, &m.poll, []string{closedAnswered, closedClientGone, closedDraining}},
		{transportWebSocket, &m.websocket, []string{closedClientGone, closedSlowConsumer, closedTokenExpired, closedLifetime, closedDraining, closedProtocol, closedWriteError}},
		{transportDB, &m.db, []string{closedClientGone, closedSlowConsumer, closedTokenExpired, closedLifetime, closedDraining, closedWriteError}},
	} {
		*t.m = transportMetrics{
			open: open.WithLabelValues(t.name), opened: opened.WithLabelValues(t.name),
			closed: closed.MustCurryWith(prometheus.Labels{"transport": t.name}),
			sent:   sent.WithLabelValues(t.name), age: age.WithLabelValues(t.name),
		}
		// The usual reasons exist at 0 from the start, so that a rate
		// over them is defined.
		for _, r := range t.reasons {
			t.m.closed.WithLabelValues(r)
		}
	}
	reg.MustRegister(&hubCollector{hub: s.cfg.Hub, journal: s.cfg.Journal})
	return m
}

// opens counts a stream that opened.
func (t *transportMetrics) opens() {
	t.opened.Inc()
	t.open.Inc()
}

// closes counts a stream that opened and closed, for reason.
func (t *transportMetrics) closes(reason error) {
	t.open.Dec()
	t.closed.WithLabelValues(closeReason(reason)).Inc()
}

// delivered observes the age of the oldest event of a write batch; zero
// for a batch without events.
func (t *transportMetrics) delivered(oldest time.Time) {
	if !oldest.IsZero() {
		t.age.Observe(time.Since(oldest).Seconds())
	}
}

// hubCollector reads the hub's counters and what the journal holds, once
// per scrape.
type hubCollector struct {
	hub     *hub.Hub
	journal journal.Journal
}

var (
	descSubscriptions = prometheus.NewDesc("herald_subscriptions", "Subscriptions registered in the hub (a WebSocket may hold several; a poll holds one while it is held).", nil, nil)
	descDeliveries    = prometheus.NewDesc("herald_deliveries_total", "Events queued to subscribers live.", nil, nil)
	descReplayed      = prometheus.NewDesc("herald_replayed_total", "Events replayed from the journal to resuming subscribers and polls.", nil, nil)
	descFannedOut     = prometheus.NewDesc("herald_fanned_out_total", "Events received from the journal and fanned out, whichever node published them.", nil, nil)
	descSlowConsumers = prometheus.NewDesc("herald_slow_consumer_disconnects_total", "Subscriptions ended because their queue overflowed.", nil, nil)
	descAnnounced     = prometheus.NewDesc("herald_announcements_total", "Subscription events fanned out (live only, not journaled).", nil, nil)
	descAnnDropped    = prometheus.NewDesc("herald_announcements_dropped_total", "Subscription events dropped because too many waited.", nil, nil)
	descRetained      = prometheus.NewDesc("herald_journal_events", "Events the journal retains.", nil, nil)
	descOldestAge     = prometheus.NewDesc("herald_journal_oldest_event_age_seconds", "Age of the oldest event the journal retains (0 when it retains none).", nil, nil)
	descPending       = prometheus.NewDesc("herald_journal_pending_events", "Events durable in the journal's write-ahead log and not yet in its file (the bolt journal; 0 for others).", nil, nil)
)

func (c *hubCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSubscriptions, descDeliveries, descReplayed, descFannedOut, descSlowConsumers, descAnnounced, descAnnDropped} {
		ch <- d
	}
	if _, ok := c.journal.(journal.StatsReporter); ok {
		ch <- descRetained
		ch <- descOldestAge
		ch <- descPending
	}
}

func (c *hubCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.hub.Stats()
	ch <- prometheus.MustNewConstMetric(descSubscriptions, prometheus.GaugeValue, float64(st.Subscribers))
	for _, v := range []struct {
		d *prometheus.Desc
		n uint64
	}{
		{descDeliveries, st.Delivered}, {descReplayed, st.Replayed}, {descFannedOut, st.FannedOut},
		{descSlowConsumers, st.SlowConsumerDisconnects}, {descAnnounced, st.Announced}, {descAnnDropped, st.AnnouncementsDropped},
	} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n))
	}
	if r, ok := c.journal.(journal.StatsReporter); ok {
		js := r.Stats()
		age := 0.0
		if !js.Oldest.IsZero() {
			age = max(time.Since(js.Oldest).Seconds(), 0)
		}
		ch <- prometheus.MustNewConstMetric(descRetained, prometheus.GaugeValue, float64(js.Events))
		ch <- prometheus.MustNewConstMetric(descOldestAge, prometheus.GaugeValue, age)
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(js.Pending))
	}
}

// NewRegistry returns a server's default registry ([Config.Metrics]): the
// Go runtime's and the process's collectors, to which the server adds its
// own.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// registerBuildInfo registers herald_build_info, the constant 1 labelled
// with what was built.
func registerBuildInfo(reg prometheus.Registerer, version string) {
	revision := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				revision = s.Value
			}
		}
	}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "herald_build_info", Help: "Always 1; the labels say which build runs.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version(), "revision": revision},
	}, func() float64 { return 1 }))
}

// MetricsHandler serves the server's metrics ([Config.Metrics]) in the
// Prometheus exposition formats: on the server's own GET /metrics unless
// [Config.PrivateMetrics] is set, and wherever a program mounts it (an
// internal listener).
func (s *Server) MetricsHandler() http.Handler {
	return promhttp.HandlerFor(s.cfg.Metrics, promhttp.HandlerOpts{})
}

// dbWritten counts a state tree write answered with status after d.
func (m *serverMetrics) dbWritten(status int, d time.Duration) {
	if status >= 300 {
		m.dbWriteErrors.Inc()
		return
	}
	m.dbWrites.Inc()
	m.dbWriteLatency.Observe(d.Seconds())
}

// answered counts a response of status.
func (m *serverMetrics) answered(status int) {
	if c := status / 100; c >= 1 && c <= 5 {
		m.responses[c].Inc()
	}
}
