package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// cookieRequest sends method to the cookie endpoint with header.
func (e *hubEnv) cookieRequest(method string, header http.Header) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.ts.URL+"/.well-known/mercure/cookie", nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// A page trades its token for an HttpOnly cookie, which then authenticates
// its subscription; it can clear it again.
func TestCookieExchange(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example"} })
	tok := e.token(auth.MintClaims{Subscribe: []string{"t"}, TTL: time.Hour})
	resp := e.cookieRequest("POST", http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://app.example"}})
	if resp.StatusCode != 204 {
		t.Fatalf("POST cookie: %d", resp.StatusCode)
	}
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != tok || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/.well-known/mercure" ||
		cookie.MaxAge < 3500 || cookie.MaxAge > 3600 {
		t.Fatalf("cookie = %+v", cookie)
	}
	if got := resp.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
		t.Errorf("an allowed origin gets Access-Control-Allow-Credentials %q", got)
	}
	// The cookie subscribes to private events.
	secret := e.mustPublish(form("topic", "t", "data", "secret", "private", "on"))
	s := e.subscribe("topic=t&lastEventID=earliest", http.Header{"Cookie": {cookie.String()}})
	if ev := s.next(t); ev.ID != secret {
		t.Fatalf("subscribed with the cookie, got %q, want the private %q", ev.ID, secret)
	}
	// Cleared.
	resp = e.cookieRequest("DELETE", http.Header{"Origin": {"https://app.example"}})
	if c := resp.Cookies(); resp.StatusCode != 204 || len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("DELETE cookie: %d %v", resp.StatusCode, c)
	}
}

func TestCookieExchangeRefusals(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example", "*"} })
	tok := e.token(auth.MintClaims{Subscribe: []string{"t"}})
	for _, c := range []struct {
		name   string
		header http.Header
		status int
	}{
		{"no token", nil, 400},
		{"token in the query only", http.Header{"Cookie": {auth.CookieName + "=" + tok}}, 400},
		{"bad token", http.Header{"Authorization": {"Bearer garbage"}}, 401},
		// Allowed by "*" only, without credentials: no cookie for it.
		{"origin without credentials", http.Header{"Authorization": {"Bearer " + tok}, "Origin": {"https://evil.example"}}, 403},
	} {
		resp := e.cookieRequest("POST", c.header)
		if resp.StatusCode != c.status || len(resp.Cookies()) != 0 {
			t.Errorf("%s: %d with %d cookies, want %d and none", c.name, resp.StatusCode, len(resp.Cookies()), c.status)
		}
	}
	if resp := e.cookieRequest("POST", http.Header{"Authorization": {"Bearer " + tok}}); resp.StatusCode != 204 ||
		!strings.Contains(resp.Header.Get("Set-Cookie"), "HttpOnly") {
		t.Errorf("a client without Origin: %d %q", resp.StatusCode, resp.Header.Get("Set-Cookie"))
	}
}
