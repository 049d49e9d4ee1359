package server

import (
	"context"
	"net"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/server/audit"
)

// FlushAudit waits until every audit entry recorded so far is stored.
func (s *Server) FlushAudit(ctx context.Context) { s.auditor.Flush(ctx) }

// Close stops what New started (the audit writer, writing what is queued, and the rollout
// steps deferred after agents' reports).
func (s *Server) Close() {
	s.rollouts.Close()
	s.auditor.Close()
}

// audit records an entry for the request c (c may be nil for system actions): the caller is
// the actor unless the entry names one, and the client's address and user agent are kept.
// auth.failed entries are rate-limited per client address.
func (s *Server) audit(c echo.Context, e audit.Entry) {
	if c == nil {
		s.auditor.Record(e)
		return
	}
	if e.Action == audit.AuthFailed && !s.auditor.AdmitFailedAuth(c.Request()) {
		return
	}
	if e.ActorType == "" {
		who := identity(c)
		switch {
		case who.Admin:
			e.ActorType = audit.ActorAdmin
			if who.ReadOnlyPAKID != uuid.Nil {
				e.ActorID = ptr(who.ReadOnlyPAKID)
			}
		case who.IsAgent():
			e.ActorType, e.ActorID = audit.ActorAgent, ptr(who.AgentID)
		case who.IsGenerator():
			e.ActorType, e.ActorID = audit.ActorGenerator, ptr(who.GeneratorID)
		default:
			e.ActorType = audit.ActorSystem
		}
	}
	if ip := clientIP(c); ip != "" {
		e.IPAddress = &ip
	}
	if ua := c.Request().UserAgent(); ua != "" {
		e.UserAgent = &ua
	}
	s.auditor.Record(e)
}

// clientIP is the first X-Forwarded-For entry, else the connection's address.
func clientIP(c echo.Context) string {
	if xff := c.Request().Header.Get(echo.HeaderXForwardedFor); xff != "" {
		return strings.TrimSpace(strings.Split(xff, ",")[0])
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

func ptr[T any](v T) *T { return &v }
