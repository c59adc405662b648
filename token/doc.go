// Package token mints and verifies the JWTs of a Mercure hub such as
// Herald: a token's mercure claim grants topic selectors to publish to
// ("publish") and to subscribe to ("subscribe").
//
// A [Key] is parsed from the same material a hub is given ([ParseKey]): an
// HMAC secret, or PEM text of a key. [Mint] signs a token with it,
// choosing the algorithm from the key (HS256 for a secret, RS256, ES256 to
// ES512 or EdDSA for a private key); [Verify] checks one as the hub does.
//
//	key, err := token.ParseKey(secret)
//	if err != nil {
//		return err
//	}
//	tok, err := token.Mint(key, token.Claims{
//		Publish: []string{"https://example.com/books/{id}"},
//		TTL:     time.Hour,
//	})
//
// A publisher sends the token in an "Authorization: Bearer" header (as
// [github.com/heraldhub/herald/client.Publisher] does); a subscriber in
// the header, the "authorization" query parameter or the
// mercureAuthorization cookie.
package token
