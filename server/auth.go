package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
)

// Identity is the caller behind a PAK.
type Identity struct {
	Admin         bool
	ReadOnly      bool      // the read-only role: the in-memory read-only admin key or a named read-only PAK
	AgentID       uuid.UUID // non-nil for agents
	GeneratorID   uuid.UUID // non-nil for generators
	ReadOnlyPAKID uuid.UUID // non-nil for named read-only PAKs
}

// stored is the identity as the database resolves the key (live.ResolveKeys), which socket
// re-checks compare with.
func (i Identity) stored() db.Identity {
	if i.ReadOnlyPAKID != uuid.Nil {
		return db.Identity{ReadOnlyPAKID: i.ReadOnlyPAKID}
	}
	return db.Identity{Admin: i.Admin, AgentID: i.AgentID, GeneratorID: i.GeneratorID}
}

// readOnlyIdentity is the read-only role: admin for reads (readOnlyAllowed decides which
// requests it may make). pakID names a read-only PAK; uuid.Nil is the in-memory key.
func readOnlyIdentity(pakID uuid.UUID) Identity {
	return Identity{Admin: true, ReadOnly: true, ReadOnlyPAKID: pakID}
}

// IsAgent reports whether the caller is an agent.
func (i Identity) IsAgent() bool { return i.AgentID != uuid.Nil }

// IsGenerator reports whether the caller is a generator.
func (i Identity) IsGenerator() bool { return i.GeneratorID != uuid.Nil }

// IsAgentSelf reports whether the caller is the agent with this id.
func (i Identity) IsAgentSelf(id uuid.UUID) bool { return i.AgentID != uuid.Nil && i.AgentID == id }

// IsGeneratorSelf reports whether the caller is the generator with this id.
func (i Identity) IsGeneratorSelf(id uuid.UUID) bool {
	return i.GeneratorID != uuid.Nil && i.GeneratorID == id
}

const identityKey = "brokkr.identity"

func identity(c echo.Context) Identity {
	id, _ := c.Get(identityKey).(Identity)
	return id
}

type cacheEntry struct {
	id      Identity
	expires time.Time
}

// authCache caches successful PAK resolutions by hash for a bounded time.
//
// A resolution read from the database before a revocation may reach put after the
// revocation evicted the hash; cached then, the revoked key would work for a whole TTL. Every
// eviction and clear therefore advances a generation, and put only stores a resolution whose
// lookup began in the current generation (see lookupStart): a lookup that raced any eviction
// is answered but not cached.
type authCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]cacheEntry
	now     func() time.Time
	gen     uint64 // advanced by every evict and clear

	// afterLookup, when set, runs between the database lookup of a hash and its insertion
	// into the cache (tests use it to interleave a revocation deterministically).
	afterLookup func(hash string)
}

func newAuthCache(ttl time.Duration, max int) *authCache {
	return &authCache{ttl: ttl, max: max, entries: map[string]cacheEntry{}, now: time.Now}
}

func (a *authCache) get(hash string) (Identity, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ttl <= 0 {
		return Identity{}, false
	}
	e, ok := a.entries[hash]
	if !ok {
		return Identity{}, false
	}
	if a.now().After(e.expires) {
		delete(a.entries, hash)
		return Identity{}, false
	}
	return e.id, true
}

// lookupStart returns the generation a database lookup starts in, to be given to put.
func (a *authCache) lookupStart() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.gen
}

// put caches a resolution found by a lookup that started in generation gen. It stores
// nothing when an eviction or clear happened since: the hash may have been revoked after the
// database answered. It reports whether the resolution was stored.
func (a *authCache) put(hash string, id Identity, gen uint64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ttl <= 0 || gen != a.gen {
		return false
	}
	now := a.now()
	if len(a.entries) >= a.max {
		for k, e := range a.entries {
			if now.After(e.expires) {
				delete(a.entries, k)
			}
		}
		// Still full: drop arbitrary entries (map order is random) to make room.
		for k := range a.entries {
			if len(a.entries) < a.max {
				break
			}
			delete(a.entries, k)
		}
	}
	a.entries[hash] = cacheEntry{id: id, expires: now.Add(a.ttl)}
	return true
}

// evict drops cached resolutions of these hashes and keeps lookups in flight from caching
// what they found.
func (a *authCache) evict(hashes ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	for _, h := range hashes {
		delete(a.entries, h)
	}
}

func (a *authCache) setTTL(ttl time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ttl = ttl
	if ttl <= 0 {
		a.gen++
		a.entries = map[string]cacheEntry{}
	}
}

// clear drops every cached resolution (notifications may have been missed) and keeps
// lookups in flight from caching what they found.
func (a *authCache) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gen++
	a.entries = map[string]cacheEntry{}
}

// lookedUp runs the afterLookup hook, if any.
func (a *authCache) lookedUp(hash string) {
	a.mu.Lock()
	hook := a.afterLookup
	a.mu.Unlock()
	if hook != nil {
		hook(hash)
	}
}

// errUnauthenticated answers 401.
var errUnauthenticated = apiError(http.StatusUnauthorized, "unauthorized", "missing or invalid PAK")

// errUnknownPAK answers 401 for a well-formed key nobody holds; it is audited.
var errUnknownPAK = apiError(http.StatusUnauthorized, "unauthorized", "missing or invalid PAK")

// resolve turns an Authorization header value into an identity.
func (s *Server) resolve(ctx context.Context, header string) (Identity, error) {
	key, err := pak.FromHeader(header)
	if err != nil {
		return Identity{}, errUnauthenticated
	}
	hash, err := pak.Hash(key)
	if err != nil {
		return Identity{}, errUnauthenticated
	}
	if s.readOnlyHash != "" && pak.Equal(hash, s.readOnlyHash) {
		return readOnlyIdentity(uuid.Nil), nil
	}
	if id, ok := s.authCache.get(hash); ok {
		return id, nil
	}
	// The generation is taken before the database is asked, so that a revocation committed
	// after the database answered, and evicted before put, keeps the answer out of the cache.
	gen := s.authCache.lookupStart()
	dbID, err := db.ResolvePAKHash(ctx, s.db, hash)
	if errors.Is(err, db.ErrNotFound) {
		return Identity{}, errUnknownPAK
	}
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Admin: dbID.Admin, AgentID: dbID.AgentID, GeneratorID: dbID.GeneratorID}
	if dbID.ReadOnlyPAKID != uuid.Nil {
		id = readOnlyIdentity(dbID.ReadOnlyPAKID)
	}
	s.authCache.lookedUp(hash)
	s.authCache.put(hash, id, gen)
	return id, nil
}

// readOnlyRefusedReads lists the reads the read-only admin key may not make, by route: they
// change state or answer secrets. GET /agents/{agent_id}/webhooks/pending claims the agent's
// webhook deliveries (another caller would lose them for the claim's lifetime) and answers
// their decrypted URLs and auth headers. Every other GET only reads: webhook subscriptions
// show has_url and has_auth_header, never the values, and delivery errors never carry the URL.
var readOnlyRefusedReads = map[string]bool{
	apiPrefix + "/agents/:agent_id/webhooks/pending": true,
}

// readOnlyAllowed reports whether the read-only role (the read-only admin key and named
// read-only PAKs) may make this request: reads except readOnlyRefusedReads, and two POSTs
// that change nothing an admin manages: verifying the key and requesting diagnostics.
func readOnlyAllowed(method, route string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return !readOnlyRefusedReads[route]
	case http.MethodPost:
		return route == apiPrefix+"/auth/pak" || route == apiPrefix+"/deployment-objects/:id/diagnostics"
	}
	return false
}

// authenticate is the middleware of every /api/v1 route.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		header := c.Request().Header.Get(echo.HeaderAuthorization)
		if strings.TrimSpace(header) == "" {
			return errUnauthenticated
		}
		id, err := s.resolve(c.Request().Context(), header)
		if errors.Is(err, errUnknownPAK) {
			s.audit(c, audit.Entry{ActorType: audit.ActorSystem, Action: audit.AuthFailed, ResourceType: audit.ResourceSystem,
				Details: map[string]any{"reason": "invalid_pak", "path": c.Request().URL.Path}})
		}
		if err != nil {
			return err
		}
		if id.ReadOnly && !readOnlyAllowed(c.Request().Method, c.Path()) {
			if readOnlyRefusedReads[c.Path()] {
				return forbidden("read_only", "this key is read-only: it may not claim work or read secrets")
			}
			return forbidden("read_only", "this key is read-only")
		}
		c.Set(identityKey, id)
		return next(c)
	}
}

// Authorization helpers shared by handlers.

func requireAdmin(id Identity) error {
	if !id.Admin {
		return forbidden("admin_required", "admin access required")
	}
	return nil
}

// requireAdminOrAgentSelf allows the admin or the agent whose id is in the path.
func requireAdminOrAgentSelf(id Identity, agentID uuid.UUID) error {
	if id.Admin || id.IsAgentSelf(agentID) {
		return nil
	}
	return forbidden("agent_pak_mismatch", "the PAK does not belong to this agent")
}
