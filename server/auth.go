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
)

// Identity is the caller behind a PAK.
type Identity struct {
	Admin       bool
	ReadOnly    bool      // the in-memory read-only admin key: reads only
	AgentID     uuid.UUID // non-nil for agents
	GeneratorID uuid.UUID // non-nil for generators
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
type authCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]cacheEntry
	now     func() time.Time
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

func (a *authCache) put(hash string, id Identity) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ttl <= 0 {
		return
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
}

func (a *authCache) evict(hashes ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, h := range hashes {
		delete(a.entries, h)
	}
}

func (a *authCache) setTTL(ttl time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.ttl = ttl
	if ttl <= 0 {
		a.entries = map[string]cacheEntry{}
	}
}

func (a *authCache) clear() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.entries = map[string]cacheEntry{}
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
		return Identity{Admin: true, ReadOnly: true}, nil
	}
	if id, ok := s.authCache.get(hash); ok {
		return id, nil
	}
	dbID, err := db.ResolvePAKHash(ctx, s.db, hash)
	if errors.Is(err, db.ErrNotFound) {
		return Identity{}, errUnknownPAK
	}
	if err != nil {
		return Identity{}, err
	}
	id := Identity{Admin: dbID.Admin, AgentID: dbID.AgentID, GeneratorID: dbID.GeneratorID}
	s.authCache.put(hash, id)
	return id, nil
}

// readOnlyAllowed lists the writes the read-only admin key may still make.
func readOnlyAllowed(method, route string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return true
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
			s.audit(c, AuditEntry{ActorType: "system", Action: AuditAuthFailed, ResourceType: ResourceSystem,
				Details: map[string]any{"reason": "invalid_pak", "path": c.Request().URL.Path}})
		}
		if err != nil {
			return err
		}
		if id.ReadOnly && !readOnlyAllowed(c.Request().Method, c.Path()) {
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
