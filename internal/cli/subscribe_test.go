package cli_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/testutil"
)

func TestSubscribeTransports(t *testing.T) {
	testutil.CheckNoLeaks(t)
	r := serve(t, "--data", filepath.Join(t.TempDir(), "herald.db"))
	hubURL := r.base + "/.well-known/mercure"
	var ids []string
	for _, data := range []string{"one", "two\nlines"} {
		code, id, errOut := run(t, data, "publish", "--hub", hubURL, "--token", r.token, "--topic", "t", "--type", "note")
		if code != 0 {
			t.Fatalf("publish: %d %s", code, errOut)
		}
		ids = append(ids, strings.TrimSpace(id))
	}
	want := fmt.Sprintf("id: %s\nevent: note\ndata: one\n\nid: %s\nevent: note\ndata: two\ndata: lines\n\n", ids[0], ids[1])
	for _, transport := range []string{"sse", "poll", "ws"} {
		code, out, errOut := run(t, "", "subscribe", "--transport", transport, "--hub", hubURL, "--token", r.token, "--topic", "t", "--last-event-id", "earliest", "-n", "2")
		if code != 0 {
			t.Errorf("subscribe --transport %s: %d %s", transport, code, errOut)
			continue
		}
		if out != want {
			t.Errorf("subscribe --transport %s printed\n%q\nwant\n%q", transport, out, want)
		}
	}
	code, _, errOut := run(t, "", "subscribe", "--transport", "carrier-pigeon", "--hub", hubURL, "--topic", "t")
	if code != 2 || !strings.Contains(errOut, "--transport") {
		t.Errorf("subscribe --transport carrier-pigeon: exit %d, %q; want 2 and a word on --transport", code, errOut)
	}
}
