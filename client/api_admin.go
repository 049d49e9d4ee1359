package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// Admin is the handle for the audit log, configuration reloads and connection statistics.
type Admin struct{ c *Client }

// Admin returns the administration handle.
func (c *Client) Admin() *Admin { return &Admin{c: c} }

// AuditLogOptions filter and page AuditLogs; zero fields do not filter.
type AuditLogOptions struct {
	ActorType    string // admin, agent, generator or system
	ActorID      *uuid.UUID
	Action       string // exact, or a prefix when it ends in "*", e.g. "agent.*"
	ResourceType string
	ResourceID   *uuid.UUID
	From         time.Time // inclusive
	To           time.Time // exclusive
	Limit        int       // 1..1000, default 100
	Offset       int
}

// AuditLogs returns one page of audit entries, newest first, with the number of matching
// entries. Entries are written asynchronously, so an action shows up shortly after it
// (admin).
func (a *Admin) AuditLogs(ctx context.Context, opts *AuditLogOptions) (AuditLogList, error) {
	q := url.Values{}
	if o := opts; o != nil {
		set := func(k, v string) {
			if v != "" {
				q.Set(k, v)
			}
		}
		set("actor_type", o.ActorType)
		set("action", o.Action)
		set("resource_type", o.ResourceType)
		if o.ActorID != nil {
			q.Set("actor_id", o.ActorID.String())
		}
		if o.ResourceID != nil {
			q.Set("resource_id", o.ResourceID.String())
		}
		if !o.From.IsZero() {
			q.Set("from", o.From.UTC().Format(time.RFC3339Nano))
		}
		if !o.To.IsZero() {
			q.Set("to", o.To.UTC().Format(time.RFC3339Nano))
		}
		if o.Limit > 0 {
			q.Set("limit", strconv.Itoa(o.Limit))
		}
		if o.Offset > 0 {
			q.Set("offset", strconv.Itoa(o.Offset))
		}
	}
	return call[AuditLogList](ctx, a.c, request{method: http.MethodGet, path: "/admin/audit-logs", query: q})
}

// ReloadConfig makes the broker re-read its configuration and returns the dynamic settings
// that changed (admin, not the read-only key).
func (a *Admin) ReloadConfig(ctx context.Context) (ConfigReloadResponse, error) {
	return call[ConfigReloadResponse](ctx, a.c, request{method: http.MethodPost, path: "/admin/config/reload"})
}

// WSConnections returns the agent connections and live subscribers of the replica that
// answers (admin).
func (a *Admin) WSConnections(ctx context.Context) (WSConnections, error) {
	return call[WSConnections](ctx, a.c, request{method: http.MethodGet, path: "/admin/ws/connections"})
}
