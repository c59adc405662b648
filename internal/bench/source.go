package bench

import (
	"context"
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
