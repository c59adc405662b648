package jetstream

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald/internal/journal"
)

// Defaults of [Options].
const (
	DefaultStream     = "HERALD"
	DefaultSubject    = "herald"
	DefaultTimeout    = 5 * time.Second
	DefaultMaxPending = 4096
)

// Options configure [Open]. The zero value connects to a NATS server on
// localhost and keeps every event in the stream "HERALD", with one
// replica.
type Options struct {
	// Conn is the connection to JetStream. The journal does not close it.
	// When nil, Open connects to URL with NATSOptions, and Close closes
	// that connection.
	Conn *nats.Conn
	// URL lists the servers to connect to, comma-separated, when Conn is
	// nil; empty means nats.DefaultURL.
	URL string
	// NATSOptions configure the connection Open makes: credentials
	// (nats.UserCredentials, nats.UserInfo, nats.Token, nats.Nkey), TLS
	// (nats.Secure, nats.RootCAs, nats.ClientCert), and the rest of what
	// nats.Connect takes. They are applied after Open's own, which name
	// the connection "herald", make it reconnect forever and ping the
	// server every 10 seconds.
	NATSOptions []nats.Option

	// Stream is the name of the JetStream stream; empty means
	// [DefaultStream]. Open creates it if it does not exist.
	Stream string
	// Subject is the prefix of the stream's subjects: the stream holds
	// Subject + ".>", and nothing else. Empty means [DefaultSubject].
	Subject string
	// Replicas is how many servers store each event. 0 keeps what an
	// existing stream has, and gives a new stream one replica; otherwise
	// Open changes an existing stream to it.
	Replicas int
	// Storage is where a stream Open creates keeps its events: file (the
	// zero value) or memory. An existing stream keeps its storage.
	Storage natsjs.StorageType
	// Retention bounds what the stream keeps, as its MaxMsgs and MaxAge.
	// Open sets them on an existing stream too. The zero value keeps
	// everything.
	Retention journal.Retention

	// Timeout bounds the wait for JetStream to answer a request or to
	// acknowledge an append; 0 means [DefaultTimeout]. An append not
	// acknowledged in time is looked for in the stream (see
	// [Journal.Queue]).
	Timeout time.Duration
	// MaxPending is how many appends may wait for their acknowledgement at
	// once; more wait for room. 0 means [DefaultMaxPending].
	MaxPending int
	// Logger receives reports of what the journal works around (a
	// message that is not an event, a consumer recreated); nil means
	// slog.Default().
	Logger *slog.Logger
}

var (
	// ErrUnavailable reports an append that JetStream did not store
	// because it could not take it then: no connection, no stream leader
	// (during an election), the connection lost before the publish was
	// acknowledged. [Journal.Append] tries such an append again until
	// its context ends; it is always safe to try again.
	ErrUnavailable = errors.New("journal/jetstream: JetStream unavailable")
	// ErrStreamConfig reports an existing stream that Open will not use,
	// because its configuration does not fit a journal.
	ErrStreamConfig = errors.New("journal/jetstream: stream configuration does not fit a journal")
	// ErrStreamGone reports that the journal's stream was deleted, or
	// deleted and created again, since Open: its positions and IDs no
	// longer name the same events. The journal refuses to go on; open it
	// again to start a new epoch.
	ErrStreamGone = errors.New("journal/jetstream: stream deleted or replaced")
)

// Journal is a [journal.Journal] stored in a JetStream stream, shared by
// every Herald node that opens the same stream.
type Journal struct {
	opts    Options
	nc      *nats.Conn
	ownConn bool
	api     string // JetStream API prefix
	subj    subjects
	log     *slog.Logger
	replies *replies

	epoch   string
	created time.Time

	// known is the newest position known to be stored: every position up
	// to it holds an event or held one that retention removed. It grows
	// with this journal's acknowledgements, with what the tail consumer
	// reports of the others', and with Last.
	known atomic.Uint64
	// mayKeyed and tailSeen spare keyed followers (FollowKeyed) reading
	// ranges that hold no keyed event: every keyed event at a position up
	// to tailSeen is at one up to mayKeyed. The tail consumer raises
	// mayKeyed for each keyed message it reports, then tailSeen; a tail
	// consumer that starts after positions it did not see raises both to
	// the last of those (there may be keyed events up to it).
	mayKeyed, tailSeen atomic.Uint64

	// pub is the publishing side; see append.go.
	pub publisher

	// gone is closed when the stream turns out deleted or replaced; err
	// then holds why.
	gone     chan struct{}
	goneOnce sync.Once
	goneErr  atomic.Pointer[error]

	// closing is closed by Close, which then waits for the journal's
	// goroutines (tail, expiry) and its followers to exit. The two are
	// apart because Follow may be called from a testing/synctest bubble,
	// and a WaitGroup may not count goroutines from inside and outside
	// one.
	closing    chan struct{}
	closed     atomic.Bool
	goroutines sync.WaitGroup
	followers  sync.WaitGroup
	closeOnce  sync.Once

	statsMu sync.Mutex
	stats   journal.Stats // the last Stats answered
}

var (
	_ journal.Journal       = (*Journal)(nil)
	_ journal.Checker       = (*Journal)(nil)
	_ journal.StatsReporter = (*Journal)(nil)
	_ journal.Queuer        = (*Journal)(nil)
)

// Open opens the journal stored in the stream opts name, creating the
// stream if it does not exist. An existing stream must fit a journal —
// the one subject filter Subject + ".>", limits retention, discarding old
// events, no mirror, source or subject transform — or Open fails with an
// error wrapping [ErrStreamConfig]; Open sets its limits (Retention,
// Replicas) and allows direct gets. The epoch is derived from the stream's
// creation time, so every node agrees on it and a stream created again
// has a new one. ctx bounds what Open asks JetStream.
func Open(ctx context.Context, opts Options) (*Journal, error) {
	opts.Stream = cmp.Or(opts.Stream, DefaultStream)
	opts.Subject = cmp.Or(opts.Subject, DefaultSubject)
	opts.Timeout = cmp.Or(opts.Timeout, DefaultTimeout)
	opts.MaxPending = cmp.Or(opts.MaxPending, DefaultMaxPending)
	if opts.MaxPending < 0 || opts.Timeout < 0 || opts.Replicas < 0 {
		return nil, errors.New("journal/jetstream: negative MaxPending, Timeout or Replicas")
	}
	if strings.ContainsAny(opts.Stream, ".*> \t\r\n") {
		return nil, fmt.Errorf("journal/jetstream: stream name %q: no dots, wildcards or spaces allowed", opts.Stream)
	}
	for tok := range strings.SplitSeq(opts.Subject, ".") {
		if tok == "" || strings.ContainsAny(tok, "*> \t\r\n") {
			return nil, fmt.Errorf("journal/jetstream: subject prefix %q: want tokens without wildcards or spaces", opts.Subject)
		}
	}
	j := &Journal{
		opts:    opts,
		nc:      opts.Conn,
		api:     natsjs.DefaultAPIPrefix,
		subj:    subjects{prefix: opts.Subject},
		log:     cmp.Or(opts.Logger, slog.Default()),
		gone:    make(chan struct{}),
		closing: make(chan struct{}),
	}
	if j.nc == nil {
		all := append([]nats.Option{
			nats.Name("herald"),
			nats.MaxReconnects(-1),
			// Find out in seconds, not minutes, that a server is gone
			// without closing the connection: appends in flight then
			// wait for the reconnection.
			nats.PingInterval(10 * time.Second),
		}, opts.NATSOptions...)
		nc, err := nats.Connect(cmp.Or(opts.URL, nats.DefaultURL), all...)
		if err != nil {
			return nil, fmt.Errorf("journal/jetstream: connect: %w", err)
		}
		j.nc, j.ownConn = nc, true
	}
	if err := j.open(ctx); err != nil {
		if j.replies != nil {
			j.replies.close(err)
		}
		if j.ownConn {
			j.nc.Close()
		}
		return nil, err
	}
	return j, nil
}

// open does Open's work once the connection is there.
func (j *Journal) open(ctx context.Context) error {
	if !j.nc.HeadersSupported() {
		return errors.New("journal/jetstream: the NATS server does not support headers")
	}
	var err error
	if j.replies, err = newReplies(j.nc); err != nil {
		return err
	}
	info, err := j.ensureStream(ctx)
	for notYet(err) && ctx.Err() == nil {
		j.log.Warn("journal: JetStream cannot take the stream yet; trying again", "stream", j.opts.Stream, "err", err)
		t := time.NewTimer(openRetry)
		select {
		case <-t.C:
			info, err = j.ensureStream(ctx)
		case <-ctx.Done():
			t.Stop()
		}
	}
	if err != nil {
		return err
	}
	j.created = info.Created
	j.epoch = epochOf(info.Created)
	j.known.Store(info.State.LastSeq)
	j.mayKeyed.Store(info.State.LastSeq)
	j.tailSeen.Store(info.State.LastSeq)
	j.pub.init(j)
	j.goroutines.Add(2)
	go j.runTail()
	go j.pub.run()
	return nil
}

// openRetry is how often Open asks again while JetStream cannot take the
// stream yet (see notYet).
const openRetry = 250 * time.Millisecond

// notYet reports whether err is one that a JetStream cluster starting
// gives for a while: requests left unanswered while it elects the
// stream's leader, or "no suitable peers" while the meta leader counts
// too few servers online for the replicas. Open waits them out, as long
// as its context allows.
func notYet(err error) bool {
	return errors.Is(err, ErrUnavailable) || apiCode(err) == errCodeNoPeers
}

// epochOf is the epoch of a stream created at t: its creation time in
// nanoseconds, in base 36. A stream deleted and created again gets
// another, so the IDs of the first resolve to ErrUnknownID in the second.
func epochOf(t time.Time) string {
	return strconv.FormatUint(uint64(t.UnixNano()), 36)
}

// Epoch returns the epoch embedded in the IDs this journal generates:
// the same on every node that opens the stream.
func (j *Journal) Epoch() string { return j.epoch }

// Created returns when the journal's stream was created, which is when
// its epoch began.
func (j *Journal) Created() time.Time { return j.created }

// Stream returns the name of the journal's stream.
func (j *Journal) Stream() string { return j.opts.Stream }

// Conn returns the journal's connection to NATS, for what else a node
// says on NATS besides its events (internal/presence, the state tree's
// snapshots). Close closes it when Open made it: stop using it before.
func (j *Journal) Conn() *nats.Conn { return j.nc }

// usable returns nil if the journal may be used: not closed, its stream
// not gone.
func (j *Journal) usable() error {
	if j.closed.Load() {
		return journal.ErrClosed
	}
	if err := j.goneErr.Load(); err != nil {
		return *err
	}
	return nil
}

// fail marks the journal's stream gone: every method then fails with err
// and every follower stops.
func (j *Journal) fail(err error) {
	j.goneOnce.Do(func() {
		j.log.Error("journal: the JetStream stream is gone; reopen the journal", "stream", j.opts.Stream, "err", err)
		j.goneErr.Store(&err)
		close(j.gone)
	})
}

// advance records that every position up to seq is stored.
func (j *Journal) advance(seq uint64) { raise(&j.known, seq) }

// raise sets v to seq if seq is greater.
func raise(v *atomic.Uint64, seq uint64) {
	for {
		cur := v.Load()
		if seq <= cur || v.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Last returns the position of the newest event stored, by any node,
// even if retention has since removed it; 0 when none was. It asks the
// stream's leader.
func (j *Journal) Last(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := j.usable(); err != nil {
		return 0, err
	}
	info, err := j.info(ctx)
	if err != nil {
		return 0, err
	}
	j.advance(info.State.LastSeq)
	return info.State.LastSeq, nil
}

// Check reports whether JetStream takes appends now (see
// [journal.Checker]): it sends the stream a publish that the stream's
// leader refuses without storing it (it expects another last position),
// which shows that the connection, JetStream and a leader of the stream
// are there to store an event. Check does not prove that the leader has
// room left; an append that finds none fails.
func (j *Journal) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := j.usable(); err != nil {
		return err
	}
	// The position the fence's refusal tells counts the messages the
	// leader has proposed, not only those stored: not one for known.
	_, err := j.fence(ctx)
	return err
}

// statsTimeout bounds what Stats asks JetStream.
const statsTimeout = 2 * time.Second

// Stats returns what the stream holds: how many events, and when the
// oldest was appended. It asks the stream's leader (two requests), since
// retention is the server's work; if JetStream does not answer within a
// couple of seconds, it returns the last answer it had. With
// Retention.MaxAge, an event that has just expired is counted until the
// server removes it, which it does within about a second.
func (j *Journal) Stats() journal.Stats {
	if j.usable() != nil {
		return journal.Stats{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	st, err := j.readStats(ctx)
	j.statsMu.Lock()
	defer j.statsMu.Unlock()
	if err != nil {
		j.log.Warn("journal: stats", "stream", j.opts.Stream, "err", err)
		return j.stats
	}
	j.stats = st
	return st
}

func (j *Journal) readStats(ctx context.Context) (journal.Stats, error) {
	info, err := j.info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return journal.Stats{}, err
	}
	rec, found, err := j.get(ctx, msgGetRequest{Seq: info.State.FirstSeq, NextFor: j.subj.all()})
	if err != nil || !found {
		return journal.Stats{}, err
	}
	ev, err := decode(rec.seq, rec.hdr, nil)
	if err != nil {
		return journal.Stats{}, fmt.Errorf("event %d: %w", rec.seq, err)
	}
	return journal.Stats{Events: info.State.Msgs, Oldest: ev.Time}, nil
}

// closeTimeout bounds the wait, in Close, for the acknowledgements of the
// appends in flight, beyond Options.Timeout.
const closeTimeout = 2 * time.Second

// Close waits for the appends in flight to be acknowledged (or looked
// for, for at most Options.Timeout and a couple of seconds), ends every
// follower, removes the journal's consumer, and closes the connection if
// Open made it. The stream and its events stay. Later calls fail with
// ErrClosed, except Close, which returns the first Close's result.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() {
		j.closed.Store(true)
		j.pub.drain(j.opts.Timeout + closeTimeout)
		close(j.closing)
		// The tail deletes its consumer on its way out: keep the replies
		// until it has, then fail the followers' reads in flight.
		j.goroutines.Wait()
		j.replies.close(journal.ErrClosed)
		j.followers.Wait()
		if j.ownConn {
			j.nc.Close()
		}
	})
	return nil
}
