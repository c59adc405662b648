package bench

import (
	"context"
	"fmt"
)

// eventSource makes the events a fan-out measures: Mercure publishes, or
// writes to the state tree that its streams see as changes.
type eventSource interface {
	// prime returns once every connected subscriber receives what is sent
	// from then on, or when primeLimit passes: it returns how many
	// subscribers were not known to by then.
	prime(ctx context.Context, groups []group) (int64, error)
	// writers is how many paced writers share a step's rate; each sends
	// one event after another, in order.
	writers() int
	// send makes the event pl, as writer w.
	send(ctx context.Context, w int, pl payload) error
	// due is how many deliveries published events owe connected
	// subscribers.
	due(published, connected int64) int64
	close()
}

// newEventSource returns the event source of the run's scenario.
func (r *runner) newEventSource() eventSource {
	switch r.cfg.scenario {
	case "db-fanout", "db-spread":
		return r.newDBSource()
	}
	return &publishSource{r: r, pub: newPublisher(r.target, r.token, 2, r.cfg.connectTimeout)}
}

// publishSource publishes Mercure events on the run's topic, which every
// subscriber receives.
type publishSource struct {
	r   *runner
	pub *publisher
	buf []byte
}

func (s *publishSource) prime(ctx context.Context, groups []group) (int64, error) {
	return s.r.prime(ctx, s.pub, groups)
}

func (s *publishSource) writers() int { return 1 }

func (s *publishSource) send(ctx context.Context, _ int, pl payload) error {
	s.buf = appendPayload(s.buf[:0], pl, s.r.cfg.size)
	_, err := s.pub.publish(ctx, s.r.topic, s.buf)
	return err
}

func (s *publishSource) due(published, connected int64) int64 { return published * connected }

func (s *publishSource) close() { s.pub.close() }

// dbSource writes a leaf below the locations the streams watch: for
// db-fanout, one location that every stream watches, written by one
// writer; for db-spread, -n locations, one stream each, written by -c
// writers that each own every c-th location and visit theirs in turn, so
// that each location's changes come from one writer, in order.
type dbSource struct {
	r       *runner
	clients []*rawClient
	bufs    [][]byte
	visits  []int // writes made by each writer, to pick its next location
	spread  int   // locations, for db-spread; 0 for db-fanout
}

func (r *runner) newDBSource() *dbSource {
	n := 1
	s := &dbSource{r: r}
	if r.cfg.scenario == "db-spread" {
		s.spread = r.cfg.subscribers
		n = min(r.cfg.concurrency, s.spread)
	}
	for range n {
		s.clients = append(s.clients, newDBClient(r.db, r.token, r.cfg.connectTimeout))
	}
	s.bufs = make([][]byte, n)
	s.visits = make([]int, n)
	return s
}

// prime waits for every stream's first event: the hub sends it once the
// stream's subscription is in place, positioned right after the snapshot
// it puts, so no write after it is missed.
func (s *dbSource) prime(ctx context.Context, groups []group) (int64, error) {
	ready := func() bool {
		st := statusOf(groups)
		return st.Primed >= st.EverConnected
	}
	if ok, err := s.r.waitFor(ctx, primeLimit, ready, nil); ok || err != nil {
		return 0, err
	}
	st := statusOf(groups)
	s.r.notes = append(s.r.notes, fmt.Sprintf("%d streams never received their first put; their misses count as lost", st.EverConnected-st.Primed))
	return st.EverConnected - st.Primed, nil
}

func (s *dbSource) writers() int { return len(s.clients) }

func (s *dbSource) send(ctx context.Context, w int, pl payload) error {
	loc := s.r.dbWatched()
	if s.spread > 0 {
		c := len(s.clients)
		mine := (s.spread - w + c - 1) / c // locations w, w+c, w+2c, ...
		loc += "/" + spreadKey(w+c*(s.visits[w]%mine))
	}
	s.visits[w]++
	s.bufs[w] = appendLeaf(s.bufs[w][:0], pl, s.r.cfg.size)
	return s.clients[w].put(ctx, s.r.dbURLPath(loc+"/v"), s.bufs[w])
}

func (s *dbSource) due(published, connected int64) int64 {
	if s.spread > 0 {
		return published // each write changes one stream's location
	}
	return published * connected
}

func (s *dbSource) close() {
	for _, c := range s.clients {
		c.close()
	}
}

// spreadKey is the key of the i-th location of db-spread.
func spreadKey(i int) string { return fmt.Sprintf("d%05d", i) }
