package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/heraldhub/herald/web"
)

func get(t *testing.T, srv *httptest.Server, method, path string, header http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestHandlerServesFiles(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	tests := []struct {
		path        string
		contentType string
		contains    string
	}{
		{"/", "text/html; charset=utf-8", `<script src="app.js" defer></script>`},
		{"/app.js", "text/javascript; charset=utf-8", "Herald.subscribe("},
		{"/herald.js", "text/javascript; charset=utf-8", "new EventSource("},
		{"/herald.mjs", "text/javascript; charset=utf-8", `import "./herald.js";`},
		{"/style.css", "text/css; charset=utf-8", ".events"},
		{"/favicon.svg", "image/svg+xml", "<svg"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := get(t, srv, http.MethodGet, tt.path, nil)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type %q, want %q", got, tt.contentType)
			}
			if !strings.Contains(body, tt.contains) {
				t.Errorf("body lacks %q", tt.contains)
			}
			for _, h := range []string{"ETag", "Content-Security-Policy"} {
				if res.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if got := res.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q, want nosniff", got)
			}
		})
	}
}

// Pages of other origins load the client: a module script is fetched with
// CORS, and a page with COEP needs the resource's consent. The page's own
// files stay same-origin.
func TestClientScriptsLoadCrossOrigin(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	for _, path := range []string{"/herald.js", "/herald.mjs"} {
		res, _ := get(t, srv, http.MethodGet, path, http.Header{"Origin": {"https://elsewhere.example"}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want *", path, got)
		}
		if got := res.Header.Get("Cross-Origin-Resource-Policy"); got != "cross-origin" {
			t.Errorf("GET %s: Cross-Origin-Resource-Policy %q, want cross-origin", path, got)
		}
	}
	for _, path := range []string{"/", "/app.js"} {
		res, _ := get(t, srv, http.MethodGet, path, http.Header{"Origin": {"https://elsewhere.example"}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want none", path, got)
		}
	}
}

func TestHandlerRefuses(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	for _, path := range []string{"/nope", "/index.html", "/static/", "/static/app.js", "/app.js/", "/../go.mod"} {
		res, _ := get(t, srv, http.MethodGet, path, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, res.StatusCode)
		}
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		res, _ := get(t, srv, method, "/", nil)
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /: status %d, want 405", method, res.StatusCode)
		}
		if got := res.Header.Get("Allow"); got != "GET, HEAD" {
			t.Errorf("%s /: Allow %q, want \"GET, HEAD\"", method, got)
		}
	}
}

func TestHandlerRevalidates(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	res, body := get(t, srv, http.MethodGet, "/", nil)
	etag := res.Header.Get("ETag")
	res, again := get(t, srv, http.MethodGet, "/", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified || again != "" {
		t.Errorf("If-None-Match %s: status %d with %d bytes, want 304 and no body", etag, res.StatusCode, len(again))
	}
	res, head := get(t, srv, http.MethodHead, "/", nil)
	if res.StatusCode != http.StatusOK || head != "" || res.ContentLength != int64(len(body)) {
		t.Errorf("HEAD /: status %d, %d body bytes, Content-Length %d; want 200, 0, %d",
			res.StatusCode, len(head), res.ContentLength, len(body))
	}
	_, css := get(t, srv, http.MethodGet, "/style.css", nil)
	if res, _ := get(t, srv, http.MethodGet, "/style.css", http.Header{"If-None-Match": {etag}}); res.StatusCode != http.StatusOK || css == "" {
		t.Errorf("the index's ETag revalidated /style.css: status %d", res.StatusCode)
	}
}

// The e2e suite and users' scripts drive the page by these ids; the test
// keeps them from being renamed by accident, and keeps app.js and
// index.html agreeing on every id the script looks up.
func TestPageIDs(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	_, html := get(t, srv, http.MethodGet, "/", nil)
	_, js := get(t, srv, http.MethodGet, "/app.js", nil)

	ids := make(map[string]bool)
	for _, m := range regexp.MustCompile(`\bid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if ids[m[1]] {
			t.Errorf("id %q is used twice", m[1])
		}
		ids[m[1]] = true
	}
	stable := []string{
		"topic", "types", "last-event-id", "hub-url", "sub-token", "token-cookie", "token-query",
		"with-credentials", "transport", "subscribe", "unsubscribe", "state", "events", "event-count",
		"pub-topic", "pub-data", "pub-type", "pub-id", "pub-private", "pub-token", "publish",
		"publish-result", "clear-events",
	}
	for _, id := range stable {
		if !ids[id] {
			t.Errorf("index.html lacks id %q", id)
		}
	}
	for _, m := range regexp.MustCompile(`\$\("([^"]+)"\)`).FindAllStringSubmatch(js, -1) {
		if !ids[m[1]] {
			t.Errorf("app.js looks up id %q, which index.html lacks", m[1])
		}
	}
	// Every labelable control needs a label a screen reader can announce.
	for _, m := range regexp.MustCompile(`<(?:input|textarea|select)\b[^>]*\bid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(html, `for="`+m[1]+`"`) && !regexp.MustCompile(`<label[^>]*>\s*<input[^>]*id="`+regexp.QuoteMeta(m[1])+`"`).MatchString(html) {
			t.Errorf("control %q has no label", m[1])
		}
	}
}

// Everything the page links to must be served, or the page breaks offline.
func TestPageLinksResolve(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	_, html := get(t, srv, http.MethodGet, "/", nil)
	_, css := get(t, srv, http.MethodGet, "/style.css", nil)

	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(html, -1)
	refs = append(refs, regexp.MustCompile(`url\("([^"]+)"\)`).FindAllStringSubmatch(css, -1)...)
	if len(refs) < 4 {
		t.Fatalf("found %d references, want the script, the style sheet and the icon", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		if strings.Contains(ref, "//") || strings.HasPrefix(ref, "/") {
			t.Errorf("reference %q is not relative: the page must load nothing from elsewhere and work under a prefix", ref)
			continue
		}
		if res, _ := get(t, srv, http.MethodGet, "/"+ref, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET /%s: status %d", ref, res.StatusCode)
		}
	}
}

func TestHandlerUnderPrefix(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /live/", http.StripPrefix("/live", web.Handler()))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	for _, path := range []string{"/live/", "/live/app.js"} {
		if res, _ := get(t, srv, http.MethodGet, path, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: status %d, want 200", path, res.StatusCode)
		}
	}
}
