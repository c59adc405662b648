package firebase

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"firebase.google.com/go/v4/db"
	"firebase.google.com/go/v4/errorutils"
	"github.com/google/go-cmp/cmp"
)

// get reads ref into a generic JSON value, failing the test on error.
func get(ctx context.Context, t *testing.T, ref *db.Ref) any {
	t.Helper()
	var v any
	if err := ref.Get(ctx, &v); err != nil {
		t.Fatalf("Get %s: %v", ref.Path, err)
	}
	return v
}

// wantValue fails the test unless ref holds want.
func wantValue(ctx context.Context, t *testing.T, ref *db.Ref, want any) {
	t.Helper()
	if diff := cmp.Diff(want, get(ctx, t, ref)); diff != "" {
		t.Errorf("Get %s (-want +got):\n%s", ref.Path, diff)
	}
}

func TestRoundTrips(t *testing.T) {
	_, c, ctx := setup(t)
	ref := c.NewRef("roundtrip")

	if v := get(ctx, t, ref); v != nil {
		t.Fatalf("Get of a path never written = %v, want nil", v)
	}

	value := map[string]any{
		"name":    "Tyrannosaurus rex",
		"名前":      "ティラノサウルス",
		"emoji":   "🦖 and 🦕",
		"escapes": "line\nbreak \"quoted\" back\\slash\ttab",
		"int":     42.0,
		"neg":     -7.0,
		"float":   3.25,
		"tenth":   0.1,
		"big":     9007199254740991.0,
		"yes":     true,
		"no":      false,
		"list":    []any{"a", 2.0, map[string]any{"k": "v"}, []any{1.0, 2.0}},
		"nested":  map[string]any{"a": map[string]any{"b": map[string]any{"c": "deep"}}},
	}
	if err := ref.Set(ctx, value); err != nil {
		t.Fatalf("Set: %v", err)
	}
	wantValue(ctx, t, ref, value)
	wantValue(ctx, t, c.NewRef("roundtrip/nested/a/b/c"), "deep")
	wantValue(ctx, t, ref.Child("list/2/k"), "v")
	wantValue(ctx, t, ref.Child("名前"), "ティラノサウルス")

	// Into a struct, as applications read.
	var typed struct {
		Name  string  `json:"name"`
		Int   int     `json:"int"`
		Float float64 `json:"float"`
		List  []any   `json:"list"`
		Yes   bool    `json:"yes"`
	}
	if err := ref.Get(ctx, &typed); err != nil {
		t.Fatalf("Get into a struct: %v", err)
	}
	if typed.Name != "Tyrannosaurus rex" || typed.Int != 42 || typed.Float != 3.25 || len(typed.List) != 4 || !typed.Yes {
		t.Errorf("Get into a struct = %+v", typed)
	}

	// A key with spaces and non-ASCII letters, which the SDK puts in the
	// URL unescaped and net/http percent-encodes.
	odd := ref.Child("ünïcödé key 🦕")
	if err := odd.Set(ctx, "odd"); err != nil {
		t.Fatalf("Set %s: %v", odd.Path, err)
	}
	wantValue(ctx, t, odd, "odd")
	value["ünïcödé key 🦕"] = "odd"

	// Update writes several paths at once, deep ones included, leaves the
	// siblings alone, and deletes what it sets to null.
	if err := ref.Update(ctx, map[string]any{
		"int":          43,
		"nested/a/b/c": "deeper",
		"nested/a/x":   "sibling",
		"added":        map[string]any{"k": "new"},
		"no":           nil,
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	value["int"] = 43.0
	value["nested"] = map[string]any{"a": map[string]any{"b": map[string]any{"c": "deeper"}, "x": "sibling"}}
	value["added"] = map[string]any{"k": "new"}
	delete(value, "no")
	wantValue(ctx, t, ref, value)

	// Push makes a child with a new key and returns its reference; a nil
	// value is stored as the empty string.
	pushed, err := ref.Child("log").Push(ctx, map[string]any{"event": "hatched", "at": 1.0})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	if pushed.Key == "" || pushed.Path != "/roundtrip/log/"+pushed.Key {
		t.Fatalf("Push returned %q (key %q)", pushed.Path, pushed.Key)
	}
	wantValue(ctx, t, pushed, map[string]any{"event": "hatched", "at": 1.0})
	empty, err := ref.Child("log").Push(ctx, nil)
	if err != nil {
		t.Fatalf("Push(nil): %v", err)
	}
	wantValue(ctx, t, empty, "")
	wantValue(ctx, t, ref.Child("log"), map[string]any{pushed.Key: map[string]any{"event": "hatched", "at": 1.0}, empty.Key: ""})

	// Delete removes a child, then everything; deleting what is not there
	// is no error.
	if err := ref.Child("list").Delete(ctx); err != nil {
		t.Fatalf("Delete list: %v", err)
	}
	wantValue(ctx, t, ref.Child("list"), nil)
	if v, _ := get(ctx, t, ref).(map[string]any); v["name"] != "Tyrannosaurus rex" || v["list"] != nil {
		t.Errorf("after deleting list: %v", v)
	}
	if err := ref.Delete(ctx); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantValue(ctx, t, ref, nil)
	if err := ref.Delete(ctx); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
}

func TestServerValues(t *testing.T) {
	_, c, ctx := setup(t)
	ref := c.NewRef("sv")

	before := time.Now().UnixMilli()
	if err := ref.Set(ctx, map[string]any{
		"at":    map[string]any{".sv": "timestamp"},
		"count": 5,
	}); err != nil {
		t.Fatalf("Set with a timestamp: %v", err)
	}
	after := time.Now().UnixMilli()
	var at float64
	if err := ref.Child("at").Get(ctx, &at); err != nil {
		t.Fatalf("Get at: %v", err)
	}
	if int64(at) < before-1000 || int64(at) > after+1000 {
		t.Errorf("timestamp = %v, want between %d and %d (ms)", at, before, after)
	}

	if err := ref.Update(ctx, map[string]any{
		"count":  map[string]any{".sv": map[string]any{"increment": 3}},
		"absent": map[string]any{".sv": map[string]any{"increment": 2}},
	}); err != nil {
		t.Fatalf("Update with increments: %v", err)
	}
	wantValue(ctx, t, ref.Child("count"), 8.0)
	wantValue(ctx, t, ref.Child("absent"), 2.0)
}

func TestNamespaces(t *testing.T) {
	h, c, ctx := setup(t)
	other := h.client(t, "herald-e2e-other")

	if err := c.NewRef("shared/key").Set(ctx, "mine"); err != nil {
		t.Fatal(err)
	}
	if err := other.NewRef("shared/key").Set(ctx, "theirs"); err != nil {
		t.Fatal(err)
	}
	wantValue(ctx, t, c.NewRef("shared/key"), "mine")
	wantValue(ctx, t, other.NewRef("shared/key"), "theirs")
}

func TestETags(t *testing.T) {
	_, c, ctx := setup(t)
	ref := c.NewRef("etag/node")

	// An absent node has an ETag too, and writing with it creates the node
	// only while it is still absent.
	var v any
	nullTag, err := ref.GetWithETag(ctx, &v)
	if err != nil {
		t.Fatalf("GetWithETag of nothing: %v", err)
	}
	if nullTag == "" || v != nil {
		t.Fatalf("GetWithETag of nothing = %v, ETag %q; want nil and an ETag", v, nullTag)
	}
	if ok, err := ref.SetIfUnchanged(ctx, nullTag, "first"); err != nil || !ok {
		t.Fatalf("SetIfUnchanged(null ETag) on nothing = %v, %v; want true", ok, err)
	}
	if ok, err := ref.SetIfUnchanged(ctx, nullTag, "second"); err != nil || ok {
		t.Fatalf("SetIfUnchanged(null ETag) on a value = %v, %v; want false", ok, err)
	}
	wantValue(ctx, t, ref, "first")

	tag1, err := ref.GetWithETag(ctx, &v)
	if err != nil {
		t.Fatalf("GetWithETag: %v", err)
	}
	if v != "first" || tag1 == "" || tag1 == nullTag {
		t.Fatalf("GetWithETag = %v, ETag %q (null's: %q)", v, tag1, nullTag)
	}
	if again, err := ref.GetWithETag(ctx, &v); err != nil || again != tag1 {
		t.Fatalf("GetWithETag again = %q, %v; want the same ETag %q", again, err, tag1)
	}

	// Nothing changed: GetIfChanged says so and leaves the value alone.
	untouched := "untouched"
	changed, tag, err := ref.GetIfChanged(ctx, tag1, &untouched)
	if err != nil || changed || tag != tag1 || untouched != "untouched" {
		t.Fatalf("GetIfChanged(current) = %v, %q, %v, value %q; want false, %q", changed, tag, err, untouched, tag1)
	}

	// A matching ETag writes.
	if ok, err := ref.SetIfUnchanged(ctx, tag1, map[string]any{"n": 1}); err != nil || !ok {
		t.Fatalf("SetIfUnchanged(current ETag) = %v, %v; want true", ok, err)
	}
	tag2, err := ref.GetWithETag(ctx, &v)
	if err != nil {
		t.Fatal(err)
	}
	if tag2 == tag1 {
		t.Fatalf("the ETag %q did not change with the value", tag2)
	}

	// A stale one does not, and the value stays.
	if ok, err := ref.SetIfUnchanged(ctx, tag1, "stale write"); err != nil || ok {
		t.Fatalf("SetIfUnchanged(stale ETag) = %v, %v; want false", ok, err)
	}
	wantValue(ctx, t, ref, map[string]any{"n": 1.0})

	// Changed since tag1: GetIfChanged returns the value and the new ETag.
	var got any
	changed, tag, err = ref.GetIfChanged(ctx, tag1, &got)
	if err != nil || !changed || tag != tag2 {
		t.Fatalf("GetIfChanged(stale) = %v, %q, %v; want true, %q", changed, tag, err, tag2)
	}
	if diff := cmp.Diff(map[string]any{"n": 1.0}, got); diff != "" {
		t.Errorf("GetIfChanged(stale) value (-want +got):\n%s", diff)
	}
}

// TestTransactionContention has n goroutines increment one counter, each
// with its own Transaction. Every one first reads the counter, absent
// then, and none writes before all have read: they all hold the same ETag,
// so one write wins and every other gets 412 with the new value and ETag,
// and so on. The SDK tries 25 times per Transaction; a goroutine loses at
// most once per other goroutine's win (a 412 means someone wrote since its
// ETag), so n-1 losses, and a correct server needs at most two calls.
func TestTransactionContention(t *testing.T) {
	_, c, ctx := setup(t)
	const n = 50
	counter := c.NewRef("contention/counter")

	var calls atomic.Int64
	var waiting atomic.Int64
	waiting.Store(n)
	allRead := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		go func() {
			arrive := sync.OnceFunc(func() {
				if waiting.Add(-1) == 0 {
					close(allRead)
				}
			})
			defer arrive()
			increment := func(node db.TransactionNode) (any, error) {
				calls.Add(1)
				var v int
				if err := node.Unmarshal(&v); err != nil {
					return nil, err
				}
				arrive()
				select {
				case <-allRead:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return v + 1, nil
			}
			var err error
			for range 3 {
				err = counter.Transaction(ctx, increment)
				if err == nil || !strings.Contains(err.Error(), "transaction aborted after failed retries") {
					break
				}
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("Transaction: %v", err)
		}
	}
	wantValue(ctx, t, counter, float64(n))
	if got := calls.Load(); got < 2*n-1 {
		t.Errorf("the update functions ran %d times; with %d writers holding one ETag at least %d conflicts must have been retried", got, n, n-1)
	}
	t.Logf("%d increments took %d update calls", n, calls.Load())

	// An update function that fails aborts the transaction; nothing is written.
	abort := func(db.TransactionNode) (any, error) { return nil, context.Canceled }
	if err := counter.Transaction(ctx, abort); !errors.Is(err, context.Canceled) {
		t.Errorf("Transaction with a failing update = %v, want %v", err, context.Canceled)
	}
	wantValue(ctx, t, counter, float64(n))
}

func TestInvalidKeysRejected(t *testing.T) {
	_, c, ctx := setup(t)
	ref := c.NewRef("errors")
	before := map[string]any{"ok": 1.0, "deep": map[string]any{"x": "y"}}
	if err := ref.Set(ctx, before); err != nil {
		t.Fatal(err)
	}

	// Keys may not hold . $ # [ ] / or ASCII control characters. The SDK
	// checks only paths; keys inside values are the server's to refuse.
	for _, key := range []string{"a.b", "a$b", "a#b", "a[b", "a]b", "a/b", "a\x01b", "a\x7fb"} {
		writes := map[string]func() error{
			"Set": func() error { return ref.Set(ctx, map[string]any{"ok": 2, key: 1}) },
			"Set deep": func() error {
				return ref.Child("deep").Set(ctx, map[string]any{"x": map[string]any{"y": map[string]any{key: 1}}})
			},
			"Update": func() error { return ref.Update(ctx, map[string]any{"ok": 3, "deep/x": map[string]any{key: 1}}) },
			"Push":   func() error { _, err := ref.Push(ctx, map[string]any{key: 1}); return err },
		}
		for name, write := range writes {
			err := write()
			if err == nil {
				t.Errorf("%s with key %q succeeded", name, key)
				continue
			}
			if !errorutils.IsInvalidArgument(err) {
				t.Errorf("%s with key %q: %v; want a 400", name, key, err)
			}
			// handleRTDBError puts the server's {"error": "..."} after "reason: ".
			reason, ok := strings.CutPrefix(err.Error(), "http error status: 400; reason: ")
			if !ok || reason == "" {
				t.Errorf(`%s with key %q: %q; want the server's {"error": "..."} message`, name, key, err)
			} else if printable(key) && !strings.Contains(reason, key) {
				t.Errorf("%s with key %q: the server's message %q does not name the key", name, key, reason)
			}
		}
	}
	wantValue(ctx, t, ref, before)

	// The SDK refuses such paths itself, without a request.
	if err := c.NewRef("a.b").Set(ctx, 1); err == nil || !strings.Contains(err.Error(), "invalid path") {
		t.Errorf("Set at path a.b = %v, want the SDK's invalid path error", err)
	}
}

// printable tells whether s has no ASCII control characters, so a message
// can be expected to quote it as it is.
func printable(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f })
}
