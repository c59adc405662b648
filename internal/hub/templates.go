package hub

import (
	"sync"
	"sync/atomic"

	"github.com/heraldhub/herald/internal/selector"
)

// templateIndex finds the subscriptions whose selectors are not plain
// topics: "*" and URI templates. Matching such a selector is what costs
// (a template runs a regular expression), so the index keeps that cost
// independent of how many subscribers share a selector and of selectors
// that cannot match:
//
//   - each distinct selector is one entry, shared by every subscription
//     that asked for it, and matched once per event topic however many
//     subscribers it has: 10,000 subscribers of one template cost one
//     match;
//   - entries hang in a radix tree by their literal prefix (see
//     [selector.Selector.Prefix]), so an event meets only the selectors
//     whose prefix starts one of its topics: a template on another site's
//     URLs costs an event nothing.
type templateIndex struct {
	mu      sync.RWMutex
	entries map[string]*templateEntry
	tree    radix[*templateEntry]
	// subscribed counts the subscriptions with at least one entry, so that
	// the fan-out skips the index when there are none.
	subscribed atomic.Int64
}

// templateEntry is one distinct selector and its subscribers.
type templateEntry struct {
	sel  *selector.Selector
	subs []*Subscription
	// matched is the key of the last message it matched; the fan-out
	// goroutine alone reads and writes it, under the read lock.
	matched uint64
}

// templateRef is where a subscription sits in an entry's list; pos is
// guarded by the index's lock, because removing another subscriber may
// move this one.
type templateRef struct {
	entry *templateEntry
	pos   int
}

// add registers s under each of its selectors that is not a plain topic.
func (x *templateIndex) add(s *Subscription, sels []*selector.Selector) {
	if len(sels) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries == nil {
		x.entries = make(map[string]*templateEntry)
	}
	for _, sel := range sels {
		e := x.entries[sel.String()]
		if e == nil {
			e = &templateEntry{sel: sel}
			x.entries[sel.String()] = e
			x.tree.insert(sel.Prefix(), e)
		}
		s.rare.templates = append(s.rare.templates, templateRef{entry: e, pos: len(e.subs)})
		e.subs = append(e.subs, s)
	}
	x.subscribed.Add(1)
}

// remove takes s out of every entry it is in; an entry left without
// subscribers goes.
func (x *templateIndex) remove(s *Subscription) {
	if s.rare == nil || len(s.rare.templates) == 0 {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, ref := range s.rare.templates {
		e := ref.entry
		e.subs = removeAt(e.subs, ref.pos, func(moved *Subscription, pos int) {
			moved.templateRef(e).pos = pos
		})
		if len(e.subs) == 0 {
			delete(x.entries, e.sel.String())
			x.tree.remove(e.sel.Prefix(), e)
		}
	}
	s.rare.templates = nil
	x.subscribed.Add(-1)
}

// templateRef returns s's reference to e.
func (s *Subscription) templateRef(e *templateEntry) *templateRef {
	for i := range s.rare.templates {
		if s.rare.templates[i].entry == e {
			return &s.rare.templates[i]
		}
	}
	panic("hub: subscription not in its template entry")
}

// match calls fn for every subscriber of a selector that matches one of
// topics (key identifies the message); a subscriber may be called more
// than once. It runs on the fan-out goroutine only, and fn must not block.
func (x *templateIndex) match(key uint64, topics []string, fn func(*Subscription)) {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, topic := range topics {
		x.tree.walk(topic, func(e *templateEntry) {
			if e.matched == key || !e.sel.Match(topic) {
				return
			}
			e.matched = key
			for _, s := range e.subs {
				fn(s)
			}
		})
	}
}

// len is the number of distinct selectors indexed.
func (x *templateIndex) len() int {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return len(x.entries)
}
