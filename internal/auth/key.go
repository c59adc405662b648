package auth

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

type keyKind uint8

const (
	kindNone keyKind = iota
	kindHMAC
	kindRSA
	kindECDSA
	kindEd25519
)

// Key is the key tokens are verified, and possibly signed, with: an HMAC
// secret, or an RSA, ECDSA or Ed25519 key. A key parsed from a private key
// verifies with its public half and signs with the private key; a key
// parsed from a public key or a certificate only verifies.
//
// The zero Key verifies nothing. Create one with [ParseKey] or [LoadKey].
type Key struct {
	kind    keyKind
	secret  []byte           // HMAC
	public  crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	private crypto.Signer    // nil unless parsed from a private key
}

// ParseKey parses key material. PEM text is parsed as a key: a public key
// (PKIX "PUBLIC KEY", PKCS #1 "RSA PUBLIC KEY"), an X.509 "CERTIFICATE", or
// a private key (PKCS #8 "PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY", SEC 1 "EC
// PRIVATE KEY"); encrypted private keys are refused. Anything else is an HMAC
// secret, taken byte for byte.
//
// Material that holds a PEM header but no usable key is an error, never a
// secret: treating a broken public key as an HMAC secret would let anyone
// who has the public key forge tokens.
func ParseKey(material []byte) (Key, error) {
	if bytes.Contains(material, []byte("-----BEGIN")) {
		return parsePEM(material)
	}
	if len(material) == 0 {
		return Key{}, errors.New("auth: empty key")
	}
	return Key{kind: kindHMAC, secret: bytes.Clone(material)}, nil
}

// FilePrefix marks a [LoadKey] argument that names a file.
const FilePrefix = "file:"

// LoadKey returns the key a command-line flag or an environment variable
// designates, which is one of:
//
//   - "file:" followed by a path: the key is read from that file, with
//     [ParseKey]. For a secret (a file that is not PEM), trailing CR and LF
//     are dropped, since editors and `echo` add them;
//   - PEM text: a key, as for [ParseKey];
//   - anything else: an HMAC secret, byte for byte.
//
// The file form is explicit so that a mistyped path is an error rather than a
// secret equal to the path.
func LoadKey(s string) (Key, error) {
	path, isFile := strings.CutPrefix(s, FilePrefix)
	if !isFile {
		return ParseKey([]byte(s))
	}
	material, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("auth: reading key: %w", err)
	}
	if !bytes.Contains(material, []byte("-----BEGIN")) {
		material = bytes.TrimRight(material, "\r\n")
	}
	key, err := ParseKey(material)
	if err != nil {
		return Key{}, fmt.Errorf("%w (in %s)", err, path)
	}
	return key, nil
}

func parsePEM(material []byte) (Key, error) {
	for rest := material; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return Key{}, errors.New("auth: no key found in PEM data")
		}
		if _, encrypted := block.Headers["DEK-Info"]; encrypted {
			return Key{}, errors.New("auth: encrypted PEM keys are not supported")
		}
		var parsed any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue // written before the key by `openssl ecparam -genkey`
		case "PUBLIC KEY":
			parsed, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			parsed, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				parsed = cert.PublicKey
			}
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			parsed, err = x509.ParseECPrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return Key{}, errors.New("auth: encrypted PEM keys are not supported")
		default:
			return Key{}, fmt.Errorf("auth: unsupported PEM block %q", block.Type)
		}
		if err != nil {
			return Key{}, fmt.Errorf("auth: parsing PEM %q: %w", block.Type, err)
		}
		return keyFrom(parsed)
	}
}

// minRSABits is the smallest RSA key RFC 7518 section 3.3 allows for JWS.
const minRSABits = 2048

// keyFrom wraps a key parsed by crypto/x509. A private key is checked as
// its public half is.
func keyFrom(k any) (Key, error) {
	var private crypto.Signer
	switch p := k.(type) {
	case *rsa.PrivateKey:
		private, k = p, &p.PublicKey
	case *ecdsa.PrivateKey:
		private, k = p, &p.PublicKey
	case ed25519.PrivateKey:
		private, k = p, p.Public()
	}
	key := Key{public: k, private: private}
	switch k := k.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < minRSABits {
			return Key{}, fmt.Errorf("auth: RSA key of %d bits, JWS requires at least %d", k.N.BitLen(), minRSABits)
		}
		key.kind = kindRSA
	case *ecdsa.PublicKey:
		if ecdsaAlgorithm(k.Curve) == "" {
			return Key{}, fmt.Errorf("auth: unsupported ECDSA curve %s", k.Curve.Params().Name)
		}
		key.kind = kindECDSA
	case ed25519.PublicKey:
		key.kind = kindEd25519
	default:
		return Key{}, fmt.Errorf("auth: unsupported key type %T", k)
	}
	return key, nil
}

// ecdsaAlgorithm is the JWS algorithm of an ECDSA curve (RFC 7518 3.4), or ""
// for a curve JWS does not use.
func ecdsaAlgorithm(c elliptic.Curve) string {
	switch c {
	case elliptic.P256():
		return "ES256"
	case elliptic.P384():
		return "ES384"
	case elliptic.P521():
		return "ES512"
	}
	return ""
}

// CanSign reports whether k can sign tokens: it is a secret or a private key.
func (k Key) CanSign() bool { return k.kind == kindHMAC || k.private != nil }

// algorithms lists the JWS algorithms a token verified with k may use.
func (k Key) algorithms() []string {
	switch k.kind {
	case kindHMAC:
		return []string{"HS256", "HS384", "HS512"}
	case kindRSA:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case kindECDSA:
		return []string{ecdsaAlgorithm(k.public.(*ecdsa.PublicKey).Curve)}
	case kindEd25519:
		return []string{"EdDSA"}
	}
	return nil
}

// verifyKey is the key the JWT library checks signatures with.
func (k Key) verifyKey() any {
	if k.kind == kindHMAC {
		return k.secret
	}
	return k.public
}

// signKey is the key the JWT library signs with, for a k that can sign.
func (k Key) signKey() any {
	if k.kind == kindHMAC {
		return k.secret
	}
	return k.private
}
