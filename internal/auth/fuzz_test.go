package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
)

// bearerHeader is RFC 6750's "Bearer" 1*SP b64token, the scheme in any
// case, written apart from bearerToken to check it.
var bearerHeader = regexp.MustCompile(`\A[Bb][Ee][Aa][Rr][Ee][Rr] +([0-9A-Za-z\-._~+/]+=*)\z`)

// FuzzTokenFromRequest reads tokens from arbitrary Authorization headers
// (none, one or two of them), query strings and Cookie headers. It checks
// that TokenFromRequest never panics, that it returns a non-empty token
// or one of its two errors, and that it follows its documented order: a
// header present decides, else an authorization query parameter present
// decides, else the cookie.
func FuzzTokenFromRequest(f *testing.F) {
	f.Add("Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", uint8(1), "topic=x&authorization=q", "mercureAuthorization=c")
	f.Add("bearer   abc+/==", uint8(1), "", "")
	f.Add("Bearer a b", uint8(2), "authorization=q", "mercureAuthorization=c")
	f.Add("Basic dXNlcjpwYXNz", uint8(0), "authorization=q&authorization=r", "mercureAuthorization=c")
	f.Add("", uint8(0), "authorization=", "mercureAuthorization=c")
	f.Add("", uint8(0), "authorization=%zz;x", `a=b; mercureAuthorization="c"; mercureAuthorization=d`)
	f.Add("", uint8(0), "Authorization=q", "mercureAuthorization=")
	f.Fuzz(func(t *testing.T, header string, headers uint8, query, cookie string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.URL.RawQuery = query
		for range headers % 3 {
			r.Header.Add("Authorization", header)
		}
		if cookie != "" {
			r.Header.Set("Cookie", cookie)
		}
		token, from, err := TokenFromRequest(r)
		switch {
		case err == nil && (token == "" || from < FromHeader || from > FromCookie):
			t.Fatalf("token %q from %v, without error", token, from)
		case err != nil && (token != "" || from != 0):
			t.Fatalf("token %q from %v, with error %v", token, from, err)
		case err != nil && errors.Is(err, ErrNoToken) == errors.Is(err, ErrInvalidRequest):
			t.Fatalf("error %v: want one of ErrNoToken and ErrInvalidRequest", err)
		}

		values, inQuery := r.URL.Query()[QueryParam]
		switch {
		case headers%3 == 2:
			if !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("two Authorization headers: token %q from %v, error %v", token, from, err)
			}
		case headers%3 == 1:
			m := bearerHeader.FindStringSubmatch(header)
			if m == nil && !errors.Is(err, ErrInvalidRequest) || m != nil && (from != FromHeader || token != m[1]) {
				t.Fatalf("Authorization: %q: token %q from %v, error %v", header, token, from, err)
			}
		case inQuery:
			valid := len(values) == 1 && values[0] != ""
			if !valid && !errors.Is(err, ErrInvalidRequest) || valid && (from != FromQuery || token != values[0]) {
				t.Fatalf("query %q: token %q from %v, error %v", query, token, from, err)
			}
		default:
			c, cerr := r.Cookie(CookieName)
			valid := cerr == nil && c.Value != ""
			if !valid && !errors.Is(err, ErrNoToken) || valid && (from != FromCookie || token != c.Value) {
				t.Fatalf("Cookie: %q: token %q from %v, error %v", cookie, token, from, err)
			}
		}
	})
}
