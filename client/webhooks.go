package client

import (
	"time"

	"github.com/google/uuid"
)

// WebhookFilters narrows a subscription to events whose data carries the given ids. Unset
// fields are omitted.
type WebhookFilters struct {
	AgentID *uuid.UUID `json:"agent_id,omitempty"`
	StackID *uuid.UUID `json:"stack_id,omitempty"`
}

// WebhookResponse is a webhook subscription as the API shows it: the URL and Authorization
// header are never returned, only whether they are set.
type WebhookResponse struct {
	ID             uuid.UUID       `json:"id"`
	Name           string          `json:"name"`
	HasURL         bool            `json:"has_url"`
	HasAuthHeader  bool            `json:"has_auth_header"`
	EventTypes     []string        `json:"event_types"`
	Filters        *WebhookFilters `json:"filters"`
	TargetLabels   []string        `json:"target_labels"` // nil: the broker delivers
	Enabled        bool            `json:"enabled"`
	MaxRetries     int32           `json:"max_retries"`
	TimeoutSeconds int32           `json:"timeout_seconds"`
	CreatedAt      time.Time       `json:"created_at"`
	UpdatedAt      time.Time       `json:"updated_at"`
	CreatedBy      *string         `json:"created_by"`
}

// CreateWebhookRequest is the body of POST /webhooks. A nil TargetLabels is sent as null
// (the broker delivers); an empty non-nil one is stored as an empty array.
type CreateWebhookRequest struct {
	Name           string          `json:"name"`
	URL            string          `json:"url"`
	AuthHeader     *string         `json:"auth_header,omitempty"`
	EventTypes     []string        `json:"event_types"`
	Filters        *WebhookFilters `json:"filters,omitempty"`
	MaxRetries     *int32          `json:"max_retries,omitempty"`
	TimeoutSeconds *int32          `json:"timeout_seconds,omitempty"`
	TargetLabels   []string        `json:"target_labels"`
}

// UpdateWebhookRequest is the body of PUT /webhooks/{id}; nil fields are left unchanged.
type UpdateWebhookRequest struct {
	Name           *string         `json:"name,omitempty"`
	URL            *string         `json:"url,omitempty"`
	AuthHeader     *string         `json:"auth_header,omitempty"`
	EventTypes     []string        `json:"event_types,omitempty"`
	Filters        *WebhookFilters `json:"filters,omitempty"`
	Enabled        *bool           `json:"enabled,omitempty"`
	MaxRetries     *int32          `json:"max_retries,omitempty"`
	TimeoutSeconds *int32          `json:"timeout_seconds,omitempty"`
	TargetLabels   *[]string       `json:"target_labels,omitempty"`
}

// WebhookDelivery is one queued, in-flight or finished delivery of an event to a subscription.
type WebhookDelivery struct {
	ID             uuid.UUID  `json:"id"`
	SubscriptionID uuid.UUID  `json:"subscription_id"`
	EventType      string     `json:"event_type"`
	EventID        uuid.UUID  `json:"event_id"`
	Payload        string     `json:"payload"` // the JSON event envelope
	TargetLabels   []string   `json:"target_labels"`
	Status         string     `json:"status"` // pending, acquired, success, failed, dead
	AcquiredBy     *uuid.UUID `json:"acquired_by"`
	AcquiredUntil  *time.Time `json:"acquired_until"`
	Attempts       int32      `json:"attempts"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	NextRetryAt    *time.Time `json:"next_retry_at"`
	LastError      *string    `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	CompletedAt    *time.Time `json:"completed_at"`
}

// PendingWebhookDelivery is a delivery claimed by an agent, with the decrypted target.
type PendingWebhookDelivery struct {
	ID             uuid.UUID `json:"id"`
	SubscriptionID uuid.UUID `json:"subscription_id"`
	EventType      string    `json:"event_type"`
	Payload        string    `json:"payload"`
	URL            string    `json:"url"`
	AuthHeader     *string   `json:"auth_header"`
	TimeoutSeconds int32     `json:"timeout_seconds"`
	MaxRetries     int32     `json:"max_retries"`
	Attempts       int32     `json:"attempts"`
}

// DeliveryResultRequest is an agent's report of one delivery attempt.
type DeliveryResultRequest struct {
	Success    bool    `json:"success"`
	StatusCode *int32  `json:"status_code,omitempty"`
	Error      *string `json:"error,omitempty"`
	DurationMs *int64  `json:"duration_ms,omitempty"`
}

// DeliveryResultResponse is the delivery's state after a reported attempt. Attempts and
// NextRetryAt are present for failures only.
type DeliveryResultResponse struct {
	Status      string     `json:"status"` // success, failed, dead
	DeliveryID  uuid.UUID  `json:"delivery_id"`
	Attempts    *int32     `json:"attempts,omitempty"`
	NextRetryAt *time.Time `json:"next_retry_at,omitempty"`
}

// WebhookTestResponse is the outcome of a successful test delivery.
type WebhookTestResponse struct {
	Success    bool   `json:"success"`
	StatusCode int32  `json:"status_code"`
	Message    string `json:"message"`
}
