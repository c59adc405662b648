package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// serveKeys are the keys `herald serve` verifies tokens with.
type serveKeys struct {
	publisher, subscriber auth.Key
	// generated is set when the publisher key was generated (or loaded
	// from an earlier generation) because none was configured;
	// generatedPath is the file it is kept in, empty for a key of this run
	// only (--journal memory writes nothing).
	generated     bool
	generatedPath string
	// subscriberSeparate is set when subscribers have a key of their own.
	subscriberSeparate bool
}

// welcomeTokenTTL is the lifetime of the token printed at start.
const welcomeTokenTTL = 30 * 24 * time.Hour

func loadServeKeys(c *serveConfig) (*serveKeys, error) {
	k := &serveKeys{}
	var err error
	if c.publisherKey != "" {
		if k.publisher, err = auth.LoadKey(c.publisherKey); err != nil {
			return nil, fmt.Errorf("--publisher-key: %w", err)
		}
	} else if c.journal == "memory" {
		// Nothing of a memory hub outlives it, its key neither.
		k.generated = true
		raw := make([]byte, 32)
		_, _ = rand.Read(raw) // never fails (crypto/rand since Go 1.24)
		if k.publisher, err = auth.ParseKey([]byte(hex.EncodeToString(raw))); err != nil {
			return nil, err
		}
	} else {
		k.generated, k.generatedPath = true, keyFile(c.data)
		if k.publisher, err = loadOrCreateKey(k.generatedPath); err != nil {
			return nil, err
		}
	}
	if c.subscriberKey != "" {
		if k.subscriber, err = auth.LoadKey(c.subscriberKey); err != nil {
			return nil, fmt.Errorf("--subscriber-key: %w", err)
		}
		k.subscriberSeparate = true
	} else {
		k.subscriber = k.publisher
	}
	return k, nil
}

// loadOrCreateKey returns the HMAC key kept in path, generating a random
// 256-bit secret (file mode 0600) the first time. The secret is written to
// a temporary file, synced, and linked into place, so a crash never leaves
// an empty key file and two servers starting together agree on one key.
func loadOrCreateKey(path string) (auth.Key, error) {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if err := createKeyFile(path); err != nil {
			return auth.Key{}, err
		}
	} else if err != nil {
		return auth.Key{}, fmt.Errorf("reading key file: %w", err)
	}
	return auth.LoadKey(auth.FilePrefix + path)
}

func createKeyFile(path string) error {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".herald.key-*")
	if err != nil {
		return fmt.Errorf("creating key file: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write([]byte(hex.EncodeToString(raw) + "\n"))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing key file: %w", err)
	}
	// Link fails if another process created the key meanwhile: then that
	// key is the one.
	if err := os.Link(f.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating key file: %w", err)
	}
	return nil
}

// printWelcome tells a newcomer how to use the hub they just started: with
// a generated key it prints a ready-to-use token, a link to the live page
// with it, and curl lines to try; with a configured key, how to mint one.
// insecure says the certificate is self-signed, which curl must be told.
func printWelcome(env *Env, base string, k *serveKeys, insecure bool) {
	hubURL := base + "/.well-known/mercure"
	out := env.stdout
	if !k.generated {
		fmt.Fprintf(out, "Herald is running at %s (live page: %s/?topic=demo)\n", base, base)
		fmt.Fprintf(out, "\nTokens are signed with your --publisher-key; mint one with the same key:\n"+
			"  herald token --key <the --publisher-key value> --publish '*' --subscribe '*'\n\n")
		return
	}
	keyLine := "Key: " + k.generatedPath + " (generated; use --publisher-key to choose your own)"
	if k.generatedPath == "" {
		keyLine = "Key: generated for this run only (--journal memory writes nothing); use --publisher-key to choose your own"
	}
	curl := "curl"
	if insecure {
		curl = "curl -k" // the certificate is self-signed
	}
	if k.subscriberSeparate {
		// Subscribers are verified with another key, which this token
		// could not satisfy: say so rather than print a curl line that
		// would get 401.
		tok, err := auth.Mint(k.publisher, auth.MintClaims{Publish: []string{"*"}, TTL: welcomeTokenTTL})
		if err != nil {
			fmt.Fprintf(out, "(could not mint a token: %v)\n", err)
			return
		}
		fmt.Fprintf(out, "Herald is running at %s (live page: %s/?topic=demo)\n", base, base)
		fmt.Fprintf(out, "\n%s\nPublisher token (valid 30 days; subscribers need tokens signed for --subscriber-key):\n\n  %s\n\n", keyLine, tok)
		return
	}
	tok, err := auth.Mint(k.publisher, auth.MintClaims{
		Publish: []string{"*"}, Subscribe: []string{"*"}, TTL: welcomeTokenTTL,
	})
	if err != nil {
		fmt.Fprintf(out, "(could not mint a token: %v)\n", err)
		return
	}
	fmt.Fprintf(out, "Herald is running at %s\nLive page, with the token below filled in: %s/?topic=demo#token=%s\n", base, base, tok)
	fmt.Fprintf(out, `
%s
Token to publish and subscribe to every topic (valid 30 days):

  %s

Try it — subscribe in one terminal:
  %s -N -H 'Authorization: Bearer %s' '%s?topic=demo'
and publish in another:
  %s -H 'Authorization: Bearer %s' -d topic=demo -d data=hello %s

`, keyLine, tok, curl, tok, hubURL, curl, tok, hubURL)
}
