package server

import (
	"github.com/heraldhub/herald/internal/metrics"
)

// serverMetrics are the instruments the server updates itself; the hub's
// own counters are read at scrape time.
type serverMetrics struct {
	publishes       *metrics.Counter
	publishErrors   *metrics.Counter
	authFailures    *metrics.Counter
	streamsOpened   *metrics.Counter
	polls           *metrics.Counter
	socketsOpened   *metrics.Counter
	rejectedStreams *metrics.Counter
	appendLatency   *metrics.Histogram
	refused         *metrics.CounterVec
}

func newServerMetrics(reg *metrics.Registry, s *Server) *serverMetrics {
	m := &serverMetrics{
		publishes:       reg.NewCounter("herald_publishes_total", "Events accepted by the publish endpoint."),
		publishErrors:   reg.NewCounter("herald_publish_errors_total", "Publish requests refused or failed."),
		authFailures:    reg.NewCounter("herald_auth_failures_total", "Requests answered 401."),
		streamsOpened:   reg.NewCounter("herald_streams_opened_total", "Subscriber streams opened."),
		polls:           reg.NewCounter("herald_polls_total", "Long and short polls answered."),
		socketsOpened:   reg.NewCounter("herald_websockets_opened_total", "WebSocket connections opened."),
		rejectedStreams: reg.NewCounter("herald_streams_rejected_total", "Subscriber streams refused by the connection limit."),
		refused: reg.NewCounterVec("herald_refused_total", "Requests refused with 429 by a per-client limit, by limit.",
			"reason", refusalReasons...),
		appendLatency: reg.NewHistogram("herald_journal_append_seconds", "Time to append a published event durably.",
			[]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}),
	}
	h := s.cfg.Hub
	reg.NewGaugeFunc("herald_connections", "Open subscriber streams.", func() float64 { return float64(s.streams.Load()) })
	reg.NewGaugeFunc("herald_subscriptions", "Subscriptions registered in the hub.", func() float64 { return float64(h.Stats().Subscribers) })
	reg.NewCounterFunc("herald_deliveries_total", "Events queued to subscribers live.", func() float64 { return float64(h.Stats().Delivered) })
	reg.NewCounterFunc("herald_replayed_total", "Events replayed to resuming subscribers.", func() float64 { return float64(h.Stats().Replayed) })
	reg.NewCounterFunc("herald_announcements_total", "Subscription events delivered live (not journaled).",
		func() float64 { return float64(h.Stats().Announced) })
	reg.NewCounterFunc("herald_announcements_dropped_total", "Subscription events dropped because too many waited.",
		func() float64 { return float64(h.Stats().AnnouncementsDropped) })
	reg.NewCounterFunc("herald_slow_consumer_disconnects_total", "Subscribers disconnected because their queue overflowed.",
		func() float64 { return float64(h.Stats().SlowConsumerDisconnects) })
	return m
}
