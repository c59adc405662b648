package token

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

var (
	// ErrInvalid reports a token [Verify] refuses: malformed, badly
	// signed, signed with an algorithm that does not fit the key, expired,
	// not valid yet, or granting a malformed topic selector.
	ErrInvalid = auth.ErrInvalidToken
	// ErrExpired reports an expired token; it is also an [ErrInvalid].
	ErrExpired = auth.ErrTokenExpired
)

// Key signs and verifies tokens: an HMAC secret, or an RSA, ECDSA or
// Ed25519 key. A key parsed from a private key signs, and verifies with
// its public half; one parsed from a public key or a certificate only
// verifies. The zero Key does neither.
type Key struct{ k auth.Key }

// ParseKey parses key material: PEM text is a key — a public key
// ("PUBLIC KEY", "RSA PUBLIC KEY"), a "CERTIFICATE", or an unencrypted
// private key ("PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY") —, and
// anything else an HMAC secret, byte for byte. Material with a PEM header
// but no usable key is an error, never a secret. RSA keys must have at
// least 2048 bits.
func ParseKey(material []byte) (Key, error) {
	k, err := auth.ParseKey(material)
	if err != nil {
		return Key{}, err
	}
	return Key{k}, nil
}

// CanSign reports whether k can mint tokens: it is a secret or a private
// key.
func (k Key) CanSign() bool { return k.k.CanSign() }

// Claims are what a token grants.
type Claims struct {
	// Subject is the "sub" claim: who holds the token. Herald limits the
	// streams of one subject and shows it in subscription events.
	Subject string
	// Publish and Subscribe are the topic selectors of mercure.publish and
	// mercure.subscribe: topics, URI templates, or "*" for every topic.
	Publish, Subscribe []string
	// Payload is mercure.payload, shared with other subscribers through
	// subscription events. Mint marshals it with encoding/json; Verify
	// sets it to the claim's JSON (a json.RawMessage), or nil.
	Payload any
	// TTL is how long a minted token is valid; zero mints one that never
	// expires. Verify leaves it zero: see ExpiresAt.
	TTL time.Duration
	// ExpiresAt is when a verified token expires ("exp"), zero if never.
	// Mint ignores it: see TTL.
	ExpiresAt time.Time
}

// Mint returns a token signed with key, issued now, granting c. key must
// be able to sign ([Key.CanSign]); every selector must be valid, so that
// the token verifies.
func Mint(key Key, c Claims) (string, error) {
	return auth.Mint(key.k, auth.MintClaims{
		Publish: c.Publish, Subscribe: c.Subscribe, Payload: c.Payload, Subject: c.Subject, TTL: c.TTL,
	})
}

// Verify checks tok (the compact JWT, without "Bearer ") as a Herald hub
// with key does, and returns what it grants. Every error wraps
// [ErrInvalid]; that of an expired token also [ErrExpired].
func Verify(key Key, tok string) (Claims, error) {
	v := auth.Verifier{Key: key.k}
	ac, err := v.Verify(tok)
	if err != nil {
		if !errors.Is(err, ErrInvalid) {
			err = fmt.Errorf("%w: %w", ErrInvalid, err) // the zero Key's
		}
		return Claims{}, err
	}
	c := Claims{
		Subject:   ac.Subject,
		Publish:   ac.Publish.Strings(),
		Subscribe: ac.Subscribe.Strings(),
		ExpiresAt: ac.ExpiresAt,
	}
	if ac.Payload != nil {
		c.Payload = json.RawMessage(ac.Payload)
	}
	return c, nil
}
