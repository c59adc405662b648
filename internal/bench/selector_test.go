package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

// --selector makes the subscribers ask for a URI template while events are
// published on a topic it matches: against Herald itself, every event
// reaches every subscriber.
func TestFanoutWithTemplateSelector(t *testing.T) {
	const secret = "bench-selector-secret-of-32-bytes!!"
	key, err := auth.ParseKey([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{})
	testutil.RunHub(t, h)
	srv, err := server.New(server.Config{Hub: h, Journal: j, PublisherKey: &key, SubscriberKey: &key, Heartbeat: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() { srv.Drain(); ts.Close() })

	const topic = "https://herald.bench/books/1"
	var stdout, stderr bytes.Buffer
	code := Command(context.Background(), []string{"fanout", "-n", "20", "--rate", "20", "--duration", "500ms",
		"--topic", topic, "--selector", "https://herald.bench/books/{id}",
		"--hub", ts.URL + "/.well-known/mercure", "--key", secret, "--json", "--quiet", "--timeout", "60s"}, &stdout, &stderr)
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var rep report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Fanout.Steps[0]
	if rep.Selector != "https://herald.bench/books/{id}" || s.Published == 0 || s.Delivered != s.Published*20 || s.Lost != 0 {
		t.Fatalf("selector %q: published %d, delivered %d, lost %d", rep.Selector, s.Published, s.Delivered, s.Lost)
	}
}
