package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhub/herald/internal/selector"
)

// Claims is what a verified token grants.
//
// A nil *Claims stands for an anonymous client: it may publish nothing and
// receive public updates only.
type Claims struct {
	// Publish holds the selectors of mercure.publish, Subscribe those of
	// mercure.subscribe; their Strings method gives them back as written in
	// the token.
	Publish   selector.Set
	Subscribe selector.Set
	// Payload is mercure.payload, nil when absent or null. Mercure shares it
	// with other subscribers through subscription events.
	Payload json.RawMessage
	// Subject is the "sub" claim.
	Subject string
	// ExpiresAt is the "exp" claim; zero when the token does not expire.
	// Subscriptions end at that time.
	ExpiresAt time.Time
	// ID is the "jti" claim, by which the token can be revoked.
	ID string
	// DBRead and DBWrite are the state tree's path grants of the "db"
	// claim ({"read": [...], "write": [...]}), as written in the token.
	DBRead, DBWrite []string

	// payload is the token's claims as JSON, for Map.
	payload []byte
}

// Map returns every claim of the token, decoded anew on each call (access
// rules read them: "auth.token.admin"). It is nil for claims that did not
// come from a token.
func (c *Claims) Map() map[string]any {
	if c == nil || c.payload == nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(c.payload, &m) != nil {
		return nil
	}
	return m
}

// CanPublish reports whether the claims allow publishing an update with
// these topics (the canonical topic, then alternates). Following Mercure,
// every topic must match at least one selector of mercure.publish, so that an
// alternate topic cannot smuggle an update into a topic the publisher does
// not own. A publish claim that is absent or empty grants nothing.
func (c *Claims) CanPublish(topics []string) bool {
	if c == nil || len(topics) == 0 {
		return false
	}
	for _, t := range topics {
		if !c.Publish.Match(t) {
			return false
		}
	}
	return true
}

// CanSubscribe reports whether a selector of mercure.subscribe matches
// topic. Mercure asks it of the URL of a subscriptions API request; since a
// selector matches its own text, topic may also be another selector.
func (c *Claims) CanSubscribe(topic string) bool {
	return c != nil && c.Subscribe.Match(topic)
}

// Verifier checks tokens. Its zero value needs only a Key.
type Verifier struct {
	// Key verifies signatures, and decides which algorithms are accepted.
	Key Key
	// Leeway is the clock skew tolerated when checking "exp" and "nbf".
	Leeway time.Duration
	// RequireExp refuses tokens without an "exp" claim, which Mercure
	// otherwise accepts.
	RequireExp bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// mercureClaim is the "mercure" claim of a token.
type mercureClaim struct {
	Publish   []string        `json:"publish"`
	Subscribe []string        `json:"subscribe"`
	Payload   json.RawMessage `json:"payload"`
}

// tokenClaims are the claims of a token that Herald reads.
type tokenClaims struct {
	jwt.RegisteredClaims
	Mercure *mercureClaim `json:"mercure"`
	// Namespaced is the claim under the namespaced name Mercure also reads;
	// as in Mercure, it wins over "mercure".
	Namespaced *mercureClaim `json:"https://mercure.rocks/"`
	DB         *dbClaim      `json:"db"`
}

// dbClaim is the "db" claim: the state tree's path grants.
type dbClaim struct {
	Read  []string `json:"read,omitempty"`
	Write []string `json:"write,omitempty"`
}

// Verify checks token (the compact JWS, without "Bearer ") and returns its
// claims. Every error wraps [ErrInvalidToken]; an expired token gives an
// error that also wraps [ErrTokenExpired]. A token without a mercure claim
// is valid and grants nothing.
func (v *Verifier) Verify(token string) (*Claims, error) {
	if v.Key.kind == kindNone {
		return nil, errors.New("auth: Verifier has no key")
	}
	now := v.Now
	if now == nil {
		now = time.Now
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.Key.algorithms()),
		jwt.WithLeeway(v.Leeway),
		jwt.WithTimeFunc(now),
	}
	if v.RequireExp {
		opts = append(opts, jwt.WithExpirationRequired())
	}
	var tc tokenClaims
	_, err := jwt.NewParser(opts...).ParseWithClaims(token, &tc, func(*jwt.Token) (any, error) {
		return v.Key.verifyKey(), nil
	})
	if err != nil {
		return nil, tokenError(err)
	}

	c := &Claims{Subject: tc.Subject, ID: tc.ID, payload: payloadOf(token)}
	if tc.ExpiresAt != nil {
		c.ExpiresAt = tc.ExpiresAt.Time
	}
	if tc.DB != nil {
		c.DBRead, c.DBWrite = tc.DB.Read, tc.DB.Write
	}
	mc := tc.Mercure
	if tc.Namespaced != nil {
		mc = tc.Namespaced
	}
	if mc == nil {
		return c, nil
	}
	if c.Publish, err = selector.ParseSet(mc.Publish); err != nil {
		return nil, &authError{kind: ErrInvalidToken, desc: "the token grants an invalid publish selector", cause: err}
	}
	if c.Subscribe, err = selector.ParseSet(mc.Subscribe); err != nil {
		return nil, &authError{kind: ErrInvalidToken, desc: "the token grants an invalid subscribe selector", cause: err}
	}
	if !bytes.Equal(mc.Payload, []byte("null")) {
		c.Payload = mc.Payload
	}
	return c, nil
}

// payloadOf returns the claims JSON of a verified compact JWS.
func payloadOf(token string) []byte {
	_, rest, _ := strings.Cut(token, ".")
	seg, _, _ := strings.Cut(rest, ".")
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil
	}
	return b
}

// tokenError classifies an error of the JWT library.
func tokenError(err error) error {
	kind, desc := ErrInvalidToken, "the token is invalid"
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		kind, desc = ErrTokenExpired, "the token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		desc = "the token is not valid yet"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		desc = "the token has no expiration time"
	case errors.Is(err, jwt.ErrTokenMalformed):
		desc = "the token is malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		desc = "the token's algorithm is missing or unknown"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		// Also the error for an algorithm that does not fit the key.
		desc = "the token's signature or algorithm is not accepted"
	}
	return &authError{kind: kind, desc: desc, cause: err}
}
