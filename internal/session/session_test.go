package session_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/clock"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
	"github.com/heraldhub/herald/internal/session"
	"github.com/heraldhub/herald/internal/testutil"
)

// newHub returns a running hub and a function that stops it.
func newHub(t *testing.T) (*hub.Hub, func() error) {
	t.Helper()
	j := journal.NewMemory(journal.Retention{})
	t.Cleanup(func() { j.Close() })
	h := hub.New(j, hub.Config{})
	return h, testutil.RunHub(t, h)
}

func newSession(t *testing.T, h *hub.Hub, c session.Config) *session.Session {
	t.Helper()
	sels, err := selector.ParseSet([]string{"t"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := h.Subscribe(context.Background(), hub.SubscribeRequest{Selectors: sels})
	if err != nil {
		t.Fatal(err)
	}
	c.Sub = sub
	s := session.New(c)
	t.Cleanup(func() { s.Release(nil) })
	return s
}

func endedWith(t *testing.T, s *session.Session) error {
	t.Helper()
	select {
	case <-s.Done():
		return s.Err()
	case <-time.After(5 * time.Second):
		t.Fatal("session did not end")
	}
	return nil
}

// One deadline ends a session: the token's expiry or the maximum lifetime,
// whichever comes first, each with its own reason.
func TestDeadline(t *testing.T) {
	h, _ := newHub(t)
	start := time.Unix(1e9, 0)
	for _, c := range []struct {
		name     string
		expires  time.Duration // 0: the token does not expire
		lifetime time.Duration
		open     time.Duration // still open then
		endAt    time.Duration // ended by then; 0: never
		want     error
	}{
		// Lifetimes have ±10% jitter.
		{"token first", 10 * time.Minute, time.Hour, 10*time.Minute - 1, 10 * time.Minute, session.ErrTokenExpired},
		{"lifetime first", 2 * time.Hour, time.Hour, 53 * time.Minute, 66 * time.Minute, session.ErrLifetime},
		{"lifetime, no expiry", 0, time.Hour, 53 * time.Minute, 66 * time.Minute, session.ErrLifetime},
		{"token, no lifetime", 10 * time.Minute, 0, 10*time.Minute - 1, 10 * time.Minute, session.ErrTokenExpired},
		{"neither", 0, 0, 0, 0, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			clk := clock.NewFake(start)
			claims := &auth.Claims{}
			if c.expires > 0 {
				claims.ExpiresAt = start.Add(c.expires)
			}
			s := newSession(t, h, session.Config{Claims: claims, MaxLifetime: c.lifetime, Clock: clk})
			if c.endAt == 0 {
				if n := clk.Pending(); n != 0 {
					t.Fatalf("%d timers armed for a session without deadline", n)
				}
				return
			}
			clk.Advance(c.open)
			if err := s.Err(); err != nil {
				t.Fatalf("ended early: %v", err)
			}
			clk.Advance(c.endAt - c.open)
			if err := endedWith(t, s); err != c.want {
				t.Fatalf("ended with %v, want %v", err, c.want)
			}
		})
	}
}

// Sessions sharing Deadlines end each at its own deadline, not before,
// on one timer; a session released before its deadline leaves the heap.
func TestDeadlinesShared(t *testing.T) {
	h, _ := newHub(t)
	start := time.Unix(1e9, 0)
	clk := clock.NewFake(start)
	d := session.NewDeadlines(clk)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 300
	sessions := make([]*session.Session, n)
	expiry := make([]time.Duration, n)
	for i := range sessions {
		expiry[i] = time.Duration(1+rng.IntN(100)) * time.Second
		sessions[i] = newSession(t, h, session.Config{
			Claims: &auth.Claims{ExpiresAt: start.Add(expiry[i])}, Clock: clk, Deadlines: d,
		})
		if i%50 == 0 {
			clk.Advance(0) // some sessions join after the timer fired once
		}
	}
	if d.Len() != n {
		t.Fatalf("Len = %d, want %d", d.Len(), n)
	}
	released := make([]bool, n)
	for now := time.Duration(0); now <= 101*time.Second; now += 500 * time.Millisecond {
		if p := clk.Pending(); p > 1 {
			t.Fatalf("%d timers armed at %v, want at most 1", p, now)
		}
		for i, s := range sessions {
			if !released[i] && (i%7 == 0 || i%11 == 0 && now >= expiry[i]/2) {
				s.Release(nil)
				released[i] = true
				if err := d.Check(); err != nil {
					t.Fatal(err)
				}
				continue
			}
			err := s.Err()
			switch {
			case released[i]:
			case now < expiry[i] && err != nil:
				t.Fatalf("session %d ended at %v, its deadline is %v", i, now, expiry[i])
			case now >= expiry[i] && err != session.ErrTokenExpired:
				t.Fatalf("session %d: at %v, past its deadline %v, Err = %v", i, now, expiry[i], err)
			}
		}
		clk.Advance(500 * time.Millisecond)
	}
	if d.Len() != 0 || clk.Pending() != 0 {
		t.Fatalf("after every deadline: Len = %d, %d timers armed", d.Len(), clk.Pending())
	}
}

// The first reason wins; the writer is woken by the end; release runs
// once and closes the hub subscription.
func TestEndAndRelease(t *testing.T) {
	h, _ := newHub(t)
	released := 0
	s := newSession(t, h, session.Config{Release: func(*session.Session) { released++ }})
	woken := make(chan struct{}, 4)
	s.SetWriter(wakeFunc(func() { woken <- struct{}{} }))
	first := errors.New("first")
	s.End(first)
	s.End(errors.New("second"))
	<-woken
	if err := endedWith(t, s); err != first {
		t.Fatalf("Err = %v, want the first reason", err)
	}
	s.Release(errors.New("later"))
	s.Release(nil)
	if released != 1 {
		t.Fatalf("release ran %d times", released)
	}
	select {
	case <-s.Sub.Done():
	default:
		t.Fatal("hub subscription still open after Release")
	}
}

// A subscription the hub cuts ends its session with the hub's reason.
func TestHubEndsSession(t *testing.T) {
	h, stop := newHub(t)
	s := newSession(t, h, session.Config{})
	stop()
	if err := endedWith(t, s); !errors.Is(err, hub.ErrHubClosed) {
		t.Fatalf("ended with %v, want ErrHubClosed", err)
	}
}

// Draining ends every registered session, and refuses new ones.
func TestRegistryEndAll(t *testing.T) {
	h, _ := newHub(t)
	var r session.Registry
	a, b := newSession(t, h, session.Config{}), newSession(t, h, session.Config{})
	for _, s := range []*session.Session{a, b} {
		if err := r.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	b.Release(nil)
	if n := r.Len(); n != 1 {
		t.Fatalf("Len = %d after a release, want 1", n)
	}
	r.EndAll(session.ErrDraining)
	if err := endedWith(t, a); err != session.ErrDraining {
		t.Fatalf("ended with %v", err)
	}
	if err := r.Add(newSession(t, h, session.Config{})); err != session.ErrDraining {
		t.Fatalf("Add while draining: %v", err)
	}
}

// wakeFunc is a Waker made of a function.
type wakeFunc func()

func (f wakeFunc) Wake() { f() }
