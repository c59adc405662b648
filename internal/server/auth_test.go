package server_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/testutil"
)

// rawJWT builds a token by hand, for algorithms a library would refuse to
// mint (none) or claims a minter would not write.
func rawJWT(header, claims string, secret []byte) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	if secret == nil {
		return signing + "."
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func TestPublishAuthorization(t *testing.T) {
	e := newEnv(t)
	other, _ := auth.ParseKey([]byte("another-secret-another-secret-!!"))
	wrongKey, _ := auth.Mint(other, auth.MintClaims{Publish: []string{"*"}, TTL: time.Hour})
	cases := []struct {
		name   string
		token  string
		topic  string
		status int
	}{
		{"no token", "", "t", 401},
		{"garbage", "not.a.jwt", "t", 401},
		{"wrong key", wrongKey, "t", 401},
		{"alg none", rawJWT(`{"alg":"none","typ":"JWT"}`, `{"mercure":{"publish":["*"]}}`, nil), "t", 401},
		{"expired", rawJWT(`{"alg":"HS256","typ":"JWT"}`, `{"exp":1000,"mercure":{"publish":["*"]}}`, []byte(testSecret)), "t", 401},
		{"no publish claim", e.token(auth.MintClaims{Subscribe: []string{"*"}}), "t", 403},
		{"other topic", e.token(auth.MintClaims{Publish: []string{"https://example.com/a/{id}"}}), "https://example.com/b/1", 403},
		{"template grant", e.token(auth.MintClaims{Publish: []string{"https://example.com/a/{id}"}}), "https://example.com/a/1", 200},
		{"exact grant", e.token(auth.MintClaims{Publish: []string{"t"}}), "t", 200},
		// A malformed update is answered as such, whatever the grants.
		{"invalid topic, no grant for it", e.token(auth.MintClaims{Publish: []string{"t"}}), "a%01", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", e.url, strings.NewReader("topic="+c.topic+"&data=x"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if c.token != "" {
				req.Header.Set("Authorization", "Bearer "+c.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, c.status)
			}
			chal := resp.Header.Get("WWW-Authenticate")
			switch c.status {
			case 401:
				if !strings.HasPrefix(chal, "Bearer") {
					t.Errorf("401 without Bearer challenge: %q", chal)
				}
				if c.token != "" && !strings.Contains(chal, "invalid_token") {
					t.Errorf("bad token challenge = %q, want error=invalid_token", chal)
				}
			case 403:
				if !strings.Contains(chal, "insufficient_scope") {
					t.Errorf("403 challenge = %q, want insufficient_scope", chal)
				}
			}
		})
	}
}

func TestPublishWithCookieNeedsAllowedOrigin(t *testing.T) {
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.CORSOrigins = []string{"https://app.example.com"} })
	tok := e.publisherToken()
	post := func(origin string) int {
		req, _ := http.NewRequest("POST", e.url, strings.NewReader("topic=t&data=x"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.AddCookie(&http.Cookie{Name: "mercureAuthorization", Value: tok})
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(""); got != 403 {
		t.Errorf("cookie publish without Origin: %d, want 403 (CSRF)", got)
	}
	if got := post("https://evil.example.net"); got != 403 {
		t.Errorf("cookie publish from foreign origin: %d, want 403", got)
	}
	if got := post("https://app.example.com"); got != 200 {
		t.Errorf("cookie publish from allowed origin: %d, want 200", got)
	}
}

func TestSubscribeAuthentication(t *testing.T) {
	e := newEnv(t)
	sub := e.token(auth.MintClaims{Subscribe: []string{"*"}})

	if _, status, _ := e.trySubscribe("topic=t", nil); status != 401 {
		t.Errorf("anonymous subscribe when not allowed: %d, want 401", status)
	}
	if _, status, _ := e.trySubscribe("topic=t", bearer("garbage")); status != 401 {
		t.Errorf("garbage token: %d, want 401", status)
	}
	// Header, cookie and query parameter all carry the token.
	e.subscribe("topic=t", bearer(sub))
	e.subscribe("topic=t", http.Header{"Cookie": {"mercureAuthorization=" + sub}})
	e.subscribe("topic=t&authorization="+sub, nil)

	// When several are present, Mercure's order decides which one is
	// verified: the header, then the query parameter, then the cookie. The
	// others are ignored, even when they hold a bad token.
	const bad = "garbage"
	sources := func(hdr, query, cookie string) (string, http.Header) {
		q, h := "topic=t", http.Header{}
		if hdr != "" {
			h.Set("Authorization", "Bearer "+hdr)
		}
		if query != "" {
			q += "&authorization=" + query
		}
		if cookie != "" {
			h.Set("Cookie", "mercureAuthorization="+cookie)
		}
		return q, h
	}
	for _, c := range []struct {
		name                  string
		header, query, cookie string
		status                int
	}{
		{"all three, header good", sub, bad, bad, 200},
		{"all three, header bad", bad, sub, sub, 401},
		{"header and query, query bad", sub, bad, "", 200},
		{"header and cookie, cookie bad", sub, "", bad, 200},
		{"query and cookie, query good", "", sub, bad, 200},
		{"query and cookie, query bad", "", bad, sub, 401},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, h := sources(c.header, c.query, c.cookie)
			if _, status, body := e.trySubscribe(q, h); status != c.status {
				t.Errorf("got %d %q, want %d", status, body, c.status)
			}
		})
	}

	anon := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.Anonymous = true })
	anon.subscribe("topic=t", nil)
	// A bad token is refused even where anonymous access is allowed.
	if _, status, _ := anon.trySubscribe("topic=t", bearer("garbage")); status != 401 {
		t.Errorf("garbage token with anonymous on: %d, want 401", status)
	}
}

func TestPrivateEvents(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, mode, func(c *serverConfig, _ *hubConfig) { c.Anonymous = true })
		anon := e.subscribe("topic=*", nil)
		granted := e.subscribe("topic=*", bearer(e.token(auth.MintClaims{Subscribe: []string{"https://example.com/users/{id}"}})))
		other := e.subscribe("topic=*", bearer(e.token(auth.MintClaims{Subscribe: []string{"https://example.com/groups/1"}})))

		e.mustPublish(form("topic", "https://example.com/users/42", "data", "secret", "private", "on"))
		e.mustPublish(form("topic", "https://example.com/public", "data", "hello"))

		if ev := granted.next(t); string(ev.Data) != "secret" {
			t.Errorf("granted subscriber got %q first, want the private event", ev.Data)
		}
		for name, s := range map[string]*stream{"anonymous": anon, "other grant": other} {
			if ev := s.next(t); string(ev.Data) != "hello" {
				t.Errorf("%s subscriber got %q, want only the public event", name, ev.Data)
			}
		}
		// A private event is delivered when an alternate topic is granted.
		e.mustPublish(form("topic", "https://example.com/x", "topic", "https://example.com/groups/1", "data", "alt", "private", "true"))
		if ev := other.next(t); string(ev.Data) != "alt" {
			t.Errorf("alternate-granted subscriber got %q", ev.Data)
		}
		e.nothingBefore(t, anon, "https://example.com/x")
	})
}

func TestTokenExpiryEndsStream(t *testing.T) {
	inModes(t, func(t *testing.T, mode option) {
		e := newEnv(t, mode)
		tok := e.token(auth.MintClaims{Subscribe: []string{"*"}, TTL: 1500 * time.Millisecond})
		s := e.subscribe("topic=t", bearer(tok))
		s.ended(t)
	})
}

func TestRS256PerRoleKeys(t *testing.T) {
	pubPriv, pubPEM := rsaKeyPair(t)
	subPriv, subPEM := rsaKeyPair(t)
	pubKey, err := auth.ParseKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	subKey, err := auth.ParseKey(subPEM)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *serverConfig, _ *hubConfig) { c.PublisherKey, c.SubscriberKey = &pubKey, &subKey })

	subTok, err := auth.Mint(subPriv, auth.MintClaims{Subscribe: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	pubTok, err := auth.Mint(pubPriv, auth.MintClaims{Publish: []string{"*"}, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s := e.subscribe("topic=t", bearer(subTok))
	if status, body := e.publishForm(pubTok, form("topic", "t", "data", "signed", "private", "on")); status != 200 {
		t.Fatalf("RS256 publish: %d %s", status, body)
	}
	if ev := s.next(t); string(ev.Data) != "signed" {
		t.Errorf("got %q", ev.Data)
	}
	// Each role's key verifies only its own role's tokens.
	if status, _ := e.publishForm(subTok, form("topic", "t", "data", "x")); status != 401 {
		t.Errorf("subscriber-signed token publishing: %d, want 401", status)
	}
	if _, status, _ := e.trySubscribe("topic=t", bearer(pubTok)); status != 401 {
		t.Errorf("publisher-signed token subscribing: %d, want 401", status)
	}
}

// rsaKeyPair returns a signing key and the PEM of its public half.
func rsaKeyPair(t *testing.T) (auth.Key, []byte) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := auth.ParseKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

// A verified token is remembered, but never past its expiry.
func TestCachedTokenExpires(t *testing.T) {
	e := newEnv(t)
	tok := e.token(auth.MintClaims{Publish: []string{"*"}, TTL: time.Second})
	if status, body := e.publishForm(tok, form("topic", "t", "data", "x")); status != 200 {
		t.Fatalf("fresh token: %d %s", status, body)
	}
	testutil.CheckFor(t, 5*time.Second, 50*time.Millisecond, func() error {
		if status, _ := e.publishForm(tok, form("topic", "t", "data", "x")); status != 401 {
			return fmt.Errorf("expired token still publishes: %d", status)
		}
		return nil
	})
}

// What a client sees of each way authentication fails: the status, the
// message and the RFC 6750 error code.
func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t)
	sub := e.token(auth.MintClaims{Subscribe: []string{"*"}})
	expired := rawJWT(`{"alg":"HS256","typ":"JWT"}`, `{"exp":1000,"mercure":{"subscribe":["*"]}}`, []byte(testSecret))
	cases := []struct {
		name   string
		query  string
		header http.Header
		status int
		msg    string
		code   string
	}{
		{"no token", "topic=t", nil, 401, "unauthorized: this hub admits only subscribers with a token (its --anonymous flag lets others in); " +
			"send a token as Authorization: Bearer <token>, the authorization query parameter or the mercureAuthorization cookie", ""},
		{"basic scheme", "topic=t", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, 400, "malformed credentials", "invalid_request"},
		{"repeated query", "topic=t&authorization=" + sub + "&authorization=" + sub, nil, 400, "malformed credentials", "invalid_request"},
		{"garbage", "topic=t", bearer("garbage"), 401, "unauthorized: invalid token", "invalid_token"},
		{"expired", "topic=t", bearer(expired), 401, "unauthorized: token expired", "invalid_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", e.url+"?"+c.query, nil)
			for k, v := range c.header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.status || strings.TrimSpace(string(body)) != c.msg {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, body, c.status, c.msg)
			}
			chal := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(chal, "Bearer ") || (c.code != "") != strings.Contains(chal, `error="`+c.code+`"`) {
				t.Errorf("WWW-Authenticate = %q, want error code %q", chal, c.code)
			}
		})
	}
}

// A publish without a token is told what token it needs and where it goes.
func TestPublishWithoutTokenSaysWhatToSend(t *testing.T) {
	e := newEnv(t)
	status, body := e.publishForm("", form("topic", "t", "data", "x"))
	if status != 401 || !strings.Contains(body, "mercure.publish") || !strings.Contains(body, "herald token --publish") || !strings.Contains(body, "Authorization: Bearer") {
		t.Errorf("publish without a token: %d %q", status, body)
	}
}
