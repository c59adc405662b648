package cli_test

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/sse"
)

// streamEndedRe matches the debug line a stream logs when it ends, with
// its reason (quoted by slog's text handler when it holds a space).
var streamEndedRe = regexp.MustCompile(`msg="stream ended".* reason=("[^"]*"|\S+)`)

// TestShutdownDrainsBeforeStoppingHub checks the order of a graceful stop:
// the server drains its streams first, and only then is the hub stopped.
// When the hub stopped with the signal instead, streams raced the drain
// and many ended with "hub: closed".
func TestShutdownDrainsBeforeStoppingHub(t *testing.T) {
	const streams = 40
	for _, mode := range []struct {
		name string
		args []string
	}{
		{"push", nil},
		{"goroutine", []string{"--goroutine-streams"}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			args := append([]string{"--data", filepath.Join(dir, "herald.db"), "--log-level", "debug", "--heartbeat", "0"}, mode.args...)
			r := serve(t, args...)
			hubURL := r.base + "/.well-known/mercure"

			var open []*sse.Decoder
			for range streams {
				open = append(open, openStream(t, hubURL+"?topic=t", r.token))
			}
			// Every stream receiving a live event shows that all of them
			// are registered and past their replay.
			if code, _, errOut := run(t, "", "publish", "--hub", hubURL, "--token", r.token, "--topic", "t", "live"); code != 0 {
				t.Fatalf("publish: %d %s", code, errOut)
			}
			for i, dec := range open {
				if ev, err := dec.Next(); err != nil || string(ev.Data) != "live" {
					t.Fatalf("stream %d: got %q, %v; want the live event", i, ev.Data, err)
				}
			}

			if code := r.stop(); code != 0 {
				t.Fatalf("serve exited %d: %s", code, r.stderr)
			}
			for i, dec := range open {
				if ev, err := dec.Next(); err == nil {
					t.Errorf("stream %d: got %+v after shutdown, want its end", i, ev)
				}
			}
			ended := streamEndedRe.FindAllStringSubmatch(r.stderr.String(), -1)
			if len(ended) != streams {
				t.Fatalf("%d streams logged their end, want %d:\n%s", len(ended), streams, r.stderr)
			}
			reasons := map[string]int{}
			for _, m := range ended {
				reasons[strings.Trim(m[1], `"`)]++
			}
			if reasons["server draining"] != streams {
				t.Errorf("streams ended for %v, want all %d for \"server draining\"", reasons, streams)
			}
		})
	}
}

// openStream subscribes with tok and returns a decoder of the stream; the
// response body is closed when the test ends.
func openStream(t *testing.T, url, tok string) *sse.Decoder {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close(); cancel() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("subscribe: %s", resp.Status)
	}
	return sse.NewDecoder(resp.Body)
}
