package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logging"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/workers"
)

// installAdmin registers the audit log query, configuration reload and the retention workers.
func (s *Server) installAdmin(g routes) {
	g.GET("/admin/audit-logs", s.listAuditLogs)
	g.POST("/admin/config/reload", s.reloadConfigHandler)
	g.POST("/admin/rotate-pak", s.rotateAdminPAK)
	s.workers.Add(workers.Worker{
		Name:     "audit-cleanup",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.AuditCleanupIntervalSeconds }),
		Run: func(ctx context.Context) error {
			days := s.Config().Broker.AuditLogRetentionDays
			if days <= 0 {
				return nil
			}
			n, err := db.DeleteAuditLogsBefore(ctx, s.db, time.Now().Add(-time.Duration(days)*24*time.Hour))
			if n > 0 {
				s.log.Info("audit log cleanup", slog.Int64("deleted", n))
			}
			return err
		},
	})
	s.workers.Add(workers.Worker{
		Name:     "agent-event-cleanup",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.AgentEventCleanupIntervalSeconds }),
		Run: func(ctx context.Context) error {
			days := s.Config().Broker.AgentEventRetentionDays
			if days <= 0 {
				return nil // 0 keeps events forever
			}
			n, err := db.DeleteAgentEventsBefore(ctx, s.db, time.Now().Add(-time.Duration(days)*24*time.Hour))
			if n > 0 {
				s.log.Info("agent event cleanup", slog.Int64("deleted", n))
			}
			return err
		},
	})
}

func (s *Server) listAuditLogs(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	f := db.AuditFilter{
		ActorType:    c.QueryParam("actor_type"),
		Action:       c.QueryParam("action"),
		ResourceType: c.QueryParam("resource_type"),
		Limit:        100,
	}
	var err error
	if f.ActorID, err = uuidQuery(c, "actor_id"); err != nil {
		return err
	}
	if f.ResourceID, err = uuidQuery(c, "resource_id"); err != nil {
		return err
	}
	if f.From, err = timeQuery(c, "from"); err != nil {
		return err
	}
	if f.To, err = timeQuery(c, "to"); err != nil {
		return err
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequest("invalid_parameter", "query parameter limit must be an integer").with("parameter", "limit")
		}
		f.Limit = min(max(n, 1), 1000)
	}
	if v := c.QueryParam("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return badRequest("invalid_parameter", "query parameter offset must be an integer").with("parameter", "offset")
		}
		f.Offset = max(n, 0)
	}
	rows, total, err := db.ListAuditLogs(c.Request().Context(), s.db, f)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, client.AuditLogList{
		Logs: mapSlice(rows, toAuditLogEntry), Total: total, Count: len(rows), Limit: f.Limit, Offset: f.Offset,
	})
}

func toAuditLogEntry(l db.AuditLog) client.AuditLogEntry {
	var details json.RawMessage
	if l.Details != nil {
		details = *l.Details
	}
	return client.AuditLogEntry{AuditLog: client.AuditLog{
		ID: l.ID, Timestamp: utc(l.Timestamp), ActorType: l.ActorType, ActorID: l.ActorID, Action: l.Action,
		ResourceType: l.ResourceType, ResourceID: l.ResourceID, Details: details, IPAddress: l.IPAddress,
		UserAgent: l.UserAgent, CreatedAt: utc(l.CreatedAt),
	}, ActorName: l.ActorName}
}

// timeQuery parses an optional RFC 3339 query parameter.
func timeQuery(c echo.Context, name string) (*time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return nil, badRequest("invalid_parameter", fmt.Sprintf("query parameter %s: %q is not an RFC 3339 time", name, v)).with("parameter", name)
	}
	return &t, nil
}

func (s *Server) reloadConfigHandler(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	if s.reload == nil {
		return apiError(http.StatusServiceUnavailable, "config_reload_disabled", "this broker was started without a reloadable configuration")
	}
	res, err := s.ReloadConfig(c)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, res)
}

// ReloadConfig re-reads the configuration and applies every hot-reloadable key. c is the
// request that asked for it, or nil for the file watcher.
func (s *Server) ReloadConfig(c echo.Context) (client.ConfigReloadResponse, error) {
	loaded, err := s.reload()
	if err != nil {
		s.log.Error("configuration reload failed; nothing changed", slog.Any("error", err))
		return client.ConfigReloadResponse{}, apiError(http.StatusInternalServerError, "internal_error",
			"configuration reload failed, nothing changed: "+err.Error())
	}
	s.cfgMu.Lock()
	before := s.cfg
	changes := config.DynamicChanges(before, loaded)
	static := config.StaticChanges(before, loaded)
	after := config.ApplyDynamic(before, loaded)
	s.cfg = after
	s.cfgMu.Unlock()

	if before.Log.Level != after.Log.Level && s.logLevel != nil {
		if err := logging.SetLevel(s.logLevel, after.Log.Level); err != nil {
			s.log.Error("apply log level", slog.Any("error", err))
		}
	}
	if before.Broker.AuthCacheTTLSeconds != after.Broker.AuthCacheTTLSeconds {
		s.authCache.setTTL(time.Duration(after.Broker.AuthCacheTTLSeconds) * time.Second)
	}
	for _, ch := range static {
		s.log.Warn("configuration change needs a restart", slog.String("key", ch.Key))
	}
	out := client.ConfigReloadResponse{ReloadedAt: time.Now().UTC(), Success: true, Changes: []client.ConfigChange{}}
	for _, ch := range changes {
		out.Changes = append(out.Changes, client.ConfigChange{Key: ch.Key, OldValue: ch.OldValue, NewValue: ch.NewValue})
		s.log.Info("configuration changed", slog.String("key", ch.Key), slog.String("old", ch.OldValue), slog.String("new", ch.NewValue))
	}
	if len(changes) == 0 {
		out.Message = "No changes detected"
	} else {
		out.Message = fmt.Sprintf("%d setting(s) updated", len(changes))
	}
	entry := audit.Entry{Action: audit.ConfigReloaded, ResourceType: audit.ResourceConfig,
		Details: map[string]any{"changes": out.Changes}}
	if c == nil {
		entry.ActorType = audit.ActorSystem
	}
	s.audit(c, entry)
	return out, nil
}

// watchConfig reloads the configuration when its file changes, 5 s after the last change,
// until ctx ends.
func (s *Server) watchConfig(ctx context.Context, path string) {
	const debounce = 5 * time.Second
	fire := make(chan struct{}, 1)
	go func() {
		var timer *time.Timer
		for {
			select {
			case <-ctx.Done():
				if timer != nil {
					timer.Stop()
				}
				return
			case <-fire:
				if timer != nil {
					timer.Stop()
				}
				timer = time.AfterFunc(debounce, func() {
					if ctx.Err() != nil {
						return
					}
					if _, err := s.ReloadConfig(nil); err != nil {
						s.log.Error("reload after file change", slog.Any("error", err))
					}
				})
			}
		}
	}()
	err := config.Watch(ctx, path, func() {
		select {
		case fire <- struct{}{}:
		default:
		}
	})
	if err != nil && ctx.Err() == nil {
		s.log.Error("configuration watcher stopped", slog.String("file", path), slog.Any("error", err))
	}
}
