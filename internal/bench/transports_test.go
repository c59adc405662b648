package bench

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// The WebSocket and polling transports are Herald's own, so their runs are
// against Herald itself (startHerald), not the fixture.

func TestIdleOverWebSocket(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, secret := startHerald(t)
	rep := benchOK(t, url, "idle", "--transport", "ws", "-n", "40", "--duration", "300ms",
		"--settle", "1s", "--pid", strconv.Itoa(os.Getpid()), "--key", secret)
	r := rep.Idle
	if rep.Transport != transportWS || r.Connected != 40 || r.Failed != 0 || r.OpenAtEnd != 40 || r.Dropped != 0 {
		t.Errorf("transport %q: connected %d, failed %d, open at end %d, dropped %d; want ws, 40, 0, 40, 0",
			rep.Transport, r.Connected, r.Failed, r.OpenAtEnd, r.Dropped)
	}
	if r.ConnectRate <= 0 || r.ConnectLatency.Count != 40 || r.BytesPerConn == nil {
		t.Errorf("connect rate %v, %d connect samples, bytes per connection %v", r.ConnectRate, r.ConnectLatency.Count, r.BytesPerConn)
	}
}

// The hub pings a quiet socket every half heartbeat and closes one from
// which nothing arrives for three: subscribers answer the pings, so none is
// dropped while held.
func TestIdleOverWebSocketAnswersPings(t *testing.T) {
	url, secret := startHeraldWith(t, func(c *server.Config) { c.Heartbeat = 100 * time.Millisecond })
	rep := benchOK(t, url, "idle", "--transport", "ws", "-n", "10", "--duration", "1s", "--settle", "100ms", "--key", secret)
	if r := rep.Idle; r.Connected != 10 || r.Dropped != 0 || r.OpenAtEnd != 10 {
		t.Errorf("connected %d, dropped %d, open at end %d; want 10, 0, 10", r.Connected, r.Dropped, r.OpenAtEnd)
	}
}

func TestFanoutOverWebSocket(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, secret := startHerald(t)
	// --size makes the events' data long enough to need escaping and
	// reassembly across reads.
	rep := benchOK(t, url, "fanout", "--transport", "ws", "-n", "30", "--rate", "50", "--duration", "1s",
		"--size", "3000", "--key", secret)
	checkExact(t, rep, 30)
}

// A hub that ends every socket after --max-lifetime (close code 1001):
// each subscriber reconnects and resubscribes from its cursor, and no event
// is lost or repeated.
func TestFanoutOverWebSocketResumes(t *testing.T) {
	url, secret := startHeraldWith(t, func(c *server.Config) { c.MaxLifetime = 400 * time.Millisecond })
	rep := benchOK(t, url, "fanout", "--transport", "ws", "-n", "10", "--rate", "50", "--duration", "1s", "--key", secret)
	checkExact(t, rep, 10)
	// A socket that ends as the run does is not reconnected.
	if f := rep.Fanout; f.Reconnects < 10 || f.Drops < f.Reconnects || f.Drops > f.Reconnects+10 {
		t.Errorf("drops %d, reconnects %d; want each subscriber to have reconnected", f.Drops, f.Reconnects)
	}
}

func TestFanoutOverLongPolling(t *testing.T) {
	testutil.CheckNoLeaks(t)
	url, secret := startHerald(t)
	rep := benchOK(t, url, "fanout", "--transport", "poll", "-n", "30", "--rate", "50", "--duration", "1s",
		"--size", "500", "--key", secret)
	s := checkExact(t, rep, 30)
	// Each answer carries at least one event, so there are no more polls
	// than deliveries; and every subscriber polled.
	if s.Polls < 30 || s.Polls > s.Delivered || s.PollsPerSec <= 0 || s.PollRoundTrip == nil {
		t.Errorf("%d polls (%v/s) for %d deliveries, round trip %+v", s.Polls, s.PollsPerSec, s.Delivered, s.PollRoundTrip)
	}
}

// Pollers in child processes, against a hub whose polls end empty after
// 50 ms: the cursor of an empty answer is sent back, and across the answers
// and processes every event arrives once.
func TestFanoutOverLongPollingInChildProcesses(t *testing.T) {
	url, secret := startHeraldWith(t, func(c *server.Config) { c.PollMaxWait = 50 * time.Millisecond })
	rep := benchOK(t, url, "fanout", "--transport", "poll", "-n", "20", "--procs", "2", "--rates", "5,40",
		"--duration", "500ms", "--key", secret)
	if rep.Fanout.Procs != 2 || len(rep.Fanout.Steps) != 2 {
		t.Fatalf("procs %d, steps %d", rep.Fanout.Procs, len(rep.Fanout.Steps))
	}
	checkExact(t, rep, 20)
}

func TestPublishOverWebSocket(t *testing.T) {
	testutil.CheckNoLeaks(t)
	// Without its per-token rate limit (--publish-rate 0), as the hub
	// must be run to measure publishes.
	url, secret := startHeraldWith(t, func(c *server.Config) { c.Limits.PublishRate, c.Limits.PublishBurst = -1, -1 })
	rep := benchOK(t, url, "publish", "--transport", "ws", "-c", "4", "--window", "16", "--duration", "500ms", "--key", secret)
	p := rep.Publish
	if p.Window != 16 || p.Published == 0 || p.Errors != 0 || p.PublishesPerSec <= 0 || p.Latency.Count != uint64(p.Published) {
		t.Errorf("window %d: acknowledged %d, errors %d, %v/s, %d latency samples", p.Window, p.Published, p.Errors, p.PublishesPerSec, p.Latency.Count)
	}
}

// A token that may subscribe but not publish: every publish is refused
// with the hub's 403, which the run reports.
func TestPublishOverWebSocketRefused(t *testing.T) {
	url, secret := startHerald(t)
	key, err := auth.ParseKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	token, err := auth.Mint(key, auth.MintClaims{Subscribe: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), []string{"publish", "--transport", "ws", "--hub", url, "--token", token,
		"-c", "2", "--duration", "200ms", "--quiet"}, &stdout, &stderr)
	if code != ExitError || !strings.Contains(stderr.String(), "error 403") || !strings.Contains(stderr.String(), "--key") {
		t.Errorf("exit %d, stderr %q; want %d and the hub's 403", code, stderr.String(), ExitError)
	}
}

// checkExact checks that every step of a fanout run delivered every event
// published to each of n subscribers once, and returns the first step.
func checkExact(t *testing.T, rep *report, n int64) fanoutStep {
	t.Helper()
	f := rep.Fanout
	if f.Connected != n || f.Failed != 0 || len(f.Steps) == 0 {
		t.Fatalf("connected %d, failed %d, %d steps; want %d, 0, some", f.Connected, f.Failed, len(f.Steps), n)
	}
	for _, s := range f.Steps {
		if s.Published == 0 || s.Delivered != s.Published*n || s.Lost != 0 || s.Duplicates != 0 || s.PublishErrors != 0 {
			t.Errorf("rate %g: published %d, delivered %d of %d, lost %d, duplicated %d, %d publish errors",
				s.TargetRate, s.Published, s.Delivered, s.Published*n, s.Lost, s.Duplicates, s.PublishErrors)
		}
		if s.Latency.Count != uint64(s.Delivered) {
			t.Errorf("rate %g: %d latency samples for %d deliveries", s.TargetRate, s.Latency.Count, s.Delivered)
		}
	}
	if f.Late != 0 || f.Foreign != 0 {
		t.Errorf("%d late deliveries, %d foreign events", f.Late, f.Foreign)
	}
	return f.Steps[0]
}
