package cli

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// Servers starting together in one directory end up with one key, and no
// temporary file is left behind.
func TestLoadOrCreateKeyConcurrently(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "herald.key")
	keys := make([]auth.Key, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			keys[i], errs[i] = loadOrCreateKey(path)
		}()
	}
	wg.Wait()
	tok, err := auth.Mint(keys[0], auth.MintClaims{Publish: []string{"*"}, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if errs[i] != nil {
			t.Fatalf("server %d: %v", i, errs[i])
		}
		v := auth.Verifier{Key: k}
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("server %d has another key: %v", i, err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d files, want only herald.key", len(entries))
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode: %v %v", fi.Mode(), err)
	}
}
