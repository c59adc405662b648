package server_test

import (
	"cmp"
	"encoding/json"
	"io"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/client"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/rules"
	"github.com/heraldhub/herald/sse"
)

const adminToken = "admin-secret"

// dbEnv is a hub with the state tree.
type dbEnv struct {
	*hubEnv
	store *state.Store
	db    string // the tree's root URL
}

func newDBEnv(t testing.TB, opts ...option) *dbEnv {
	t.Helper()
	j := journal.NewMemory(journal.Retention{})
	store, err := state.Open(state.Config{Journal: j}, state.Loaded{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	withState := func(c *serverConfig, _ *hubConfig) {
		c.State, c.DBAdminToken = store, adminToken
	}
	e := newEnvWithJournal(t, j, append([]option{withState}, opts...)...)
	return &dbEnv{hubEnv: e, store: store, db: e.ts.URL + "/db"}
}

// do sends a request to the tree with the token (admin when empty) and
// returns the status, the body and the headers.
func (e *dbEnv) do(method, path, body, token string, header ...string) (int, string, http.Header) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.db+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token == "" {
		token = adminToken
	}
	if token != "-" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(b)), resp.Header
}

// must sends a request that must answer want.
func (e *dbEnv) must(want int, method, path, body string, header ...string) string {
	e.t.Helper()
	status, got, _ := e.do(method, path, body, "", header...)
	if status != want {
		e.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, status, got, want)
	}
	return got
}

func TestDBRest(t *testing.T) {
	e := newDBEnv(t)
	if got := e.must(200, "PUT", "/users/alice.json", `{"name":"Alice","tags":["a","b"],"age":30}`); got != `{"age":30,"name":"Alice","tags":["a","b"]}` {
		t.Fatalf("PUT answered %s", got)
	}
	if got := e.must(200, "GET", "/users.json", ""); got != `{"alice":{"age":30,"name":"Alice","tags":["a","b"]}}` {
		t.Fatalf("GET %s", got)
	}
	// Nest's URLs had no .json.
	if got := e.must(200, "GET", "/users/alice/name", ""); got != `"Alice"` {
		t.Fatalf("GET without .json: %s", got)
	}
	e.must(200, "PATCH", "/users.json", `{"alice/age":31,"bob":{"name":"Bob"},"carol":null}`)
	if got := e.must(200, "GET", "/users.json?shallow=true", ""); got != `{"alice":true,"bob":true}` {
		t.Fatalf("shallow: %s", got)
	}
	var pushed struct{ Name string }
	if err := json.Unmarshal([]byte(e.must(200, "POST", "/msgs.json", `{"t":{".sv":"timestamp"}}`)), &pushed); err != nil || len(pushed.Name) != 20 {
		t.Fatalf("POST: %+v %v", pushed, err)
	}
	e.must(204, "PUT", "/silent.json?print=silent", `1`)
	e.must(200, "POST", "/users/bob.json", `"x"`, "X-HTTP-Method-Override", "DELETE")
	if got := e.must(200, "GET", "/users/bob.json", ""); got != "null" {
		t.Fatalf("after an overridden DELETE: %s", got)
	}
	if got := e.must(200, "GET", "/users.json?print=pretty", ""); !strings.Contains(got, "\n") {
		t.Fatalf("print=pretty: %q", got)
	}
	if got := e.must(200, "GET", `/users.json?orderBy="$key"&limitToFirst=1`, ""); !strings.HasPrefix(got, `{"alice"`) {
		t.Fatalf("query: %s", got)
	}
	if got := e.must(200, "DELETE", "/msgs.json", ""); got != "null" {
		t.Fatalf("DELETE answered %s", got)
	}
}

// TestDBConditional: ETags as the Firebase REST API and the Admin SDK's
// transactions use them.
func TestDBConditional(t *testing.T) {
	e := newDBEnv(t)
	_, _, h := e.do("GET", "/n.json", "", "", "X-Firebase-ETag", "true")
	absent := h.Get("ETag")
	if absent == "" {
		t.Fatal("no ETag for an absent value")
	}
	e.must(200, "PUT", "/n.json", `1`, "If-Match", absent)
	status, body, h := e.do("PUT", "/n.json", `2`, "", "If-Match", absent)
	if status != 412 || body != "1" || h.Get("ETag") == "" || h.Get("ETag") == absent {
		t.Fatalf("stale If-Match: %d %s ETag %q", status, body, h.Get("ETag"))
	}
	current := h.Get("ETag")
	e.must(304, "GET", "/n.json", "", "If-None-Match", current)
	_, _, h2 := e.do("GET", "/n.json", "", "", "If-None-Match", "other")
	if h2.Get("ETag") != current {
		t.Fatalf("If-None-Match that does not match: ETag %q, want %q", h2.Get("ETag"), current)
	}
	e.must(200, "PUT", "/n.json", `2`, "If-Match", current)
}

// TestDBBadInput: every malformed request is refused with Firebase's
// error shape, and the tree is left as it was.
func TestDBBadInput(t *testing.T) {
	e := newDBEnv(t)
	e.must(200, "PUT", "/.json", `{"keep":{"a":1}}`)
	for _, c := range []struct {
		method, path, body string
		status             int
	}{
		{"PUT", "/keep.json", `{"a.b":1}`, 400},
		{"PUT", "/keep.json", `{"a":`, 400},
		{"PUT", "/keep.json", `{"a":1} x`, 400},
		{"PATCH", "/keep.json", `{"a":1,"b$":2}`, 400},
		{"PATCH", "/keep.json", `{"a":1,"a/b":2}`, 400},
		{"PATCH", "/keep.json", `[1]`, 400},
		{"PUT", "/keep/a%2Fb.json", `1`, 400},
		{"PUT", "/keep/../x.json", `1`, 400},
		{"PUT", "/keep/" + strings.Repeat("k/", 33) + "x.json", `1`, 400},
		{"PUT", "/keep.json", strings.Repeat("[", 100) + strings.Repeat("]", 100), 400},
		{"PUT", "/keep/" + strings.Repeat("k/", 29) + "x.json", `{"a":{"b":{"c":1}}}`, 400},
		{"GET", `/keep.json?orderBy=$key`, ``, 400},
		{"GET", `/keep.json?limitToFirst=1`, ``, 400},
		{"GET", `/keep.json?orderBy="$key"&limitToFirst=-1`, ``, 400},
		{"GET", `/keep.json?shallow=true&orderBy="$key"`, ``, 400},
		{"PUT", "/keep.json", `1`, 412},
		{"POST", "/keep.json?ns=no/such", `1`, 400},
		{"PUT", "/keep.json", `1`, 405},
	} {
		header := []string{}
		switch {
		case c.status == 412:
			header = []string{"If-Match", "garbage"}
		case c.status == 405:
			header = []string{"X-HTTP-Method-Override", "TRACE"}
			c.method = "POST"
		}
		status, body, h := e.do(c.method, c.path, c.body, "", header...)
		want := c.status
		if want == 405 {
			want = 400 // an override that is not a method the tree has
		}
		if status != want {
			t.Errorf("%s %s %.40s: %d %s, want %d", c.method, c.path, c.body, status, body, want)
			continue
		}
		if want != 412 {
			var msg struct{ Error string }
			if json.Unmarshal([]byte(body), &msg) != nil || msg.Error == "" || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
				t.Errorf("%s %s: body %q is not {\"error\": ...}", c.method, c.path, body)
			}
		}
	}
	if got := e.must(200, "GET", "/.json", ""); got != `{"keep":{"a":1}}` {
		t.Fatalf("the tree changed: %s", got)
	}
	status, _, _ := e.do("PUT", "/big.json", `"`+strings.Repeat("x", 17<<20)+`"`, "")
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 17 MiB write: %d, want 413", status)
	}
}

// TestDBAccess: a token's db claim grants paths; the rest is denied, as
// is everything to a caller without a token, and the system database to
// all but the admin.
func TestDBAccess(t *testing.T) {
	e := newDBEnv(t)
	alice := e.token(auth.MintClaims{Subject: "alice", DBRead: []string{"/users/{uid}/public", "/users/alice"}, DBWrite: []string{"/users/alice"}})
	e.must(200, "PUT", "/users/bob/public.json", `"hi"`)
	for _, c := range []struct {
		method, path, token string
		status              int
	}{
		{"PUT", "/users/alice/x.json", alice, 200},
		{"GET", "/users/alice.json", alice, 200},
		{"GET", "/users/bob/public.json", alice, 200},
		{"GET", "/users/bob.json", alice, 401},
		{"PUT", "/users/bob/public.json", alice, 401},
		{"PATCH", "/users.json", alice, 401},
		{"GET", "/users/alice.json", "-", 401},
		{"GET", "/users/alice.json", "not-a-token", 401},
		{"GET", "/x.json?ns=_herald", alice, 401},
		{"GET", "/x.json?ns=_herald", adminToken, 200},
	} {
		body := ""
		if c.method != "GET" {
			body = `{"y":1}`
		}
		if status, got, _ := e.do(c.method, c.path, body, c.token); status != c.status {
			t.Errorf("%s %s as %.10s: %d %s, want %d", c.method, c.path, c.token, status, got, c.status)
		}
	}
	// A multi-path update needs every path it writes.
	status, _, _ := e.do("PATCH", "/users.json", `{"alice/y":2,"bob/y":2}`, alice)
	if status != 401 {
		t.Fatalf("an update reaching outside the grant: %d", status)
	}
	if got := e.must(200, "GET", "/users/alice/y.json", ""); got != "null" {
		t.Fatalf("a refused update wrote: y = %s", got)
	}
}

// dbStream is a state stream under test.
func (e *dbEnv) stream(t *testing.T, path, token string, header ...string) *stream {
	t.Helper()
	h := http.Header{"Accept": {"text/event-stream"}}
	if token != "-" {
		h.Set("Authorization", "Bearer "+cmp.Or(token, adminToken))
	}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	saved := e.url
	e.url = e.db + path
	defer func() { e.url = saved }()
	s, status, body := e.trySubscribe("", h)
	if status != http.StatusOK {
		t.Fatalf("stream %s: %d %s", path, status, body)
	}
	return s
}

// expect reads the next event and checks its type and data.
func expect(t *testing.T, s *stream, typ, data string) sse.Event {
	t.Helper()
	ev := s.next(t)
	if ev.Type != typ || string(ev.Data) != data {
		t.Fatalf("got %s %s, want %s %s", ev.Type, ev.Data, typ, data)
	}
	return ev
}

func TestDBStream(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newDBEnv(t, mode)
		e.must(200, "PUT", "/home.json", `{"temp":20,"door":{"open":false}}`)
		s := e.stream(t, "/home.json", "")
		first := expect(t, s, "put", `{"path":"/","data":{"door":{"open":false},"temp":20}}`)
		if first.ID == "" {
			t.Fatal("the first put has no id")
		}
		e.must(200, "PUT", "/home/temp.json", `21`)
		afterTemp := expect(t, s, "put", `{"path":"/temp","data":21}`)
		e.must(200, "PATCH", "/home/door.json", `{"open":true,"by":"bob"}`)
		expect(t, s, "patch", `{"path":"/door","data":{"by":"bob","open":true}}`)
		e.must(200, "PUT", "/elsewhere.json", `1`) // not seen
		e.must(200, "PATCH", "/.json", `{"home/temp":22,"other":1}`)
		expect(t, s, "patch", `{"path":"/","data":{"temp":22}}`)
		e.must(200, "PUT", "/.json", `{"home":{"temp":5}}`)
		expect(t, s, "put", `{"path":"/","data":{"temp":5}}`)
		e.must(200, "DELETE", "/.json", ``)
		last := expect(t, s, "put", `{"path":"/","data":null}`)
		s.close()

		// Resume: only the writes after the client's last event.
		r := e.stream(t, "/home.json", "", "Last-Event-ID", afterTemp.ID)
		expect(t, r, "patch", `{"path":"/door","data":{"by":"bob","open":true}}`)
		expect(t, r, "patch", `{"path":"/","data":{"temp":22}}`)
		expect(t, r, "put", `{"path":"/","data":{"temp":5}}`)
		if ev := expect(t, r, "put", `{"path":"/","data":null}`); ev.ID != last.ID {
			t.Fatalf("resumed id %q, want %q", ev.ID, last.ID)
		}
		// An ID the journal does not know: a fresh put of the whole value.
		u := e.stream(t, "/home.json", "", "Last-Event-ID", "urn:herald:nope:9")
		expect(t, u, "put", `{"path":"/","data":null}`)
	})
}

// TestDBStreamConsistent: a stream opened while writers write sees, after
// its first put, every later write once and in order: the counter's
// values follow each other with no gap and no repeat.
func TestDBStreamConsistent(t *testing.T) {
	e := newDBEnv(t)
	const writes = 300
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range writes / 4 {
				e.must(204, "PUT", "/n.json?print=silent", `{".sv":{"increment":1}}`)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	s := e.stream(t, "/n.json", "")
	var first struct{ Data json.Number }
	if err := json.Unmarshal(s.next(t).Data, &first); err != nil {
		t.Fatal(err)
	}
	n, _ := first.Data.Int64()
	for n < writes {
		raw := s.next(t).Data
		var p struct {
			Path string
			Data int64
		}
		if err := json.Unmarshal(raw, &p); err != nil || p.Path != "/" || p.Data != n+1 {
			t.Fatalf("after %d: got %s (%v)", n, raw, err)
		}
		n = p.Data
	}
	wg.Wait()
}

// TestDBStreamEnds: Firebase's last events — auth_revoked when the token
// expires or is revoked, cancel when the rules stop allowing the read —
// and keep-alive while idle.
func TestDBStreamEnds(t *testing.T) {
	allow, err := rules.Parse([]byte(`{"rules": {"open": {".read": true}}}`))
	if err != nil {
		t.Fatal(err)
	}
	access := rules.NewAccess(allow)
	e := newDBEnv(t, func(c *serverConfig, _ *hubConfig) { c.DBAccess, c.Heartbeat = access, 50*time.Millisecond })

	anon := e.stream(t, "/open.json", "-")
	expect(t, anon, "put", `{"path":"/","data":null}`)
	expect(t, anon, "keep-alive", `null`)

	tok := e.token(auth.MintClaims{Subject: "a", ID: "tok-1", DBRead: []string{"/mine"}})
	revoked := e.stream(t, "/mine.json", tok)
	expect(t, revoked, "put", `{"path":"/","data":null}`)
	req, _ := http.NewRequest("POST", e.ts.URL+"/.well-known/herald/revoke", strings.NewReader("jti=tok-1"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("revoke: %v %v", resp.StatusCode, err)
	}
	for ev := revoked.next(t); ev.Type != "auth_revoked"; ev = revoked.next(t) {
		if ev.Type != "keep-alive" {
			t.Fatalf("before auth_revoked: %s %s", ev.Type, ev.Data)
		}
	}
	revoked.ended(t)
	if status, body, _ := e.do("GET", "/mine.json", "", tok); status != 401 || !strings.Contains(body, "revoked") {
		t.Fatalf("a revoked token: %d %s", status, body)
	}

	expiring := e.token(auth.MintClaims{Subject: "b", DBRead: []string{"/mine"}, TTL: time.Second})
	exp := e.stream(t, "/mine.json", expiring)
	expect(t, exp, "put", `{"path":"/","data":null}`)
	for ev := exp.next(t); ev.Type != "auth_revoked"; ev = exp.next(t) {
		if ev.Type != "keep-alive" {
			t.Fatalf("before auth_revoked: %s %s", ev.Type, ev.Data)
		}
	}
	exp.ended(t)

	deny, _ := rules.Parse([]byte(`{"rules": {}}`))
	access.Set(deny)
	e.srv.RecheckStreams()
	for ev := anon.next(t); ev.Type != "cancel"; ev = anon.next(t) {
		if ev.Type != "keep-alive" {
			t.Fatalf("before cancel: %s %s", ev.Type, ev.Data)
		}
	}
	anon.ended(t)
}

// TestDBRateLimit: past its rate a caller gets 429 with a Retry-After.
func TestDBRateLimit(t *testing.T) {
	e := newDBEnv(t, func(c *serverConfig, _ *hubConfig) { c.Limits.DBRate, c.Limits.DBBurst = 1, 2 })
	tok := e.token(auth.MintClaims{Subject: "c", DBRead: []string{"/"}})
	for i := range 3 {
		status, body, h := e.do("GET", "/x.json", "", tok)
		want := 200
		if i == 2 {
			want = 429
		}
		if status != want || want == 429 && h.Get("Retry-After") == "" {
			t.Fatalf("request %d: %d %s (Retry-After %q), want %d", i, status, body, h.Get("Retry-After"), want)
		}
	}
	e.must(200, "GET", "/x.json", "") // the admin is not limited
}

// TestDBMercureTopic: a Mercure subscriber whose token grants a state
// topic sees the writes there, with absolute paths; one without the
// grant sees nothing of them.
func TestDBMercureTopic(t *testing.T) {
	e := newDBEnv(t, func(c *serverConfig, _ *hubConfig) { c.Anonymous = true })
	topic := state.SubtreeTopic(state.DefaultNamespace, []string{"devices"})
	granted := e.subscribe("topic="+url.QueryEscape(topic), bearer(e.token(auth.MintClaims{Subscribe: []string{topic}})))
	anonymous := e.subscribe("topic="+url.QueryEscape(topic)+"&topic=marker", nil)
	e.must(200, "PUT", "/devices/d1/temp.json", `21`)
	ev := granted.next(t)
	if ev.Type != "put" || string(ev.Data) != `{"path":"/devices/d1/temp","data":21}` {
		t.Fatalf("Mercure subscriber got %s %s", ev.Type, ev.Data)
	}
	e.nothingBefore(t, anonymous, "marker")
}

// TestDBGoClient: Herald's Go client reads a state stream and resumes it
// with changes only.
func TestDBGoClient(t *testing.T) {
	e := newDBEnv(t)
	e.must(200, "PUT", "/cfg.json", `{"mode":"eco"}`)
	sub := &client.Subscriber{URL: e.db + "/cfg.json?auth=" + adminToken}
	st, err := sub.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	next, stop := iter.Pull2(st.Events())
	defer stop()
	read := func() sse.Event {
		ev, err, ok := next()
		if !ok || err != nil {
			t.Fatalf("stream: %v", err)
		}
		return ev
	}
	if ev := read(); ev.Type != "put" || string(ev.Data) != `{"path":"/","data":{"mode":"eco"}}` {
		t.Fatalf("first event %s %s", ev.Type, ev.Data)
	}
	e.must(200, "PUT", "/cfg/mode.json", `"boost"`)
	if ev := read(); ev.Type != "put" || string(ev.Data) != `{"path":"/mode","data":"boost"}` {
		t.Fatalf("second event %s %s", ev.Type, ev.Data)
	}
}

// TestDBRootPrefix: at the root, the tree answers .json URLs and leaves
// Herald's own routes, and the live page, alone.
func TestDBRootPrefix(t *testing.T) {
	index := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "live page "+r.URL.Path) })
	e := newDBEnv(t, func(c *serverConfig, _ *hubConfig) { c.DBPrefix, c.Index = "/", index })
	e.db = e.ts.URL
	e.must(200, "PUT", "/a/b.json", `1`)
	if got := e.must(200, "GET", "/.json", ""); got != `{"a":{"b":1}}` {
		t.Fatalf("root: %s", got)
	}
	if got := e.must(200, "GET", "/", ""); got != "live page /" {
		t.Fatalf("GET /: %s", got)
	}
	if got := e.must(200, "GET", "/herald.js", ""); got != "live page /herald.js" {
		t.Fatalf("GET /herald.js: %s", got)
	}
	if status, _, _ := e.do("GET", "/healthz", "", ""); status != 200 {
		t.Fatalf("/healthz: %d", status)
	}
	if got := e.mustPublish(form("topic", "t", "data", "x")); got == "" {
		t.Fatal("publishing at the root prefix failed")
	}
}

// TestDBStreamRefusesQueries: a stream is of the whole value; a query or
// shallow on it is refused rather than silently dropped.
func TestDBStreamRefusesQueries(t *testing.T) {
	e := newDBEnv(t)
	for _, q := range []string{`?orderBy="$key"&limitToFirst=1`, `?orderBy=$key`, `?shallow=true`} {
		status, body, _ := e.do("GET", "/x.json"+q, "", "", "Accept", "text/event-stream")
		if status != 400 || !strings.Contains(body, "not supported on streams") {
			t.Errorf("stream with %s: %d %s", q, status, body)
		}
	}
}

// TestRevokeUntil: a revocation given an end lapses then; until then the
// token is refused.
func TestRevokeUntil(t *testing.T) {
	e := newDBEnv(t)
	revoke := func(jti string, until time.Time) {
		t.Helper()
		body := "jti=" + jti + "&until=" + strconv.FormatInt(until.Unix(), 10)
		req, _ := http.NewRequest("POST", e.ts.URL+"/.well-known/herald/revoke", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 204 {
			t.Fatalf("revoke %s: %v %v", jti, resp.StatusCode, err)
		}
	}
	revoke("lapsed", time.Now().Add(-time.Minute))
	revoke("current", time.Now().Add(time.Hour))
	for jti, want := range map[string]int{"lapsed": 200, "current": 401} {
		tok := e.token(auth.MintClaims{Subject: jti, ID: jti, DBRead: []string{"/"}})
		if status, body, _ := e.do("GET", "/x.json", "", tok); status != want {
			t.Errorf("token %s: %d %s, want %d", jti, status, body, want)
		}
	}
}

// TestDBWriteMetrics: the state tree's writes are counted, stored or not,
// and a stored one's time to its answer observed.
func TestDBWriteMetrics(t *testing.T) {
	e := newDBEnv(t)
	e.must(http.StatusOK, "PUT", "/a.json", `1`)
	e.must(http.StatusOK, "PATCH", "/b.json", `{"c":{".sv":{"increment":1}}}`)
	e.must(http.StatusBadRequest, "PUT", "/a.json", `{"unclosed"`)
	e.must(http.StatusPreconditionFailed, "PUT", "/a.json", `2`, "If-Match", "not-the-etag")
	e.must(http.StatusOK, "GET", "/a.json", "")
	fams := e.scrape(t)
	for name, want := range map[string]float64{"herald_db_writes_total": 2, "herald_db_write_errors_total": 2} {
		if m := sample(fams, name); m == nil || m.GetCounter().GetValue() != want {
			t.Errorf("%s = %v, want %v", name, m, want)
		}
	}
	if m := sample(fams, "herald_db_write_seconds"); m == nil || m.GetHistogram().GetSampleCount() != 2 {
		t.Errorf("herald_db_write_seconds = %v, want 2 observations", m)
	}
}

// TestDBCORSExposesHeaders: a page of an allowed origin reads a write's
// Herald-Event-ID (for Herald-After) and a value's ETag.
func TestDBCORSExposesHeaders(t *testing.T) {
	e := newDBEnv(t, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example.com"} })
	status, _, h := e.do("PUT", "/a.json", "1", "", "Origin", "https://app.example.com", "X-Firebase-ETag", "true")
	if status != http.StatusOK {
		t.Fatalf("PUT: %d", status)
	}
	exposed := h.Get("Access-Control-Expose-Headers")
	for _, name := range []string{"ETag", "Herald-Event-ID"} {
		if !strings.Contains(exposed, name) {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, name)
		}
	}
	if h.Get("Herald-Event-ID") == "" || h.Get("ETag") == "" {
		t.Errorf("the write's answer: Herald-Event-ID %q, ETag %q", h.Get("Herald-Event-ID"), h.Get("ETag"))
	}
}
