package auth

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testKeys are generated once per test binary: RSA generation is slow.
var testKeys = sync.OnceValue(func() struct {
	rsa, otherRSA    *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
} {
	var k struct {
		rsa, otherRSA    *rsa.PrivateKey
		p256, p384, p521 *ecdsa.PrivateKey
		ed               ed25519.PrivateKey
	}
	var err error
	for _, dst := range []**rsa.PrivateKey{&k.rsa, &k.otherRSA} {
		if *dst, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	}
	for _, c := range []struct {
		dst   **ecdsa.PrivateKey
		curve elliptic.Curve
	}{{&k.p256, elliptic.P256()}, {&k.p384, elliptic.P384()}, {&k.p521, elliptic.P521()}} {
		if *c.dst, err = ecdsa.GenerateKey(c.curve, rand.Reader); err != nil {
			panic(err)
		}
	}
	if _, k.ed, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func pkcs8(k any) []byte      { return pemBlock("PRIVATE KEY", must(x509.MarshalPKCS8PrivateKey(k))) }
func pkixPublic(k any) []byte { return pemBlock("PUBLIC KEY", must(x509.MarshalPKIXPublicKey(k))) }

// certificate returns a self-signed PEM certificate of k.
func certificate(k *ecdsa.PrivateKey) []byte {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	return pemBlock("CERTIFICATE", must(x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)))
}

func mustKey(t testing.TB, material []byte) Key {
	t.Helper()
	k, err := ParseKey(material)
	if err != nil {
		t.Fatalf("ParseKey(%.40q): %v", material, err)
	}
	return k
}

func TestParseKeyForms(t *testing.T) {
	keys := testKeys()
	sec1 := pemBlock("EC PRIVATE KEY", must(x509.MarshalECPrivateKey(keys.p256)))
	ecParams := pemBlock("EC PARAMETERS", []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07})
	tests := []struct {
		name     string
		material []byte
		kind     keyKind
		canSign  bool
		algs     string
	}{
		{"secret", []byte("!ChangeThisMercureHubJWTSecretKey!"), kindHMAC, true, "HS256 HS384 HS512"},
		{"RSA PKCS1 private", pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(keys.rsa)), kindRSA, true, "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"RSA PKCS8 private", pkcs8(keys.rsa), kindRSA, true, "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"RSA PKIX public", pkixPublic(&keys.rsa.PublicKey), kindRSA, false, "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"RSA PKCS1 public", pemBlock("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&keys.rsa.PublicKey)), kindRSA, false, "RS256 RS384 RS512 PS256 PS384 PS512"},
		{"EC SEC1 private", sec1, kindECDSA, true, "ES256"},
		{"EC SEC1 private after EC PARAMETERS", append(ecParams, sec1...), kindECDSA, true, "ES256"},
		{"EC PKCS8 private P-384", pkcs8(keys.p384), kindECDSA, true, "ES384"},
		{"EC PKIX public P-521", pkixPublic(&keys.p521.PublicKey), kindECDSA, false, "ES512"},
		{"EC certificate", certificate(keys.p256), kindECDSA, false, "ES256"},
		{"Ed25519 PKCS8 private", pkcs8(keys.ed), kindEd25519, true, "EdDSA"},
		{"Ed25519 PKIX public", pkixPublic(keys.ed.Public()), kindEd25519, false, "EdDSA"},
		{"PEM with surrounding text", append([]byte("# key for herald\n"), pkixPublic(&keys.rsa.PublicKey)...), kindRSA, false, "RS256 RS384 RS512 PS256 PS384 PS512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := mustKey(t, tt.material)
			if k.kind != tt.kind || k.CanSign() != tt.canSign {
				t.Errorf("kind %d CanSign %v, want %d %v", k.kind, k.CanSign(), tt.kind, tt.canSign)
			}
			if got := strings.Join(k.algorithms(), " "); got != tt.algs {
				t.Errorf("algorithms %q, want %q", got, tt.algs)
			}
		})
	}
}

func TestParseKeyCopiesSecret(t *testing.T) {
	buf := []byte("secret")
	k := mustKey(t, buf)
	copy(buf, "XXXXXX")
	if string(k.secret) != "secret" {
		t.Errorf("the key changed with the caller's buffer: %q", k.secret)
	}
}

func TestParseKeyErrors(t *testing.T) {
	p224 := must(ecdsa.GenerateKey(elliptic.P224(), rand.Reader))
	rsa1024 := must(rsa.GenerateKey(rand.Reader, 1024))
	x25519 := must(ecdh.X25519().GenerateKey(rand.Reader))
	encrypted := pem.EncodeToMemory(&pem.Block{
		Type:    "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00112233445566778899AABBCCDDEEFF"},
		Bytes:   []byte("ciphertext"),
	})
	tests := []struct {
		name     string
		material []byte
		why      string
	}{
		{"empty", nil, "empty key"},
		{"truncated PEM", []byte("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"), "no key found"},
		{"PEM with bad base64", []byte("-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----\n"), "no key found"},
		{"PEM with bad DER", pemBlock("PUBLIC KEY", []byte("not DER")), "parsing PEM"},
		{"unknown PEM block", pemBlock("OPENSSH PRIVATE KEY", []byte("x")), "unsupported PEM block"},
		{"encrypted legacy PEM", encrypted, "encrypted"},
		{"encrypted PKCS8", pemBlock("ENCRYPTED PRIVATE KEY", []byte("x")), "encrypted"},
		{"P-224", pkixPublic(&p224.PublicKey), "unsupported ECDSA curve"},
		{"P-224 private", pkcs8(p224), "unsupported ECDSA curve"},
		{"small RSA public", pkixPublic(&rsa1024.PublicKey), "RSA key of 1024 bits"},
		{"small RSA private", pkcs8(rsa1024), "RSA key of 1024 bits"},
		{"X25519", pkixPublic(x25519.PublicKey()), "unsupported key type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := ParseKey(tt.material)
			if err == nil {
				t.Fatalf("ParseKey succeeded with a key of kind %d", k.kind)
			}
			if !strings.Contains(err.Error(), tt.why) {
				t.Errorf("error %q, want it to say %q", err, tt.why)
			}
		})
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	public := pkixPublic(&testKeys().p256.PublicKey)
	secretFile := write("secret", []byte("s3cret\r\n\n"))
	pemFile := write("key.pem", public)
	brokenPEMFile := write("broken.pem", []byte("-----BEGIN PUBLIC KEY-----\n"))

	t.Run("literal secret", func(t *testing.T) {
		k := must(LoadKey("s3cret\n"))
		if k.kind != kindHMAC || string(k.secret) != "s3cret\n" {
			t.Errorf("got kind %d secret %q, want the literal bytes", k.kind, k.secret)
		}
	})
	t.Run("literal PEM", func(t *testing.T) {
		if k := must(LoadKey(string(public))); k.kind != kindECDSA {
			t.Errorf("kind %d, want ECDSA", k.kind)
		}
	})
	t.Run("secret file", func(t *testing.T) {
		k := must(LoadKey(FilePrefix + secretFile))
		if k.kind != kindHMAC || string(k.secret) != "s3cret" {
			t.Errorf("got kind %d secret %q, want the file's secret without the line ending", k.kind, k.secret)
		}
	})
	t.Run("PEM file", func(t *testing.T) {
		if k := must(LoadKey(FilePrefix + pemFile)); k.kind != kindECDSA || k.CanSign() {
			t.Errorf("kind %d CanSign %v, want a verifying ECDSA key", k.kind, k.CanSign())
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := LoadKey(FilePrefix + filepath.Join(dir, "nope"))
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("error %v, want a missing-file error", err)
		}
	})
	t.Run("broken PEM file", func(t *testing.T) {
		_, err := LoadKey(FilePrefix + brokenPEMFile)
		if err == nil || !strings.Contains(err.Error(), brokenPEMFile) {
			t.Errorf("error %v, want a parse error naming the file", err)
		}
	})
	t.Run("path without prefix is a secret", func(t *testing.T) {
		k := must(LoadKey(pemFile))
		if k.kind != kindHMAC || !bytes.Equal(k.secret, []byte(pemFile)) {
			t.Errorf("got kind %d, want the path itself as a secret", k.kind)
		}
	})
	t.Run("empty", func(t *testing.T) {
		if _, err := LoadKey(""); err == nil {
			t.Error("LoadKey(\"\") succeeded")
		}
	})
}
