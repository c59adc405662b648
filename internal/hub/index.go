package hub

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// topicShards spreads Subscribe and Close over many locks; the fan-out of
// an event takes the read lock of one topic shard per topic.
const topicShards = 64

// index finds the subscriptions an event is for. A subscription sits
// under each of its exact topics, and in the template index for each of
// its other selectors ("*" and URI templates).
type index struct {
	seed      maphash.Seed
	topics    [topicShards]topicShard
	templates templateIndex
	count     atomic.Int64 // subscriptions registered
}

type topicShard struct {
	mu     sync.RWMutex
	topics map[string][]*Subscription
	_      [32]byte // keeps neighbouring shards' locks off one cache line
}

// topicEntry is where a subscription sits in the list of one exact topic.
// pos is guarded by the lock of the topic's shard, because removing
// another subscription from the same list may move this one.
type topicEntry struct {
	topic string
	pos   int
}

// shrinkCap is the capacity above which a list that became mostly empty
// is reallocated, so that a topic's spike of subscribers does not leave a
// large array behind.
const shrinkCap = 64

func (x *index) init() {
	x.seed = maphash.MakeSeed()
	for i := range x.topics {
		x.topics[i].topics = make(map[string][]*Subscription)
	}
}

func (x *index) topicShard(topic string) *topicShard {
	return &x.topics[maphash.String(x.seed, topic)%topicShards]
}

// add registers s under each of its exact topics and, when it has other
// selectors, on a wildcard shard.
func (x *index) add(s *Subscription) {
	// indexMu makes add and remove of one subscription exclusive: a sweep
	// or an eviction may find s in one shard while add still works on
	// another, and must wait for it before undoing the whole.
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	for i := range s.exact {
		e := &s.exact[i]
		sh := x.topicShard(e.topic)
		sh.mu.Lock()
		list := sh.topics[e.topic]
		e.pos = len(list)
		sh.topics[e.topic] = append(list, s)
		sh.mu.Unlock()
	}
	if s.rare != nil {
		x.templates.add(s, s.rare.wild)
	}
	s.indexed = true
	x.count.Add(1)
}

// remove takes s out of the index; removing it again does nothing.
func (x *index) remove(s *Subscription) {
	s.indexMu.Lock()
	defer s.indexMu.Unlock()
	if !s.indexed {
		return
	}
	s.indexed = false
	x.count.Add(-1)
	for i := range s.exact {
		e := &s.exact[i]
		sh := x.topicShard(e.topic)
		sh.mu.Lock()
		list := removeAt(sh.topics[e.topic], e.pos, func(moved *Subscription, pos int) {
			moved.entry(e.topic).pos = pos
		})
		if len(list) == 0 {
			delete(sh.topics, e.topic)
		} else {
			sh.topics[e.topic] = list
		}
		sh.mu.Unlock()
	}
	x.templates.remove(s)
}

// removeAt removes list[pos] by moving the last element into its place
// (order does not matter to the fan-out) and tells moved its new position.
func removeAt(list []*Subscription, pos int, moved func(*Subscription, int)) []*Subscription {
	last := len(list) - 1
	if pos != last {
		list[pos] = list[last]
		moved(list[pos], pos)
	}
	list[last] = nil
	list = list[:last]
	if cap(list) > shrinkCap && len(list) < cap(list)/4 {
		list = append([]*Subscription(nil), list...)
	}
	return list
}

// all returns every registered subscription once.
func (x *index) all() []*Subscription {
	seen := make(map[*Subscription]struct{})
	var out []*Subscription
	collect := func(list []*Subscription) {
		for _, s := range list {
			if _, ok := seen[s]; !ok {
				seen[s] = struct{}{}
				out = append(out, s)
			}
		}
	}
	for i := range x.topics {
		sh := &x.topics[i]
		sh.mu.RLock()
		for _, list := range sh.topics {
			collect(list)
		}
		sh.mu.RUnlock()
	}
	x.templates.mu.RLock()
	for _, e := range x.templates.entries {
		collect(e.subs)
	}
	x.templates.mu.RUnlock()
	return out
}
