package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// Source says where [TokenFromRequest] found a token.
type Source uint8

// The places a token can come from, in the order they are looked at.
const (
	FromHeader Source = iota + 1 // Authorization: Bearer <token>
	FromQuery                    // ?authorization=<token>
	FromCookie                   // Cookie: mercureAuthorization=<token>
)

// String returns "header", "query", "cookie", or "none" for the zero Source.
func (s Source) String() string {
	switch s {
	case FromHeader:
		return "header"
	case FromQuery:
		return "query"
	case FromCookie:
		return "cookie"
	}
	return "none"
}

const (
	// CookieName is the cookie browsers send the token in.
	CookieName = "mercureAuthorization"
	// QueryParam is the query parameter clients that can set neither a
	// header nor a cookie send the token in.
	QueryParam = "authorization"
)

// TokenFromRequest returns the token of r and where it was found, in the
// Mercure order of precedence: the Authorization header, then the
// "authorization" query parameter, then the "mercureAuthorization" cookie.
// A source that is present hides the ones after it, even when it is
// malformed: a bad header is an error, not a reason to try the cookie.
//
// It returns [ErrNoToken] when there is no token (an empty cookie counts as
// none), and an error wrapping [ErrInvalidRequest] for several Authorization
// headers, an Authorization header that is not "Bearer <token>", or a query
// parameter that is repeated or empty.
//
// A token from a cookie is sent by browsers on cross-site requests too;
// handlers of unsafe methods must check the request's Origin before trusting
// it, as Mercure does for publishing.
func TokenFromRequest(r *http.Request) (token string, from Source, err error) {
	return TokenFrom(r, r.URL.Query())
}

// TokenFrom is [TokenFromRequest] for a caller that has already parsed
// the request's query string: query is r.URL.Query().
func TokenFrom(r *http.Request, query url.Values) (token string, from Source, err error) {
	if values, ok := r.Header["Authorization"]; ok {
		if len(values) != 1 {
			return "", 0, &authError{kind: ErrInvalidRequest, desc: "more than one Authorization header"}
		}
		token, ok := bearerToken(values[0])
		if !ok {
			return "", 0, &authError{kind: ErrInvalidRequest, desc: "the Authorization header is not Bearer <token>"}
		}
		return token, FromHeader, nil
	}
	if values, ok := query[QueryParam]; ok {
		if len(values) != 1 || values[0] == "" {
			return "", 0, &authError{kind: ErrInvalidRequest, desc: "the authorization query parameter must appear once, with a token"}
		}
		return values[0], FromQuery, nil
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		return c.Value, FromCookie, nil
	}
	return "", 0, ErrNoToken
}

// bearerToken parses the credentials of RFC 6750 section 2.1:
//
//	"Bearer" 1*SP b64token
//	b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
//
// The scheme name is case-insensitive (RFC 9110 section 11.1).
func bearerToken(v string) (string, bool) {
	const scheme = "Bearer "
	if len(v) <= len(scheme) || !strings.EqualFold(v[:len(scheme)], scheme) {
		return "", false
	}
	token := strings.TrimLeft(v[len(scheme):], " ")
	body := strings.TrimRight(token, "=")
	if body == "" {
		return "", false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~+/", c) >= 0) {
			return "", false
		}
	}
	return token, true
}
