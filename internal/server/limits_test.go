package server_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/server"
	"github.com/heraldhub/herald/internal/testutil"
)

func withLimits(l server.Limits) option {
	return func(c *serverConfig, _ *hubConfig) { c.Limits = l }
}

// refusedCount reads herald_refused_total for reason from /metrics.
func (e *hubEnv) refusedCount(t *testing.T, reason string) int {
	t.Helper()
	resp, err := http.Get(e.ts.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	prefix := `herald_refused_total{reason="` + reason + `"} `
	for line := range strings.Lines(string(body)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), prefix); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	t.Fatalf("no %s series in /metrics", reason)
	return 0
}

// tooMany checks that a refused request was answered 429 with a
// Retry-After and a message naming the limit.
func checkTooMany(t *testing.T, status int, body string, limit string) {
	t.Helper()
	if status != http.StatusTooManyRequests || !strings.Contains(body, limit) {
		t.Fatalf("got %d %q, want 429 naming the %s limit", status, body, limit)
	}
}

func TestConnectRatePerAddress(t *testing.T) {
	e := newEnv(t, anonymous, withLimits(server.Limits{ConnectRate: 0.001, ConnectBurst: 2}))
	e.subscribe("topic=a", nil)
	e.subscribe("topic=a", nil)
	resp, cancel := e.get("topic=a", nil)
	defer cancel()
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkTooMany(t, resp.StatusCode, string(body), "connect rate")
	if ra, _ := strconv.Atoi(resp.Header.Get("Retry-After")); ra < 1 {
		t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
	}
	if n := e.refusedCount(t, "connect_rate"); n != 1 {
		t.Errorf("herald_refused_total{reason=connect_rate} = %d, want 1", n)
	}
}

func TestStreamsPerAddressAndSubject(t *testing.T) {
	e := newEnv(t, anonymous, withLimits(server.Limits{StreamsPerAddress: 2, StreamsPerSubject: 1}))
	alice := bearer(e.token(auth.MintClaims{Subject: "alice", Subscribe: []string{"*"}}))
	e.subscribe("topic=a", alice)
	_, status, body := e.trySubscribe("topic=a", alice)
	checkTooMany(t, status, body, "streams per subject")

	b := e.subscribe("topic=a", nil)
	_, status, body = e.trySubscribe("topic=a", nil)
	checkTooMany(t, status, body, "streams per address")
	b.close()
	testutil.CheckFor(t, testutil.WaitTimeout, 5*time.Millisecond, func() error {
		if _, status, _ := e.trySubscribe("topic=a", nil); status != 200 {
			return fmt.Errorf("after a stream closed: %d", status)
		}
		return nil
	})
	if e.refusedCount(t, "streams_per_subject") != 1 || e.refusedCount(t, "streams_per_address") < 1 {
		t.Error("refusals not counted by reason")
	}
}

func TestSelectorCostPerAddress(t *testing.T) {
	e := newEnv(t, anonymous, withLimits(server.Limits{SelectorCostPerAddress: 10}))
	six := "topic=a&topic=b&topic=c&topic=d&topic=e&topic=f"
	e.subscribe(six, nil)
	_, status, body := e.trySubscribe(six, nil)
	checkTooMany(t, status, body, "selector cost per address")
	e.subscribe("topic=a&topic=b&topic=c&topic=d", nil) // 6 + 4 fits
}

func TestPublishRatePerToken(t *testing.T) {
	e := newEnv(t, withLimits(server.Limits{PublishRate: 0.001, PublishBurst: 2}))
	tok := e.publisherToken()
	for range 2 {
		if status, body := e.publishForm(tok, form("topic", "t", "data", "x")); status != 200 {
			t.Fatalf("publish within the burst: %d %s", status, body)
		}
	}
	status, body := e.publishForm(tok, form("topic", "t", "data", "x"))
	checkTooMany(t, status, body, "publish rate")
	// Another token has its own budget.
	other := e.token(auth.MintClaims{Publish: []string{"*"}, Subject: "other"})
	if status, body := e.publishForm(other, form("topic", "t", "data", "x")); status != 200 {
		t.Fatalf("another token: %d %s", status, body)
	}
}

// Behind a proxy, limits count the address the configured header names;
// without that setting, the header is a client's word and is ignored.
func TestClientAddressHeader(t *testing.T) {
	for _, trusted := range []bool{true, false} {
		t.Run(fmt.Sprint("trusted=", trusted), func(t *testing.T) {
			l := server.Limits{StreamsPerAddress: 1}
			if trusted {
				l.ClientAddressHeader = "X-Forwarded-For"
			}
			e := newEnv(t, anonymous, withLimits(l))
			e.subscribe("topic=a", http.Header{"X-Forwarded-For": {"203.0.113.7, 10.0.0.1"}})
			_, status, _ := e.trySubscribe("topic=a", http.Header{"X-Forwarded-For": {"203.0.113.7, 10.0.0.2"}})
			if want := map[bool]int{true: 200, false: 429}[trusted]; status != want {
				t.Fatalf("second client behind the proxy: %d, want %d", status, want)
			}
		})
	}
}

// A flood of refused requests costs a few log lines, not one each, and
// says how many it left out.
func TestRefusalsLoggedAtBoundedRate(t *testing.T) {
	var logs testutil.SyncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.Logger = logger })
	for range 200 {
		_, status, _ := e.trySubscribe("topic=a&authorization="+url.QueryEscape("not-a-token"), nil)
		if status != http.StatusUnauthorized {
			t.Fatalf("bad token: %d", status)
		}
	}
	if lines := strings.Count(logs.String(), "msg=unauthorized"); lines > 20 {
		t.Fatalf("%d log lines for 200 refusals", lines)
	}
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		if !strings.Contains(logs.String(), "log lines left out") {
			return fmt.Errorf("no summary of the refusals left out:\n%s", logs.String())
		}
		return nil
	})
}
