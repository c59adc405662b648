// Package auth verifies and mints the JSON Web Tokens that authorize Herald's
// publishers and subscribers, with the semantics of the classic Mercure
// protocol (draft-dunglas-mercure-07, Mercure v0.x).
//
// A token carries a "mercure" claim (or, as Mercure also accepts, a
// "https://mercure.rocks/" claim, which then wins):
//
//	{"mercure": {"publish": ["https://example.com/books/{id}"],
//	             "subscribe": ["https://example.com/users/kevin/{?topic}"],
//	             "payload": {"user": "kevin"}}}
//
// publish and subscribe hold topic selectors (see package selector); a
// token whose selectors do not parse is invalid. [Verifier.Verify] checks
// the signature with a [Key], the expiry ("exp") and the not-before time
// ("nbf"), and returns the [Claims]; [Claims.CanPublish] and
// [Claims.CanSubscribe] then apply the Mercure rules. Which private events
// a subscriber receives is the hub's rule, applied to the claims'
// Subscribe selectors.
// [Mint] creates tokens, for the CLI and for tests.
//
// The signing algorithm must fit the key: HS256, HS384 and HS512 for a
// secret, RS* and PS* for an RSA key, the ES* of the key's curve for an ECDSA
// key, EdDSA for an Ed25519 key. "none" is never accepted, and an HMAC token
// is never checked against a public key.
//
// [TokenFromRequest] finds the token of an HTTP request, in the Mercure order:
// the Authorization header, then the "authorization" query parameter, then
// the "mercureAuthorization" cookie. [Challenge] turns the errors of this
// package into the RFC 6750 WWW-Authenticate header; which HTTP status goes
// with it is the server's business.
//
// Errors are stable values matched with errors.Is: [ErrNoToken],
// [ErrInvalidRequest], [ErrInvalidToken], [ErrTokenExpired] (which is also an
// [ErrInvalidToken]) and [ErrInsufficientScope].
package auth
