package server

import (
	"testing"
	"time"
)

// SetPAKLookupHookForTest makes f run in every PAK resolution that asked the database, after
// the database answered and before the answer is cached.
func (s *Server) SetPAKLookupHookForTest(f func(hash string)) {
	s.authCache.mu.Lock()
	defer s.authCache.mu.Unlock()
	s.authCache.afterLookup = f
}

// TestAuthCacheRefusesLookupsOlderThanAnEviction: a resolution whose lookup started before
// an eviction or a clear is not cached; one that started after is.
func TestAuthCacheRefusesLookupsOlderThanAnEviction(t *testing.T) {
	a := newAuthCache(time.Minute, 10)
	id := Identity{Admin: true}

	gen := a.lookupStart()
	a.evict("h1")
	if a.put("h1", id, gen) {
		t.Fatal("a lookup that raced an eviction was cached")
	}
	if _, ok := a.get("h1"); ok {
		t.Fatal("evicted hash is in the cache")
	}

	gen = a.lookupStart()
	a.clear()
	if a.put("h1", id, gen) {
		t.Fatal("a lookup that raced a clear was cached")
	}

	gen = a.lookupStart()
	a.setTTL(0)
	a.setTTL(time.Minute)
	if a.put("h1", id, gen) {
		t.Fatal("a lookup that raced turning the cache off was cached")
	}

	gen = a.lookupStart()
	if !a.put("h1", id, gen) {
		t.Fatal("a lookup with no eviction in between was not cached")
	}
	if got, ok := a.get("h1"); !ok || got != id {
		t.Fatal("cached resolution not found")
	}
}
