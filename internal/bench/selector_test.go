package bench

import (
	"net/http/httptest"
	"testing"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// startHerald runs Herald's hub and server, anonymous subscribers allowed,
// and returns its hub URL and the publisher key's secret.
func startHerald(t *testing.T) (url, secret string) {
	t.Helper()
	return startHeraldWith(t, nil)
}

// startHeraldWith is startHerald with the server's configuration changed
// by configure.
func startHeraldWith(t *testing.T, configure func(*server.Config)) (url, secret string) {
	t.Helper()
	secret = "bench-selector-secret-of-32-bytes!!"
	key, err := auth.ParseKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{})
	testutil.RunHub(t, h)
	cfg := server.Config{Hub: h, Journal: j, PublisherKey: &key, SubscriberKey: &key, Anonymous: true, Heartbeat: -1}
	if configure != nil {
		configure(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Drain(); ts.Close() })
	return ts.URL + "/.well-known/mercure", secret
}

// --selector makes the subscribers ask for a URI template while events are
// published on a topic it matches: against Herald itself, every event
// reaches every subscriber.
func TestFanoutWithTemplateSelector(t *testing.T) {
	url, secret := startHerald(t)
	rep := benchOK(t, url, "fanout", "-n", "20", "--rate", "20", "--duration", "500ms",
		"--topic", "https://herald.bench/books/1", "--selector", "https://herald.bench/books/{id}", "--key", secret)
	s := rep.Fanout.Steps[0]
	if rep.Selector != "https://herald.bench/books/{id}" || s.Published == 0 || s.Delivered != s.Published*20 || s.Lost != 0 {
		t.Fatalf("selector %q: published %d, delivered %d, lost %d", rep.Selector, s.Published, s.Delivered, s.Lost)
	}
}

// --attackers holds streams with the costliest selectors a client can
// make beside the subscribers, and --churn opens and closes subscriptions
// while the steps run: against Herald, the hub admits them within its
// default limits and the subscribers still get every event.
func TestFanoutUnderAttack(t *testing.T) {
	url, secret := startHerald(t)
	rep := benchOK(t, url, "fanout", "-n", "20", "--rate", "20", "--duration", "1s",
		"--attackers", "10", "--churn", "50", "--churn-selectors", "8", "--key", secret)
	a, s := rep.Fanout.Attack, rep.Fanout.Steps[0]
	if a == nil || a.AttackersConnected != 10 || a.Churned == 0 || a.ChurnFailed != 0 {
		t.Fatalf("attack %+v", a)
	}
	if s.Published == 0 || s.Delivered != s.Published*20 || s.Lost != 0 {
		t.Fatalf("under attack: published %d, delivered %d, lost %d", s.Published, s.Delivered, s.Lost)
	}
}

// benchOK is bench for a run that must succeed.
func benchOK(t *testing.T, hub string, args ...string) *report {
	t.Helper()
	rep, code, stderr := bench(t, hub, args...)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	return rep
}
