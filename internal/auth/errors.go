package auth

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNoToken reports a request that carries no token at all.
	ErrNoToken = errors.New("auth: no token")
	// ErrInvalidRequest reports a request whose token cannot be read: a
	// malformed Authorization header, or several "authorization" query
	// parameters.
	ErrInvalidRequest = errors.New("auth: malformed authorization")
	// ErrInvalidToken reports a token that is not acceptable: malformed,
	// badly signed, signed with an algorithm that does not fit the key,
	// expired, not yet valid, or granting malformed topic selectors.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrTokenExpired reports an expired token. It is also an
	// [ErrInvalidToken].
	ErrTokenExpired = fmt.Errorf("%w: expired", ErrInvalidToken)
	// ErrInsufficientScope reports a valid token that does not grant the
	// operation asked for. Handlers return it (or wrap it) when
	// [Claims.CanPublish] or [Claims.CanSubscribe] says no.
	ErrInsufficientScope = errors.New("auth: insufficient scope")
)

// authError is an error of this package: a stable kind, a description that
// is safe to send to the client, and the underlying cause, for logs.
type authError struct {
	kind  error
	desc  string
	cause error
}

func (e *authError) Error() string {
	msg := e.kind.Error() + ": " + e.desc
	if e.cause != nil {
		msg += ": " + e.cause.Error()
	}
	return msg
}

func (e *authError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// Realm is the realm of the WWW-Authenticate challenges.
const Realm = "herald"

// Challenge returns the value of the WWW-Authenticate header (RFC 6750
// section 3) that goes with err, an error of this package:
//
//   - no token (or a nil err): `Bearer realm="herald"`, with no error code,
//     as RFC 6750 asks when the request had no credentials;
//   - [ErrInvalidRequest]: error="invalid_request";
//   - [ErrInvalidToken], including [ErrTokenExpired]: error="invalid_token";
//   - [ErrInsufficientScope]: error="insufficient_scope".
//
// The error_description names what was wrong without echoing the token or
// the key.
func Challenge(err error) string {
	code, desc := "", ""
	switch {
	case errors.Is(err, ErrInvalidRequest):
		code, desc = "invalid_request", "the request carries a malformed token"
	case errors.Is(err, ErrTokenExpired):
		code, desc = "invalid_token", "the token expired"
	case errors.Is(err, ErrInvalidToken):
		code, desc = "invalid_token", "the token is invalid"
	case errors.Is(err, ErrInsufficientScope):
		code, desc = "insufficient_scope", "the token does not grant this operation"
	default:
		return `Bearer realm="` + Realm + `"`
	}
	if ae, ok := errors.AsType[*authError](err); ok && ae.desc != "" {
		desc = ae.desc
	}
	return `Bearer realm="` + Realm + `", error="` + code + `", error_description="` + quotable(desc) + `"`
}

// quotable keeps the characters RFC 6750 allows in error_description.
func quotable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}
