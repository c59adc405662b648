package auth

import (
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhub/herald/internal/selector"
)

// MintClaims describes a token to create.
type MintClaims struct {
	// Publish and Subscribe become mercure.publish and mercure.subscribe;
	// each string must be a valid topic selector.
	Publish, Subscribe []string
	// Payload becomes mercure.payload when not nil; it is marshalled with
	// encoding/json.
	Payload any
	// Subject becomes the "sub" claim when not empty.
	Subject string
	// TTL sets "exp" to TTL from now; zero means the token never expires.
	TTL time.Duration
	// ID becomes the "jti" claim when not empty: what revocation names.
	ID string
	// DBRead and DBWrite become the "db" claim's read and write path
	// grants on the state tree, when either is not empty.
	DBRead, DBWrite []string
}

// mintedClaims are the claims of a token made by Mint.
type mintedClaims struct {
	jwt.RegisteredClaims
	Mercure mintedMercure `json:"mercure"`
	DB      *dbClaim      `json:"db,omitempty"`
}

type mintedMercure struct {
	Publish   []string `json:"publish,omitempty"`
	Subscribe []string `json:"subscribe,omitempty"`
	Payload   any      `json:"payload,omitempty"`
}

// Mint creates a signed token, with "iat" set to now. It signs with HS256
// for a secret, RS256 for an RSA key, the ES* of the curve for an ECDSA key
// and EdDSA for an Ed25519 key; key must be able to sign (see
// [Key.CanSign]). Invalid selectors are refused, so that every token Mint
// returns verifies with the same key.
func Mint(key Key, c MintClaims) (string, error) {
	if !key.CanSign() {
		return "", errors.New("auth: the key cannot sign tokens (it is a public key)")
	}
	if c.TTL < 0 {
		return "", fmt.Errorf("auth: negative token lifetime %v", c.TTL)
	}
	for _, ss := range [][]string{c.Publish, c.Subscribe} {
		if _, err := selector.ParseSet(ss); err != nil {
			return "", fmt.Errorf("auth: %w", err)
		}
	}
	if raw, ok := c.Payload.(json.RawMessage); ok && !json.Valid(raw) {
		return "", errors.New("auth: payload is not valid JSON")
	}
	now := time.Now()
	claims := mintedClaims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: c.Subject, ID: c.ID, IssuedAt: jwt.NewNumericDate(now)},
		Mercure:          mintedMercure{Publish: c.Publish, Subscribe: c.Subscribe, Payload: c.Payload},
	}
	if len(c.DBRead) > 0 || len(c.DBWrite) > 0 {
		claims.DB = &dbClaim{Read: c.DBRead, Write: c.DBWrite}
	}
	if c.TTL > 0 {
		claims.ExpiresAt = jwt.NewNumericDate(now.Add(c.TTL))
	}
	token, err := jwt.NewWithClaims(key.signingMethod(), claims).SignedString(key.signKey())
	if err != nil {
		return "", fmt.Errorf("auth: signing token: %w", err)
	}
	return token, nil
}

// signingMethod is the algorithm Mint uses with k.
func (k Key) signingMethod() jwt.SigningMethod {
	switch k.kind {
	case kindRSA:
		return jwt.SigningMethodRS256
	case kindECDSA:
		return jwt.GetSigningMethod(ecdsaAlgorithm(k.public.(*ecdsa.PublicKey).Curve))
	case kindEd25519:
		return jwt.SigningMethodEdDSA
	}
	return jwt.SigningMethodHS256
}
