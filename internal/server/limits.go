package server

import (
	"cmp"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limits bounds what any one client may cost the hub: how fast it opens
// streams, how many it holds and how costly their selectors are, how fast
// it publishes. Past a limit the request is refused with 429 Too Many
// Requests and a Retry-After, counted in herald_refused_total by reason,
// and logged at a bounded rate. A zero field takes its default; a negative
// one removes that limit.
//
// The defaults stop one address or one token from taking the hub while
// leaving room for a load test from a handful of loopback addresses.
type Limits struct {
	// ConnectRate is how many streams per second one client address may
	// open, in bursts of up to ConnectBurst (defaults 1000/s, 2000).
	ConnectRate  float64
	ConnectBurst int
	// StreamsPerAddress caps the open streams of one client address
	// (default 4096).
	StreamsPerAddress int
	// StreamsPerSubject caps the open streams of one token subject (the
	// "sub" claim), whatever addresses they come from (default 4096).
	StreamsPerSubject int
	// SelectorCostPerAddress caps the total selector cost (see
	// Config.MaxSelectorCost) of one client address's open streams
	// (default 16,384: 64 streams at the largest budget, under 1 MiB).
	SelectorCostPerAddress int
	// PublishRate is how many events per second one token may publish,
	// in bursts of up to PublishBurst (defaults 20,000/s, 40,000).
	PublishRate  float64
	PublishBurst int
	// DBRate is how many requests per second one caller may make of the
	// state tree (reads, writes, streams opened), in bursts of up to
	// DBBurst, as Nest limited each token: a caller is a token's subject,
	// or the client address without a token; the admin token is not
	// limited. 0, the default, means no limit (DBBurst defaults to
	// twice the rate).
	DBRate  float64
	DBBurst int
	// ClientAddressHeader names the header a reverse proxy puts the
	// client's address in (such as X-Forwarded-For, whose last address is
	// the one the proxy added). Empty, the default, means the address of
	// the connection. Set it only behind a proxy that always sets the
	// header: anyone can send it.
	ClientAddressHeader string
}

func (l *Limits) setDefaults() {
	l.ConnectRate = cmp.Or(l.ConnectRate, 1000)
	l.ConnectBurst = cmp.Or(l.ConnectBurst, 2000)
	l.StreamsPerAddress = cmp.Or(l.StreamsPerAddress, 4096)
	l.StreamsPerSubject = cmp.Or(l.StreamsPerSubject, 4096)
	l.SelectorCostPerAddress = cmp.Or(l.SelectorCostPerAddress, 64*DefaultMaxSelectorCost)
	l.PublishRate = cmp.Or(l.PublishRate, 20000)
	l.PublishBurst = cmp.Or(l.PublishBurst, 40000)
}

// Which limit refused a request: the values of herald_refused_total's
// reason label.
const (
	refusedConnectRate  = "connect_rate"
	refusedStreamsAddr  = "streams_per_address"
	refusedStreamsSubj  = "streams_per_subject"
	refusedSelectorCost = "selector_cost_per_address"
	refusedPublishRate  = "publish_rate"
	refusedDBRate       = "db_rate"
)

var refusalReasons = []string{refusedConnectRate, refusedStreamsAddr, refusedStreamsSubj, refusedSelectorCost, refusedPublishRate, refusedDBRate}

// clientLimiter keeps the per-client counts behind Limits. An address's
// entry lives while it has open streams or its connect budget is not
// full again, so its memory is bounded by the addresses active in the
// last few seconds.
type clientLimiter struct {
	lim Limits
	now func() time.Time

	mu         sync.Mutex
	addrs      map[string]*addrUse
	subjects   map[string]int
	publishers map[string]*rate.Limiter
	dbCallers  map[string]*rate.Limiter
}

type addrUse struct {
	connects *rate.Limiter
	streams  int
	cost     int
}

func newClientLimiter(lim Limits, now func() time.Time) *clientLimiter {
	lim.setDefaults()
	return &clientLimiter{
		lim: lim, now: now,
		addrs:      make(map[string]*addrUse),
		subjects:   make(map[string]int),
		publishers: make(map[string]*rate.Limiter),
	}
}

// limited reports whether a limit is set (not negative).
func limited[T int | float64](v T) bool { return v > 0 }

func newLimiter(r float64, burst int) *rate.Limiter {
	if !limited(r) {
		return rate.NewLimiter(rate.Inf, 0)
	}
	return rate.NewLimiter(rate.Limit(r), max(burst, 1))
}

// refusal is a request refused by a limit.
type refusal struct {
	reason     string
	retryAfter time.Duration
}

// admitStream takes a stream slot for addr (and subject, when not empty)
// with selectors of the given cost; releaseStream gives it back.
func (c *clientLimiter) admitStream(addr, subject string, cost int) *refusal {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	u := c.addrs[addr]
	if u == nil {
		u = &addrUse{connects: newLimiter(c.lim.ConnectRate, c.lim.ConnectBurst)}
		c.addrs[addr] = u
	}
	if r := u.connects.ReserveN(now, 1); !r.OK() || r.DelayFrom(now) > 0 {
		delay := r.DelayFrom(now)
		r.CancelAt(now)
		return &refusal{refusedConnectRate, delay}
	}
	switch {
	case limited(c.lim.StreamsPerAddress) && u.streams+1 > c.lim.StreamsPerAddress:
		return &refusal{refusedStreamsAddr, 5 * time.Second}
	case limited(c.lim.SelectorCostPerAddress) && u.cost+cost > c.lim.SelectorCostPerAddress:
		return &refusal{refusedSelectorCost, 5 * time.Second}
	case subject != "" && limited(c.lim.StreamsPerSubject) && c.subjects[subject]+1 > c.lim.StreamsPerSubject:
		return &refusal{refusedStreamsSubj, 5 * time.Second}
	}
	u.streams++
	u.cost += cost
	if subject != "" {
		c.subjects[subject]++
	}
	return nil
}

// releaseStream gives back what admitStream took.
func (c *clientLimiter) releaseStream(addr, subject string, cost int) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if u := c.addrs[addr]; u != nil {
		u.streams--
		u.cost -= cost
		c.forgetIdle(addr, u, now)
	}
	if subject != "" {
		if c.subjects[subject]--; c.subjects[subject] <= 0 {
			delete(c.subjects, subject)
		}
	}
	if len(c.addrs) > 4096 {
		for a, u := range c.addrs {
			c.forgetIdle(a, u, now)
		}
	}
}

// forgetIdle drops an address that holds nothing and whose connect
// budget is full again: forgetting it loses nothing.
func (c *clientLimiter) forgetIdle(addr string, u *addrUse, now time.Time) {
	if u.streams == 0 && u.connects.TokensAt(now) >= float64(u.connects.Burst()) {
		delete(c.addrs, addr)
	}
}

// allowPublish takes one publish from token's budget.
func (c *clientLimiter) allowPublish(token string) *refusal {
	if !limited(c.lim.PublishRate) {
		return nil
	}
	return c.take(&c.publishers, token, c.lim.PublishRate, c.lim.PublishBurst, refusedPublishRate)
}

// allowDB takes one state tree request from caller's budget.
func (c *clientLimiter) allowDB(caller string) *refusal {
	if c.lim.DBRate <= 0 {
		return nil
	}
	return c.take(&c.dbCallers, caller, c.lim.DBRate, cmp.Or(c.lim.DBBurst, int(2*c.lim.DBRate)), refusedDBRate)
}

// take takes one from key's token bucket in *buckets, made at rate r
// with burst when key has none; the refusal says why, and for how long.
// The buckets are bounded: past 10,000, the full ones (whose owners
// have been quiet) are dropped.
func (c *clientLimiter) take(buckets *map[string]*rate.Limiter, key string, r float64, burst int, reason string) *refusal {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if *buckets == nil {
		*buckets = make(map[string]*rate.Limiter)
	}
	l := (*buckets)[key]
	if l == nil {
		if len(*buckets) >= 10000 {
			for k, l := range *buckets {
				if l.TokensAt(now) >= float64(l.Burst()) {
					delete(*buckets, k)
				}
			}
		}
		l = newLimiter(r, burst)
		(*buckets)[key] = l
	}
	if res := l.ReserveN(now, 1); !res.OK() || res.DelayFrom(now) > 0 {
		delay := res.DelayFrom(now)
		res.CancelAt(now)
		return &refusal{reason, delay}
	}
	return nil
}

// clientAddress is the address limits count a request under: the
// connection's, or the last one of the trusted proxy header.
func (c *clientLimiter) clientAddress(r *http.Request) string {
	if h := c.lim.ClientAddressHeader; h != "" {
		if v := r.Header.Values(h); len(v) > 0 {
			last := v[len(v)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if last = strings.TrimSpace(last); last != "" {
				return last
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// tooMany is the answer to a refusal: 429 with a Retry-After of whole
// seconds, at least one.
func tooMany(f *refusal) *httpError {
	e := errorf(http.StatusTooManyRequests, "too many requests: "+strings.ReplaceAll(f.reason, "_", " ")+" limit")
	secs := int(math.Ceil(f.retryAfter.Seconds()))
	e.retryAfter = strconv.Itoa(max(secs, 1))
	return e
}
