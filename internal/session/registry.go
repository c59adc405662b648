package session

import (
	"sync"
	"sync/atomic"
)

// registryShards spreads the sessions over locks, so that connects and
// closes from many goroutines do not contend on one.
const registryShards = 64

// Registry holds a server's live sessions, so that draining can end them
// all, whatever writes them. Its zero value is ready to use.
type Registry struct {
	shards [registryShards]registryShard
	next   atomic.Uint32
	count  atomic.Int64
	// closed is set by EndAll under every shard's lock in turn: a session
	// is either refused by Add or ended by EndAll, never missed.
	closed atomic.Bool
}

type registryShard struct {
	mu       sync.Mutex
	sessions map[*Session]struct{}
	_        [40]byte // keeps neighbouring shards' locks off one cache line
}

// Add registers s until its release. It refuses, with [ErrDraining], once
// EndAll was called; the caller then releases s.
func (r *Registry) Add(s *Session) error {
	i := int(r.next.Add(1) % registryShards)
	sh := &r.shards[i]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if r.closed.Load() {
		return ErrDraining
	}
	if sh.sessions == nil {
		sh.sessions = make(map[*Session]struct{})
	}
	sh.sessions[s] = struct{}{}
	s.mu.Lock()
	s.registry, s.shard = r, int32(i)
	s.mu.Unlock()
	r.count.Add(1)
	return nil
}

func (r *Registry) remove(s *Session) {
	s.mu.Lock()
	i := s.shard
	s.mu.Unlock()
	if i < 0 {
		return
	}
	sh := &r.shards[i]
	sh.mu.Lock()
	if _, ok := sh.sessions[s]; ok {
		delete(sh.sessions, s)
		r.count.Add(-1)
	}
	sh.mu.Unlock()
}

// Len is the number of live sessions.
func (r *Registry) Len() int64 { return r.count.Load() }

// EndAll ends every session for reason and refuses new ones.
func (r *Registry) EndAll(reason error) {
	r.closed.Store(true)
	var ending []*Session
	for i := range r.shards {
		sh := &r.shards[i]
		sh.mu.Lock()
		for s := range sh.sessions {
			ending = append(ending, s)
		}
		sh.mu.Unlock()
	}
	for _, s := range ending {
		s.End(reason)
	}
}
