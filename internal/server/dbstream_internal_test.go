package server

import (
	"strings"
	"testing"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// TestDBFrameCacheBounded: large writes do not pile up in the cache, and
// a frame is shared by the streams of one path.
func TestDBFrameCacheBounded(t *testing.T) {
	var c dbFrameCache
	big := `"` + strings.Repeat("x", 1<<20) + `"`
	for seq := uint64(1); seq <= 200; seq++ {
		ev := &journal.Event{
			ID: "id", Seq: seq, Type: "put",
			Topics: []string{state.LocationTopic("db", tree.Path{"a"})},
			Data:   []byte(`{"path":"/a","data":` + big + `}`),
		}
		f1 := c.frame(ev, tree.Path{"a"}, "/a", tree.Limits{})
		f2 := c.frame(ev, tree.Path{"a"}, "/a", tree.Limits{})
		if len(f1) < 1<<20 || &f1[0] != &f2[0] {
			t.Fatalf("event %d: frames of %d bytes, not shared", seq, len(f1))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.bytes > dbFrameBytes || len(c.events) > 30 {
		t.Fatalf("cache holds %d events, %d bytes; bound %d bytes", len(c.events), c.bytes, dbFrameBytes)
	}
}
