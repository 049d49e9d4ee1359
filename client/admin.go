package client

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// AuditLog is one audited action.
type AuditLog struct {
	ID           uuid.UUID       `json:"id"`
	Timestamp    time.Time       `json:"timestamp"`
	ActorType    string          `json:"actor_type"`
	ActorID      *uuid.UUID      `json:"actor_id"`
	Action       string          `json:"action"`
	ResourceType string          `json:"resource_type"`
	ResourceID   *uuid.UUID      `json:"resource_id"`
	Details      json.RawMessage `json:"details"`
	IPAddress    *string         `json:"ip_address,omitempty"`
	UserAgent    *string         `json:"user_agent,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
}

// AuditLogEntry is an audit row with the actor's display name.
type AuditLogEntry struct {
	AuditLog
	ActorName *string `json:"actor_name"`
}

// AuditLogList is one page of GET /admin/audit-logs.
type AuditLogList struct {
	Logs   []AuditLogEntry `json:"logs"`
	Total  int64           `json:"total"`
	Count  int             `json:"count"`
	Limit  int             `json:"limit"`
	Offset int             `json:"offset"`
}

// ConfigChange is one configuration key changed by a reload.
type ConfigChange struct {
	Key      string `json:"key"`
	OldValue string `json:"old_value"`
	NewValue string `json:"new_value"`
}

// ConfigReloadResponse is the result of POST /admin/config/reload.
type ConfigReloadResponse struct {
	ReloadedAt time.Time      `json:"reloaded_at"`
	Changes    []ConfigChange `json:"changes"`
	Success    bool           `json:"success"`
	Message    string         `json:"message"`
}
