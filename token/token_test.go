package token_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/heraldhub/herald/token"
)

// pemKeys returns PEM text of a private key and of its public half.
func pemKeys(t *testing.T, private any, public any) (privPEM, pubPEM []byte) {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(private)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(public)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
}

func TestMintVerifyEveryKeyKind(t *testing.T) {
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edPrivPEM, edPubPEM := pemKeys(t, edPriv, edPub)
	ecPrivPEM, ecPubPEM := pemKeys(t, ecPriv, &ecPriv.PublicKey)

	for _, tc := range []struct {
		name             string
		signer, verifier []byte
	}{
		{"secret", []byte("s3cret"), []byte("s3cret")},
		{"Ed25519", edPrivPEM, edPubPEM},
		{"ECDSA P-256", ecPrivPEM, ecPubPEM},
	} {
		t.Run(tc.name, func(t *testing.T) {
			signer, err := token.ParseKey(tc.signer)
			if err != nil {
				t.Fatal(err)
			}
			verifier, err := token.ParseKey(tc.verifier)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := token.Mint(signer, token.Claims{
				Subject: "svc", Publish: []string{"a/{id}"}, Subscribe: []string{"*"}, TTL: time.Minute,
			})
			if err != nil {
				t.Fatal(err)
			}
			c, err := token.Verify(verifier, tok)
			if err != nil {
				t.Fatal(err)
			}
			if c.Subject != "svc" || !slices.Equal(c.Publish, []string{"a/{id}"}) || !slices.Equal(c.Subscribe, []string{"*"}) || c.Payload != nil {
				t.Errorf("verified claims %+v, want those minted", c)
			}
			if d := time.Until(c.ExpiresAt); d <= 0 || d > time.Minute {
				t.Errorf("expires in %v, want within the minute minted", d)
			}
		})
	}
}

func TestPublicKeyVerifiesButCannotSign(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, pubPEM := pemKeys(t, priv, pub)
	key, err := token.ParseKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if key.CanSign() {
		t.Error("a public key says it can sign")
	}
	if _, err := token.Mint(key, token.Claims{Publish: []string{"*"}}); err == nil {
		t.Error("Mint signed with a public key")
	}
}

func TestVerifyRefuses(t *testing.T) {
	key, err := token.ParseKey([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := token.ParseKey([]byte("other"))
	if err != nil {
		t.Fatal(err)
	}
	good, err := token.Mint(key, token.Claims{Publish: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	// A nanosecond's token has expired when it is verified: exp is in
	// whole seconds, rounded down.
	expired, err := token.Mint(key, token.Claims{Publish: []string{"*"}, TTL: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		key     token.Key
		tok     string
		expired bool
	}{
		{"another key", other, good, false},
		{"malformed", key, "not.a.jwt", false},
		{"the zero key", token.Key{}, good, false},
		{"expired", key, expired, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := token.Verify(tc.key, tc.tok)
			if !errors.Is(err, token.ErrInvalid) {
				t.Fatalf("Verify: %v, want an ErrInvalid", err)
			}
			if errors.Is(err, token.ErrExpired) != tc.expired {
				t.Errorf("Verify: %v; ErrExpired %v, want %v", err, !tc.expired, tc.expired)
			}
		})
	}
}

func TestParseKeyRefusesBrokenPEM(t *testing.T) {
	// Never a secret: a public key read as one would let anyone forge.
	if _, err := token.ParseKey([]byte("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")); err == nil {
		t.Error("broken PEM parsed as a key")
	}
	if _, err := token.ParseKey(nil); err == nil {
		t.Error("empty material parsed as a key")
	}
}
