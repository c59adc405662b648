package auth

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// tokenHeader decodes the JOSE header of a compact token.
func tokenHeader(t *testing.T, token string) map[string]any {
	t.Helper()
	seg, _, _ := strings.Cut(token, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]any
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestMintRoundTrip(t *testing.T) {
	keys := testKeys()
	tests := []struct {
		name     string
		material []byte
		alg      string
	}{
		{"secret", []byte(testSecret), "HS256"},
		{"RSA", pkcs8(keys.rsa), "RS256"},
		{"P-256", pkcs8(keys.p256), "ES256"},
		{"P-384", pkcs8(keys.p384), "ES384"},
		{"P-521", pkcs8(keys.p521), "ES512"},
		{"Ed25519", pkcs8(keys.ed), "EdDSA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := mustKey(t, tt.material)
			token, err := Mint(key, MintClaims{
				Publish:   []string{"https://example.com/books/{id}"},
				Subscribe: []string{"*"},
				Payload:   map[string]string{"user": "kevin"},
				Subject:   "kevin",
				TTL:       time.Hour,
			})
			if err != nil {
				t.Fatal(err)
			}
			if alg := tokenHeader(t, token)["alg"]; alg != tt.alg {
				t.Errorf("alg %v, want %s", alg, tt.alg)
			}
			c, err := (&Verifier{Key: key}).Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != "kevin" || string(c.Payload) != `{"user":"kevin"}` ||
				!c.CanPublish([]string{"https://example.com/books/7"}) || !c.CanSubscribe("x") {
				t.Errorf("claims %+v", c)
			}
			if d := time.Until(c.ExpiresAt); d <= 59*time.Minute || d > time.Hour {
				t.Errorf("expires in %v, want an hour", d)
			}
		})
	}
}

func TestMintVerifiesWithThePublicKey(t *testing.T) {
	keys := testKeys()
	token, err := Mint(mustKey(t, pkcs8(keys.p256)), MintClaims{Subscribe: []string{"urn:a"}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := (&Verifier{Key: mustKey(t, pkixPublic(&keys.p256.PublicKey)), RequireExp: false}).Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	if !c.ExpiresAt.IsZero() || c.Publish != nil || !c.CanSubscribe("urn:a") {
		t.Errorf("claims %+v, want a subscribe-only token without expiry", c)
	}
}

func TestMintErrors(t *testing.T) {
	secret := mustKey(t, []byte(testSecret))
	tests := []struct {
		name   string
		key    Key
		claims MintClaims
		why    string
	}{
		{"public key", mustKey(t, pkixPublic(&testKeys().rsa.PublicKey)), MintClaims{}, "cannot sign"},
		{"zero key", Key{}, MintClaims{}, "cannot sign"},
		{"bad publish selector", secret, MintClaims{Publish: []string{"{"}}, "invalid topic selector"},
		{"bad subscribe selector", secret, MintClaims{Subscribe: []string{"ok", "a}"}}, "invalid topic selector"},
		{"negative TTL", secret, MintClaims{TTL: -time.Second}, "negative"},
		{"invalid raw payload", secret, MintClaims{Payload: json.RawMessage("{")}, "not valid JSON"},
		{"unmarshalable payload", secret, MintClaims{Payload: func() {}}, "signing token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, err := Mint(tt.key, tt.claims)
			if err == nil || !strings.Contains(err.Error(), tt.why) {
				t.Fatalf("Mint = %q, %v; want an error saying %q", token, err, tt.why)
			}
		})
	}
}

// TestMintDBClaims: the state tree's grants and the token's ID survive a
// round trip, and Map shows every claim for access rules.
func TestMintDBClaims(t *testing.T) {
	key, err := ParseKey([]byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	token, err := Mint(key, MintClaims{Subject: "alice", ID: "t-1", DBRead: []string{"/users/alice"}, DBWrite: []string{"/users/alice/inbox"}})
	if err != nil {
		t.Fatal(err)
	}
	v := Verifier{Key: key}
	c, err := v.Verify(token)
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != "t-1" || strings.Join(c.DBRead, ",") != "/users/alice" || strings.Join(c.DBWrite, ",") != "/users/alice/inbox" {
		t.Fatalf("claims: ID %q, DBRead %v, DBWrite %v", c.ID, c.DBRead, c.DBWrite)
	}
	m := c.Map()
	if m["sub"] != "alice" || m["jti"] != "t-1" || m["db"] == nil {
		t.Fatalf("Map() = %v", m)
	}
}
