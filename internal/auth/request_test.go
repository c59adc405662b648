package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestTokenFromRequest(t *testing.T) {
	const (
		hdr    = "eyJhbGciOiJIUzI1NiJ9.header.sig"
		query  = "eyJhbGciOiJIUzI1NiJ9.query.sig"
		cookie = "eyJhbGciOiJIUzI1NiJ9.cookie.sig"
	)
	tests := []struct {
		name    string
		url     string
		headers []string // Authorization values
		cookie  string
		token   string
		from    Source
		err     error
	}{
		{name: "none", url: "/", err: ErrNoToken},
		{name: "header", url: "/", headers: []string{"Bearer " + hdr}, token: hdr, from: FromHeader},
		{name: "header, lower-case scheme", url: "/", headers: []string{"bearer " + hdr}, token: hdr, from: FromHeader},
		{name: "header, several spaces", url: "/", headers: []string{"Bearer   " + hdr}, token: hdr, from: FromHeader},
		{name: "header, base64 padding", url: "/", headers: []string{"Bearer abc+/=="}, token: "abc+/==", from: FromHeader},
		{name: "query", url: "/?topic=x&authorization=" + query, token: query, from: FromQuery},
		{name: "cookie", url: "/", cookie: cookie, token: cookie, from: FromCookie},
		{name: "header wins over cookie", url: "/", headers: []string{"Bearer " + hdr}, cookie: cookie, token: hdr, from: FromHeader},
		{name: "header wins over query", url: "/?authorization=" + query, headers: []string{"Bearer " + hdr}, token: hdr, from: FromHeader},
		{name: "query wins over cookie", url: "/?authorization=" + query, cookie: cookie, token: query, from: FromQuery},
		{name: "header wins over query and cookie", url: "/?authorization=" + query, headers: []string{"Bearer " + hdr}, cookie: cookie, token: hdr, from: FromHeader},
		{name: "bad header hides query and cookie", url: "/?authorization=" + query, headers: []string{"Basic x"}, cookie: cookie, err: ErrInvalidRequest},
		{name: "empty cookie", url: "/", cookie: "", err: ErrNoToken},
		{name: "two headers", url: "/", headers: []string{"Bearer " + hdr, "Bearer " + hdr}, err: ErrInvalidRequest},
		{name: "basic scheme", url: "/", headers: []string{"Basic dXNlcjpwYXNz"}, cookie: cookie, err: ErrInvalidRequest},
		{name: "scheme only", url: "/", headers: []string{"Bearer"}, err: ErrInvalidRequest},
		{name: "scheme and space", url: "/", headers: []string{"Bearer "}, err: ErrInvalidRequest},
		{name: "empty header", url: "/", headers: []string{""}, cookie: cookie, err: ErrInvalidRequest},
		{name: "no space", url: "/", headers: []string{"Bearer" + hdr}, err: ErrInvalidRequest},
		{name: "two tokens", url: "/", headers: []string{"Bearer a b"}, err: ErrInvalidRequest},
		{name: "bad character", url: "/", headers: []string{"Bearer a,b"}, err: ErrInvalidRequest},
		{name: "padding only", url: "/", headers: []string{"Bearer =="}, err: ErrInvalidRequest},
		{name: "padding inside", url: "/", headers: []string{"Bearer a=b"}, err: ErrInvalidRequest},
		{name: "repeated query", url: "/?authorization=" + query + "&authorization=" + query, cookie: cookie, err: ErrInvalidRequest},
		{name: "empty query", url: "/?authorization=", cookie: cookie, err: ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.url, nil)
			for _, h := range tt.headers {
				r.Header.Add("Authorization", h)
			}
			if tt.cookie != "" || tt.name == "empty cookie" {
				r.AddCookie(&http.Cookie{Name: CookieName, Value: tt.cookie})
			}
			token, from, err := TokenFromRequest(r)
			if tt.err != nil {
				if !errors.Is(err, tt.err) || token != "" || from != 0 {
					t.Fatalf("= %q, %v, %v; want error %v", token, from, err, tt.err)
				}
				return
			}
			if err != nil || token != tt.token || from != tt.from {
				t.Fatalf("= %q, %v, %v; want %q, %v", token, from, err, tt.token, tt.from)
			}
		})
	}
}

func TestSourceString(t *testing.T) {
	got := fmt.Sprint(FromHeader, FromQuery, FromCookie, Source(0))
	if got != "header query cookie none" {
		t.Errorf("Sources print as %q", got)
	}
}

func TestChallenge(t *testing.T) {
	_, _, badHeader := TokenFromRequest(func() *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Basic x")
		return r
	}())
	tests := []struct {
		name      string
		err       error
		challenge string
	}{
		{"nil", nil, `Bearer realm="herald"`},
		{"no token", ErrNoToken, `Bearer realm="herald"`},
		{"bad header", badHeader, `Bearer realm="herald", error="invalid_request", error_description="the Authorization header is not Bearer <token>"`},
		{"invalid token", ErrInvalidToken, `Bearer realm="herald", error="invalid_token", error_description="the token is invalid"`},
		{"expired", ErrTokenExpired, `Bearer realm="herald", error="invalid_token", error_description="the token expired"`},
		{"wrapped expired", fmt.Errorf("subscribe: %w", tokenError(fmt.Errorf("x: %w", jwt.ErrTokenExpired))), `Bearer realm="herald", error="invalid_token", error_description="the token expired"`},
		{"insufficient scope", fmt.Errorf("publish to %q: %w", "urn:x", ErrInsufficientScope), `Bearer realm="herald", error="insufficient_scope", error_description="the token does not grant this operation"`},
		{"other", errors.New("disk full"), `Bearer realm="herald"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Challenge(tt.err); got != tt.challenge {
				t.Errorf("Challenge = %s\nwant        %s", got, tt.challenge)
			}
		})
	}
}

func TestChallengeDescriptionIsQuotable(t *testing.T) {
	err := &authError{kind: ErrInvalidToken, desc: "a \"quoted\" \\ desc\r\nwith é"}
	want := `Bearer realm="herald", error="invalid_token", error_description="a quoted  descwith "`
	if got := Challenge(err); got != want {
		t.Errorf("Challenge = %s, want %s", got, want)
	}
}
