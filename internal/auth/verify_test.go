package auth

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/heraldhub/herald/internal/selector"
)

const testSecret = "!ChangeThisMercureHubJWTSecretKey!"

// sign makes a token with any algorithm and claims, the way a third party
// would, with the JWT library directly.
func sign(t testing.TB, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	token, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatalf("signing with %s: %v", method.Alg(), err)
	}
	return token
}

// grants is a claim set with a mercure claim.
func grants(publish, subscribe []string) jwt.MapClaims {
	return jwt.MapClaims{"mercure": map[string]any{"publish": publish, "subscribe": subscribe}}
}

func TestVerifyAlgorithms(t *testing.T) {
	keys := testKeys()
	rsaPublic := mustKey(t, pkixPublic(&keys.rsa.PublicKey))
	tests := []struct {
		method jwt.SigningMethod
		sign   any
		verify Key
	}{
		{jwt.SigningMethodHS256, []byte(testSecret), mustKey(t, []byte(testSecret))},
		{jwt.SigningMethodHS384, []byte(testSecret), mustKey(t, []byte(testSecret))},
		{jwt.SigningMethodHS512, []byte(testSecret), mustKey(t, []byte(testSecret))},
		{jwt.SigningMethodRS256, keys.rsa, rsaPublic},
		{jwt.SigningMethodRS384, keys.rsa, rsaPublic},
		{jwt.SigningMethodRS512, keys.rsa, rsaPublic},
		{jwt.SigningMethodPS256, keys.rsa, rsaPublic},
		{jwt.SigningMethodPS384, keys.rsa, rsaPublic},
		{jwt.SigningMethodPS512, keys.rsa, rsaPublic},
		{jwt.SigningMethodRS256, keys.rsa, mustKey(t, pkcs8(keys.rsa))}, // a private key verifies too
		{jwt.SigningMethodES256, keys.p256, mustKey(t, pkixPublic(&keys.p256.PublicKey))},
		{jwt.SigningMethodES384, keys.p384, mustKey(t, pkixPublic(&keys.p384.PublicKey))},
		{jwt.SigningMethodES512, keys.p521, mustKey(t, pkixPublic(&keys.p521.PublicKey))},
		{jwt.SigningMethodES256, keys.p256, mustKey(t, certificate(keys.p256))},
		{jwt.SigningMethodEdDSA, keys.ed, mustKey(t, pkixPublic(keys.ed.Public()))},
	}
	for _, tt := range tests {
		t.Run(tt.method.Alg(), func(t *testing.T) {
			token := sign(t, tt.method, tt.sign, grants([]string{"https://example.com/{id}"}, nil))
			v := Verifier{Key: tt.verify}
			c, err := v.Verify(token)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !c.CanPublish([]string{"https://example.com/1"}) {
				t.Error("the verified claims lost the publish grant")
			}
		})
	}
}

func TestVerifyRefusesAlgorithmNotFittingTheKey(t *testing.T) {
	keys := testKeys()
	rsaPEM := pkixPublic(&keys.rsa.PublicKey)
	rsaKey := mustKey(t, rsaPEM)
	p256Key := mustKey(t, pkixPublic(&keys.p256.PublicKey))
	hmacKey := mustKey(t, []byte(testSecret))
	claims := grants([]string{"*"}, []string{"*"})
	tests := []struct {
		name  string
		token string
		key   Key
	}{
		// The classic confusion: HMAC keyed with the public key's PEM text.
		{"HS256 keyed with the RSA public key", sign(t, jwt.SigningMethodHS256, rsaPEM, claims), rsaKey},
		{"HS256 keyed with the EC public key", sign(t, jwt.SigningMethodHS256, pkixPublic(&keys.p256.PublicKey), claims), p256Key},
		{"RS256 for an HMAC key", sign(t, jwt.SigningMethodRS256, keys.rsa, claims), hmacKey},
		{"ES256 for an RSA key", sign(t, jwt.SigningMethodES256, keys.p256, claims), rsaKey},
		{"ES384 for a P-256 key", sign(t, jwt.SigningMethodES384, keys.p384, claims), p256Key},
		{"EdDSA for an RSA key", sign(t, jwt.SigningMethodEdDSA, keys.ed, claims), rsaKey},
		{"none for an HMAC key", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), hmacKey},
		{"none for an RSA key", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims), rsaKey},
		{"other secret", sign(t, jwt.SigningMethodHS256, []byte("another secret"), claims), hmacKey},
		{"other RSA key", sign(t, jwt.SigningMethodRS256, keys.otherRSA, claims), rsaKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verifier{Key: tt.key}
			c, err := v.Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) || c != nil {
				t.Fatalf("Verify = %v, %v; want ErrInvalidToken", c, err)
			}
			if got := Challenge(err); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("Challenge = %s", got)
			}
		})
	}
}

func TestVerifyTime(t *testing.T) {
	key := mustKey(t, []byte(testSecret))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *jwt.NumericDate { return jwt.NewNumericDate(now.Add(d)) }
	tests := []struct {
		name       string
		claims     jwt.RegisteredClaims
		leeway     time.Duration
		requireExp bool
		want       error // nil, ErrInvalidToken or ErrTokenExpired
		desc       string
	}{
		{name: "no exp", claims: jwt.RegisteredClaims{}},
		{name: "no exp, required", claims: jwt.RegisteredClaims{}, requireExp: true, want: ErrInvalidToken, desc: "no expiration time"},
		{name: "exp ahead", claims: jwt.RegisteredClaims{ExpiresAt: at(time.Minute)}, requireExp: true},
		{name: "expired", claims: jwt.RegisteredClaims{ExpiresAt: at(-time.Second)}, want: ErrTokenExpired, desc: "the token expired"},
		{name: "expired within leeway", claims: jwt.RegisteredClaims{ExpiresAt: at(-30 * time.Second)}, leeway: time.Minute},
		{name: "expired beyond leeway", claims: jwt.RegisteredClaims{ExpiresAt: at(-61 * time.Second)}, leeway: time.Minute, want: ErrTokenExpired, desc: "the token expired"},
		{name: "nbf passed", claims: jwt.RegisteredClaims{NotBefore: at(-time.Second)}},
		{name: "nbf ahead", claims: jwt.RegisteredClaims{NotBefore: at(time.Minute)}, want: ErrInvalidToken, desc: "not valid yet"},
		{name: "nbf within leeway", claims: jwt.RegisteredClaims{NotBefore: at(30 * time.Second)}, leeway: time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verifier{Key: key, Leeway: tt.leeway, RequireExp: tt.requireExp, Now: func() time.Time { return now }}
			c, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), tt.claims))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if want := tt.claims.ExpiresAt; want != nil && !c.ExpiresAt.Equal(want.Time) {
					t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt, want.Time)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error %v, want %v", err, tt.want)
			}
			if isExpired := errors.Is(err, ErrTokenExpired); isExpired != (tt.want == ErrTokenExpired) {
				t.Errorf("errors.Is(err, ErrTokenExpired) = %v", isExpired)
			}
			if got := Challenge(err); !strings.Contains(got, tt.desc) {
				t.Errorf("Challenge = %s, want it to say %q", got, tt.desc)
			}
		})
	}
}

// TestTokenExpiresOnTheClock mints a token and lets the (fake) clock run past
// its expiry, with a Verifier that reads the real time source.
func TestTokenExpiresOnTheClock(t *testing.T) {
	key := mustKey(t, []byte(testSecret))
	synctest.Test(t, func(t *testing.T) {
		token, err := Mint(key, MintClaims{Subscribe: []string{"*"}, TTL: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		v := Verifier{Key: key}
		c, err := v.Verify(token)
		if err != nil {
			t.Fatalf("fresh token: %v", err)
		}
		if want := time.Now().Add(time.Hour); !c.ExpiresAt.Equal(want) {
			t.Errorf("ExpiresAt = %v, want %v", c.ExpiresAt, want)
		}
		time.Sleep(time.Hour - time.Second)
		if _, err := v.Verify(token); err != nil {
			t.Fatalf("a second before expiry: %v", err)
		}
		time.Sleep(2 * time.Second)
		if _, err := v.Verify(token); !errors.Is(err, ErrTokenExpired) {
			t.Fatalf("after expiry: %v, want ErrTokenExpired", err)
		}
	})
}

func TestVerifyMalformed(t *testing.T) {
	key := mustKey(t, []byte(testSecret))
	valid := sign(t, jwt.SigningMethodHS256, []byte(testSecret), grants([]string{"a"}, nil))
	header, payload, _ := strings.Cut(valid, ".")
	payload, signature, _ := strings.Cut(payload, ".")
	enc := base64.RawURLEncoding.EncodeToString
	tamperedClaims := enc([]byte(`{"mercure":{"publish":["*"]}}`))
	tests := []struct{ name, token, desc string }{
		{"empty", "", "malformed"},
		{"one segment", "abc", "malformed"},
		{"two segments", header + "." + payload, "malformed"},
		{"four segments", valid + ".x", "malformed"},
		{"bad base64", header + ".!!!." + signature, "malformed"},
		{"claims not JSON", header + "." + enc([]byte("not json")) + "." + signature, "malformed"},
		{"claims not an object", header + "." + enc([]byte(`[1]`)) + "." + signature, "malformed"},
		{"header without alg", enc([]byte(`{"typ":"JWT"}`)) + "." + payload + "." + signature, "algorithm is missing or unknown"},
		{"unknown alg", enc([]byte(`{"alg":"XX999"}`)) + "." + payload + "." + signature, "algorithm is missing or unknown"},
		{"tampered claims", header + "." + tamperedClaims + "." + signature, "signature"},
		{"no signature", header + "." + payload + ".", "signature"},
		{"publish not a list", sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"mercure": map[string]any{"publish": "*"}}), "malformed"},
		{"selector not a string", sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"mercure": map[string]any{"subscribe": []any{1}}}), "malformed"},
		{"mercure not an object", sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"mercure": true}), "malformed"},
		{"exp not a number", sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"exp": "tomorrow"}), "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Verifier{Key: key}
			_, err := v.Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify error %v, want ErrInvalidToken", err)
			}
			if got := Challenge(err); !strings.Contains(got, tt.desc) {
				t.Errorf("Challenge = %s, want it to say %q", got, tt.desc)
			}
		})
	}
}

func TestVerifyClaims(t *testing.T) {
	key := mustKey(t, []byte(testSecret))
	v := Verifier{Key: key}
	verify := func(t *testing.T, claims jwt.MapClaims) (*Claims, error) {
		t.Helper()
		return v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims))
	}

	t.Run("full", func(t *testing.T) {
		c, err := verify(t, jwt.MapClaims{
			"sub": "kevin",
			"mercure": map[string]any{
				"publish":   []string{"https://example.com/books/{id}"},
				"subscribe": []string{"https://example.com/users/kevin/{?topic}", "urn:a"},
				"payload":   map[string]any{"user": "kevin", "groups": []int{1, 2}},
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		if c.Subject != "kevin" || !c.ExpiresAt.IsZero() {
			t.Errorf("Subject %q ExpiresAt %v", c.Subject, c.ExpiresAt)
		}
		if strings.Join(c.Publish.Strings(), " ") != "https://example.com/books/{id}" ||
			strings.Join(c.Subscribe.Strings(), " ") != "https://example.com/users/kevin/{?topic} urn:a" {
			t.Errorf("raw selectors %q %q", c.Publish.Strings(), c.Subscribe.Strings())
		}
		if len(c.Publish) != 1 || len(c.Subscribe) != 2 {
			t.Errorf("parsed selectors %v %v", c.Publish, c.Subscribe)
		}
		var payload map[string]any
		if err := json.Unmarshal(c.Payload, &payload); err != nil || payload["user"] != "kevin" {
			t.Errorf("Payload %s (%v)", c.Payload, err)
		}
	})

	t.Run("no mercure claim", func(t *testing.T) {
		c, err := verify(t, jwt.MapClaims{"sub": "x"})
		if err != nil {
			t.Fatal(err)
		}
		if c.Publish != nil || c.Subscribe != nil || c.Payload != nil {
			t.Errorf("claims %+v, want no grants", c)
		}
		if c.CanPublish([]string{"a"}) || c.CanSubscribe("a") || c.Subscribe.MatchAny([]string{"a"}) {
			t.Error("a token without mercure claim grants something")
		}
	})

	t.Run("null payload", func(t *testing.T) {
		c, err := verify(t, jwt.MapClaims{"mercure": map[string]any{"payload": nil, "publish": nil}})
		if err != nil {
			t.Fatal(err)
		}
		if c.Payload != nil || c.Publish != nil {
			t.Errorf("Payload %q Publish %v, want nil", c.Payload, c.Publish)
		}
	})

	t.Run("namespaced claim wins", func(t *testing.T) {
		c, err := verify(t, jwt.MapClaims{
			"mercure":                map[string]any{"publish": []string{"urn:plain"}},
			"https://mercure.rocks/": map[string]any{"publish": []string{"urn:namespaced"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if !c.CanPublish([]string{"urn:namespaced"}) || c.CanPublish([]string{"urn:plain"}) {
			t.Errorf("publish grants %q, want the namespaced claim's", c.Publish.Strings())
		}
	})

	for _, field := range []string{"publish", "subscribe"} {
		t.Run("invalid "+field+" selector", func(t *testing.T) {
			_, err := verify(t, jwt.MapClaims{"mercure": map[string]any{field: []string{"ok", "https://example.com/{id"}}})
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, selector.ErrInvalid) {
				t.Fatalf("Verify error %v, want ErrInvalidToken wrapping selector.ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), `"https://example.com/{id"`) {
				t.Errorf("error %q does not name the selector", err)
			}
			if got := Challenge(err); !strings.Contains(got, "invalid "+field+" selector") {
				t.Errorf("Challenge = %s", got)
			}
		})
	}

	t.Run("zero verifier", func(t *testing.T) {
		var zero Verifier
		_, err := zero.Verify(sign(t, jwt.SigningMethodHS256, []byte(""), jwt.MapClaims{}))
		if err == nil || errors.Is(err, ErrInvalidToken) {
			t.Errorf("Verify with no key = %v, want a configuration error", err)
		}
	})
}

func TestClaimsPermissions(t *testing.T) {
	parse := func(ss ...string) selector.Set {
		set, err := selector.ParseSet(ss)
		if err != nil {
			t.Fatal(err)
		}
		return set
	}
	c := &Claims{
		Publish:   parse("https://example.com/books/{id}", "urn:news"),
		Subscribe: parse("https://example.com/users/kevin/{?topic}", "https://example.com/books/{id}"),
	}
	all := &Claims{Publish: parse("*"), Subscribe: parse("*")}
	var anonymous *Claims

	publish := []struct {
		claims *Claims
		topics []string
		want   bool
	}{
		{c, []string{"https://example.com/books/1"}, true},
		{c, []string{"https://example.com/books/1", "urn:news"}, true},
		// Every topic must be allowed: an alternate cannot smuggle the update.
		{c, []string{"https://example.com/books/1", "urn:sports"}, false},
		{c, []string{"urn:sports", "https://example.com/books/1"}, false},
		{c, []string{"https://example.com/books/1/reviews"}, false},
		{c, nil, false},
		{all, []string{"anything", "at all"}, true},
		{&Claims{}, []string{"a"}, false},
		{anonymous, []string{"a"}, false},
	}
	for _, tt := range publish {
		if got := tt.claims.CanPublish(tt.topics); got != tt.want {
			t.Errorf("%v CanPublish(%q) = %v, want %v", tt.claims, tt.topics, got, tt.want)
		}
	}

	if !c.CanSubscribe("https://example.com/books/{id}") || !c.CanSubscribe("https://example.com/books/2") {
		t.Error("CanSubscribe refuses a granted selector or topic")
	}
	if c.CanSubscribe("https://example.com/{+any}") || anonymous.CanSubscribe("x") {
		t.Error("CanSubscribe grants too much")
	}
}
