package herald_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhub/herald"
	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/journal/jetstream/natstest"
	"github.com/heraldhub/herald/internal/testutil"
	"github.com/heraldhub/herald/sse"
)

// dbClient does state tree requests on one node as the admin.
type dbClient struct {
	t    *testing.T
	base string // the node's URL
}

// do sends a request with header (name, value pairs) and returns the
// answer's status, body and headers.
func (c dbClient) do(method, path, body string, header ...string) (int, string, http.Header) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+"/db"+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer admin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

// must is do, failing the test on any status but 200.
func (c dbClient) must(method, path, body string, header ...string) (string, http.Header) {
	c.t.Helper()
	status, b, h := c.do(method, path, body, header...)
	if status != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, status, b)
	}
	return b, h
}

// TestNodesShareStateTree: the state tree of hubs on one JetStream stream
// is one tree: a write on one node is read on the other (at once with
// Herald-After), streams on either see every node's writes, increments
// and conditional writes racing on both nodes lose nothing, a revocation
// on one node is refused on the other, and a node started later builds
// the same tree.
func TestNodesShareStateTree(t *testing.T) {
	nats := natstest.Run(t)
	cfg := herald.Config{
		Anonymous: true, PublisherKey: []byte("0123456789abcdef0123456789abcdef"),
		NATS: herald.NATS{URL: nats.URL(), Stream: "TREE"},
		DB:   herald.DB{AdminToken: "admin"}, Logger: slog.New(slog.DiscardHandler),
	}
	_, urlA := start(t, cfg)
	_, urlB := start(t, cfg)
	a := dbClient{t, strings.TrimSuffix(urlA, "/.well-known/mercure")}
	b := dbClient{t, strings.TrimSuffix(urlB, "/.well-known/mercure")}

	_, h := a.must("PUT", "/users/ada.json", `{"name":"Ada","n":1}`)
	id := h.Get("Herald-Event-ID")
	if id == "" {
		t.Fatal("a write's answer has no Herald-Event-ID")
	}
	if got, _ := b.must("GET", "/users/ada/name.json", "", "Herald-After", id); got != `"Ada"` {
		t.Fatalf("read on B after A's write = %s", got)
	}
	if status, _, _ := b.do("GET", "/.json", "", "Herald-After", "garbage"); status != http.StatusBadRequest {
		t.Fatalf("Herald-After naming no write: %d, want 400", status)
	}

	// Increments and conditional writes from both nodes at once.
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for w := range writers {
		c := []dbClient{a, b}[w%2]
		wg.Go(func() {
			for range each {
				if status, body, _ := c.do("PATCH", "/counters.json", `{"hits":{".sv":{"increment":1}}}`); status != http.StatusOK {
					t.Errorf("increment: %d %s", status, body)
					return
				}
				// A transaction as the Admin SDK does it: read with the
				// ETag, write if unchanged, again on 412.
				for {
					_, body, h := c.do("GET", "/counters/tx.json", "", "X-Firebase-ETag", "true")
					n, _ := strconv.Atoi(body)
					status, _, _ := c.do("PUT", "/counters/tx.json", strconv.Itoa(n+1), "If-Match", h.Get("ETag"))
					if status == http.StatusOK {
						break
					}
					if status != http.StatusPreconditionFailed {
						t.Errorf("conditional write: %d", status)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	_, h = b.must("PUT", "/done.json", "true")
	want := fmt.Sprintf(`{"hits":%d,"tx":%d}`, writers*each, writers*each)
	for _, c := range []dbClient{a, b} {
		if got, _ := c.must("GET", "/counters.json", "", "Herald-After", h.Get("Herald-Event-ID")); got != want {
			t.Fatalf("counters on %s = %s, want %s", c.base, got, want)
		}
	}

	// A stream on B sees a write made on A.
	ctx, cancel := context.WithTimeout(t.Context(), testutil.WaitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/db/users.json", nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer admin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	events := sse.NewDecoder(resp.Body)
	if ev, err := events.Next(); err != nil || ev.Type != "put" || string(ev.Data) != `{"path":"/","data":{"ada":{"n":1,"name":"Ada"}}}` {
		t.Fatalf("first event of the stream on B: %+v, %v", ev, err)
	}
	a.must("PATCH", "/users/ada.json", `{"n":2}`)
	if ev, err := events.Next(); err != nil || ev.Type != "patch" || string(ev.Data) != `{"path":"/ada","data":{"n":2}}` {
		t.Fatalf("stream on B after A's patch: %+v, %v", ev, err)
	}

	// A token revoked on A is refused on B, and B's streams with it end.
	tok, err := auth.Mint(mustKey(t, cfg.PublisherKey), auth.MintClaims{ID: "stolen", DBRead: []string{"/users"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	sreq, _ := http.NewRequestWithContext(ctx, "GET", b.base+"/db/users.json?auth="+tok, nil)
	sreq.Header.Set("Accept", "text/event-stream")
	sresp, err := http.DefaultClient.Do(sreq)
	if err != nil || sresp.StatusCode != http.StatusOK {
		t.Fatalf("stream with the token before its revocation: %v %v", sresp, err)
	}
	defer sresp.Body.Close()
	held := sse.NewDecoder(sresp.Body)
	if ev, err := held.Next(); err != nil || ev.Type != "put" {
		t.Fatalf("first event: %+v, %v", ev, err)
	}
	rreq, _ := http.NewRequest("POST", a.base+"/.well-known/herald/revoke", strings.NewReader("jti=stolen"))
	rreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rreq.Header.Set("Authorization", "Bearer admin")
	rresp, err := http.DefaultClient.Do(rreq)
	if err != nil || rresp.StatusCode != http.StatusNoContent {
		t.Fatalf("revoke on A: %v %v", rresp, err)
	}
	rresp.Body.Close()
	for {
		ev, err := held.Next()
		if err != nil {
			t.Fatalf("the stream on B with the token revoked on A: %v before auth_revoked", err)
		}
		if ev.Type == "auth_revoked" {
			break
		}
	}
	gresp, err := http.Get(b.base + "/db/users.json?auth=" + tok)
	if err != nil {
		t.Fatal(err)
	}
	gresp.Body.Close()
	if gresp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("read on B with the token revoked on A: %d, want 401", gresp.StatusCode)
	}

	// A node started now builds the same tree from the journal.
	_, urlC := start(t, cfg)
	c := dbClient{t, strings.TrimSuffix(urlC, "/.well-known/mercure")}
	whole, _ := a.must("GET", "/.json", "")
	if got, _ := c.must("GET", "/.json", ""); got != whole {
		t.Fatalf("a node started later has %s, want %s", got, whole)
	}
}

// mustKey parses the key material of a Config.
func mustKey(t *testing.T, material []byte) auth.Key {
	t.Helper()
	k, err := auth.ParseKey(material)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestStateTreeSnapshotsOnNATS: a node's tree outlives the stream's
// retention: a node saves snapshots of it (every SnapshotInterval, and
// when it closes), and a node started after retention removed the writes
// starts from the newest snapshot and follows the stream from there.
func TestStateTreeSnapshotsOnNATS(t *testing.T) {
	nats := natstest.Run(t)
	cfg := herald.Config{
		Anonymous: true, PublisherKey: []byte("0123456789abcdef0123456789abcdef"),
		NATS:      herald.NATS{URL: nats.URL(), Stream: "SNAP", SnapshotInterval: 50 * time.Millisecond},
		Retention: herald.Retention{MaxEvents: 3},
		DB:        herald.DB{AdminToken: "admin"}, Logger: slog.New(slog.DiscardHandler),
	}
	first, err := herald.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(first)
	a := dbClient{t, ts.URL}
	for i := range 20 {
		a.must("PUT", fmt.Sprintf("/items/%d.json", i), strconv.Itoa(i))
	}
	_, h := a.must("PATCH", "/counters.json", `{"n":{".sv":{"increment":5}}}`)
	// A node started once the running one has saved its tree, and another
	// one started after it closed: both see the whole tree.
	waitSnapshot(t, nats.URL(), "SNAP_STATE", h.Get("Herald-Event-ID"))
	_, urlB := start(t, cfg)
	b := dbClient{t, strings.TrimSuffix(urlB, "/.well-known/mercure")}
	whole, _ := a.must("GET", "/.json", "")
	if got, _ := b.must("GET", "/.json", ""); got != whole {
		t.Fatalf("a node started after retention removed writes has %s, want %s", got, whole)
	}
	_, h = a.must("PUT", "/last.json", `"written before the node closed"`)
	ts.Close()
	if err := first.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	b.must("GET", "/.json", "", "Herald-After", h.Get("Herald-Event-ID"))
	_, urlC := start(t, cfg)
	c := dbClient{t, strings.TrimSuffix(urlC, "/.well-known/mercure")}
	whole, _ = b.must("GET", "/.json", "")
	if got, _ := c.must("GET", "/.json", ""); got != whole || !strings.Contains(got, "written before") {
		t.Fatalf("a node started later has %s, want %s", got, whole)
	}
	// The tree keeps counting from the snapshot.
	c.must("PATCH", "/counters.json", `{"n":{".sv":{"increment":1}}}`)
	if got, _ := c.must("GET", "/counters/n.json", ""); got != "6" {
		t.Fatalf("an increment after starting from a snapshot gave %s, want 6", got)
	}
}

// waitSnapshot waits until the object store bucket on the NATS server at
// url holds a snapshot of the state tree with the write of event id.
func waitSnapshot(t *testing.T, url, bucket, id string) {
	t.Helper()
	_, seq, ok := journal.ParseID(id)
	if !ok {
		t.Fatalf("event ID %q", id)
	}
	js, err := jetstream.New(natstest.Connect(t, url))
	if err != nil {
		t.Fatal(err)
	}
	testutil.CheckFor(t, testutil.WaitTimeout, 10*time.Millisecond, func() error {
		obs, err := js.ObjectStore(t.Context(), bucket)
		if err != nil {
			return err
		}
		infos, err := obs.List(t.Context())
		if err != nil {
			return err
		}
		for _, info := range infos {
			if at, err := strconv.ParseUint(info.Metadata["seq"], 10, 64); err == nil && at >= seq {
				return nil
			}
		}
		return fmt.Errorf("no snapshot at or after %d yet", seq)
	})
}
