package herald

import (
	"fmt"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/state/tree"
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

	// DB configures the JSON state tree: the Firebase Realtime
	// Database–compatible REST API and its streams, on by default.
	DB DB

	// NATS, when its URL is set, keeps the events in a NATS JetStream
	// stream instead of Journal: every hub on that stream shares them, so
	// a publish on one reaches the subscribers of all, and a subscriber
	// resumes on any.
	NATS NATS

	// Logger receives the hub's logs (default slog.Default()).
	Logger *slog.Logger
}

// NATS configures the JetStream journal of a hub that runs beside others.
type NATS struct {
	// URL lists the NATS servers, comma-separated (nats://host:4222).
	URL string
	// Credentials is a NATS credentials file (a user JWT and its seed).
	Credentials string
	// TLSCA, TLSCert and TLSKey are PEM files: the CA the servers' certificates
	// are checked against, and this client's certificate and key.
	TLSCA, TLSCert, TLSKey string
	// Stream is the JetStream stream's name (default HERALD); every hub of
	// one deployment names the same. Created if missing.
	Stream string
	// Replicas is how many servers store each event (default: the
	// stream's, or 1 for a new one).
	Replicas int
	// SnapshotInterval is how often a node saves the state tree in the
	// object store Stream + "_STATE" while the tree changes (default 30s);
	// a node also saves it when it closes, and starts from the newest.
	SnapshotInterval time.Duration
}

// DB configures the state tree. The zero value serves it at /db, where
// each token's db claim grants reads and writes by path.
type DB struct {
	// Disabled turns the state tree off.
	Disabled bool
	// Prefix is the URL path of the tree's root (default "/db"); "/"
	// serves it at the root, as Firebase clients address a database, for
	// URLs ending in .json.
	Prefix string
	// AdminToken, when set, is a bearer token that may read and write
	// everything and revoke tokens: how the Firebase Admin SDKs
	// authenticate to an emulator (they send "owner").
	AdminToken string
	// Rules is a rules file shaped like Firebase's security rules; empty,
	// the tokens' grants alone decide. [Hub.ReloadRules] reads it again.
	Rules string
	// Rate limits the state tree requests of each caller (a token's
	// subject, or an address) per second, in bursts of Burst (default
	// twice Rate); 0 means no limit.
	Rate  float64
	Burst int
	// MaxWriteBytes bounds the body of one write (default 16 MiB).
	MaxWriteBytes int
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
			DBRate:              c.DB.Rate,
			DBBurst:             c.DB.Burst,
		},
		DBPrefix:     c.DB.Prefix,
		DBAdminToken: c.DB.AdminToken,
	}
	if p := c.DB.Prefix; p != "" && (p[0] != '/' || strings.ContainsAny(p, "?#{}") || strings.Contains(p, "//")) {
		return server.Config{}, fmt.Errorf("herald: DB.Prefix %q: a URL path starting with /", p)
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

// stateLimits are the state tree's bounds for c.
func (c *Config) stateLimits() tree.Limits {
	return tree.Limits{MaxBytes: c.DB.MaxWriteBytes}
}
