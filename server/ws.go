package server

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/live"
)

// The WebSocket routes authenticate and authorize the upgrade request here; the live hub
// upgrades it and serves the channel. Each reads the hub's revocation epoch before the key is
// resolved, so that a revocation racing the upgrade still closes the socket.

// socketIdentity authenticates a WebSocket upgrade request like the API does: the
// Authorization header, or, when allowed and the header is absent, a subprotocol
// "brokkr.pak.<PAK>". It returns the identity and what the socket keeps for its re-checks.
// On failure it has answered (401, or 500 when the lookup failed) with an empty body and
// returns false.
func (s *Server) socketIdentity(c echo.Context, allowSubprotocol bool) (Identity, live.Grant, bool) {
	r := c.Request()
	header := r.Header.Get(echo.HeaderAuthorization)
	if strings.TrimSpace(header) == "" && allowSubprotocol {
		header = pakFromSubprotocols(r.Header)
	}
	if strings.TrimSpace(header) == "" {
		_ = c.NoContent(http.StatusUnauthorized)
		return Identity{}, live.Grant{}, false
	}
	id, err := s.resolve(r.Context(), header)
	if errors.Is(err, errUnknownPAK) {
		s.audit(c, audit.Entry{ActorType: audit.ActorSystem, Action: audit.AuthFailed, ResourceType: audit.ResourceSystem,
			Details: map[string]any{"reason": "invalid_pak", "path": r.URL.Path}})
	}
	if err != nil {
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
			_ = c.NoContent(http.StatusUnauthorized)
		} else {
			s.log.ErrorContext(r.Context(), "authenticate WebSocket upgrade", slog.String("path", r.URL.Path), slog.Any("error", err))
			_ = c.NoContent(http.StatusInternalServerError)
		}
		return Identity{}, live.Grant{}, false
	}
	grant := live.Grant{
		PAKHash:  pakHashOf(header),
		Key:      id.stored(),
		ReadOnly: id.ReadOnly && id.ReadOnlyPAKID == uuid.Nil,
	}
	return id, grant, true
}

// pakHashOf returns the hash of the PAK in an Authorization value that resolve accepted.
func pakHashOf(header string) string {
	key, err := pak.FromHeader(header)
	if err != nil {
		return ""
	}
	hash, err := pak.Hash(key)
	if err != nil {
		return ""
	}
	return hash
}

// pakFromSubprotocols returns the PAK a client offered as a "brokkr.pak.<PAK>" subprotocol.
func pakFromSubprotocols(h http.Header) string {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(v, ",") {
			if key, ok := strings.CutPrefix(strings.TrimSpace(p), client.WSPAKSubprotocolPrefix); ok {
				return key
			}
		}
	}
	return ""
}

// agentSocket is GET /internal/ws/agent: the agents' two-way channel.
func (s *Server) agentSocket(c echo.Context) error {
	epoch := s.live.Epoch()
	id, grant, ok := s.socketIdentity(c, false)
	if !ok {
		return nil
	}
	if !id.IsAgent() {
		return c.NoContent(http.StatusForbidden)
	}
	// The status decides whether a later deactivation closes the channel.
	a, err := db.GetAgent(c.Request().Context(), s.db, id.AgentID)
	if errors.Is(err, db.ErrNotFound) {
		return c.NoContent(http.StatusUnauthorized) // deleted since its key was resolved
	}
	if err != nil {
		s.log.ErrorContext(c.Request().Context(), "read agent status", slog.Any("error", err))
		return c.NoContent(http.StatusInternalServerError)
	}
	s.live.ServeAgent(c.Response(), c.Request(), id.AgentID, a.Status, grant, epoch)
	return nil
}

// stackLiveSocket is GET /api/v1/stacks/{id}/live: a read-only tail of the telemetry agents
// report for a stack (k8s_event, pod_log_line, log_gap). The admin may watch any stack, a
// generator its own live stacks.
func (s *Server) stackLiveSocket(c echo.Context) error {
	epoch := s.live.Epoch()
	id, grant, ok := s.socketIdentity(c, true)
	if !ok {
		return nil
	}
	stackID, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if !id.Admin {
		if !id.IsGenerator() {
			return c.NoContent(http.StatusForbidden)
		}
		st, err := db.GetStack(c.Request().Context(), s.db, stackID)
		if errors.Is(err, db.ErrNotFound) || err == nil && st.GeneratorID != id.GeneratorID {
			return c.NoContent(http.StatusForbidden)
		}
		if err != nil {
			s.log.ErrorContext(c.Request().Context(), "authorize stack live tail", slog.Any("error", err))
			return c.NoContent(http.StatusInternalServerError)
		}
	}
	s.live.ServeStackTail(c.Response(), c.Request(), stackID, grant, epoch)
	return nil
}

// fleetLiveSocket is GET /api/v1/fleet/live: fleet_update frames for the admin.
func (s *Server) fleetLiveSocket(c echo.Context) error {
	epoch := s.live.Epoch()
	id, grant, ok := s.socketIdentity(c, true)
	if !ok {
		return nil
	}
	if !id.Admin {
		return c.NoContent(http.StatusForbidden)
	}
	s.live.ServeFleet(c.Response(), c.Request(), grant, epoch)
	return nil
}
