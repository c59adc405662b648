package herald

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/server"
)

// Config configures a [Hub]. The zero value works: events are kept in
// memory, nobody may publish over HTTP (a program publishes with
// [Hub.Publish]), and only subscribers with a token could subscribe, were
// there a key to verify it with — set [Config.Anonymous] or a key.
type Config struct {
	// Journal is the bbolt file that keeps the events, created if missing;
	// subscribers resume from it across restarts. Empty keeps them in
	// memory, lost when the hub closes.
	Journal string
	// Retention bounds the events kept (default: all of them, for as long
	// as the journal lives).
	Retention Retention

	// PublisherKey verifies the JWTs of publishers over HTTP: an HMAC
	// secret, taken byte for byte, or PEM text of a public key (RSA, EC,
	// Ed25519), a certificate or a private key. Nil refuses every publish
	// over HTTP. The token package mints tokens from the same material.
	PublisherKey []byte
	// SubscriberKey verifies subscribers' JWTs, in the same forms; nil
	// means PublisherKey.
	SubscriberKey []byte
	// Anonymous lets subscribers without a token receive public updates.
	Anonymous bool
	// CORSOrigins lists the origins (scheme://host[:port]) allowed to
	// subscribe and publish from a browser; "*" allows any origin, without
	// credentials.
	CORSOrigins []string

	// Heartbeat is the interval of the keep-alive comments on idle streams
	// (default 15s; negative disables them).
	Heartbeat time.Duration
	// Limits bounds what subscribers and publishers may cost.
	Limits Limits
	// SubscriptionEvents publishes Mercure subscription events when
	// subscribers come and go, and serves the subscriptions API.
	SubscriptionEvents bool

	// Logger receives the hub's logs (default slog.Default()).
	Logger *slog.Logger
}

// Retention bounds what the journal keeps; subscribers resume only from
// events still kept. A zero field sets no bound.
type Retention struct {
	// MaxEvents is the most events kept.
	MaxEvents int
	// MaxAge is how long an event is kept.
	MaxAge time.Duration
}

// Limits bounds what the hub's clients may cost. A request past a limit of
// one client is refused with 429 Too Many Requests and a Retry-After; a
// stream past MaxConnections with 503. A zero field takes its default; a
// negative one removes that limit, except QueueBytes, which always bounds.
type Limits struct {
	// MaxConnections caps the open subscriber streams (default: no limit).
	MaxConnections int
	// MaxLifetime ends a stream after this long, with ±10% jitter, so that
	// clients reconnect, and rebalance behind a load balancer (default:
	// no limit).
	MaxLifetime time.Duration
	// QueueBytes bounds each subscriber's queue, in bytes: a subscriber
	// further behind is disconnected, and resumes from the journal
	// (default, and when negative, 1 MiB).
	QueueBytes int
	// MaxBodyBytes caps a publish request's body (default 1 MiB).
	MaxBodyBytes int64

	// ConnectRate is how many streams per second one client address may
	// open, in bursts of up to ConnectBurst (defaults 1000/s, 2000).
	ConnectRate  float64
	ConnectBurst int
	// StreamsPerAddress caps the open streams of one client address
	// (default 4096).
	StreamsPerAddress int
	// StreamsPerSubject caps the open streams of one token subject (the
	// "sub" claim), whatever their addresses (default 4096).
	StreamsPerSubject int
	// PublishRate is how many updates per second one token may publish
	// over HTTP, in bursts of up to PublishBurst (defaults 20,000/s,
	// 40,000). [Hub.Publish] is not limited.
	PublishRate  float64
	PublishBurst int
	// ClientAddressHeader names the header a reverse proxy puts the
	// client's address in, such as X-Forwarded-For (whose last address
	// counts). Empty, the default, means the connection's address. Set
	// it only behind a proxy that always sets it: anyone can send it.
	ClientAddressHeader string
}

// serverConfig is the server's configuration for c, with its keys parsed;
// the hub and the journal are New's to add.
func (c *Config) serverConfig() (server.Config, error) {
	sc := server.Config{
		Anonymous:          c.Anonymous,
		CORSOrigins:        c.CORSOrigins,
		Heartbeat:          c.Heartbeat,
		MaxLifetime:        max(c.Limits.MaxLifetime, 0),
		MaxConnections:     max(c.Limits.MaxConnections, 0),
		MaxBodyBytes:       c.Limits.MaxBodyBytes,
		SubscriptionEvents: c.SubscriptionEvents,
		Logger:             c.Logger,
		Limits: server.Limits{
			ConnectRate:         c.Limits.ConnectRate,
			ConnectBurst:        c.Limits.ConnectBurst,
			StreamsPerAddress:   c.Limits.StreamsPerAddress,
			StreamsPerSubject:   c.Limits.StreamsPerSubject,
			PublishRate:         c.Limits.PublishRate,
			PublishBurst:        c.Limits.PublishBurst,
			ClientAddressHeader: c.Limits.ClientAddressHeader,
		},
	}
	if c.Limits.MaxBodyBytes < 0 {
		sc.MaxBodyBytes = math.MaxInt64
	}
	if c.PublisherKey != nil {
		k, err := auth.ParseKey(c.PublisherKey)
		if err != nil {
			return server.Config{}, fmt.Errorf("herald: PublisherKey: %w", err)
		}
		sc.PublisherKey, sc.SubscriberKey = &k, &k
	}
	if c.SubscriberKey != nil {
		k, err := auth.ParseKey(c.SubscriberKey)
		if err != nil {
			return server.Config{}, fmt.Errorf("herald: SubscriberKey: %w", err)
		}
		sc.SubscriberKey = &k
	}
	return sc, nil
}

// hubConfig is the hub's configuration for c.
func (c *Config) hubConfig() hub.Config {
	return hub.Config{QueueBytes: max(c.Limits.QueueBytes, 0), Logger: c.Logger}
}
