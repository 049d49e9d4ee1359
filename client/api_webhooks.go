package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"
)

// Webhook delivery statuses.
const (
	DeliveryPending  = "pending"
	DeliveryAcquired = "acquired"
	DeliverySuccess  = "success"
	DeliveryFailed   = "failed"
	DeliveryDead     = "dead"
)

// Webhooks is the handle for webhook subscriptions (admin) and for the deliveries agents
// make on the broker's behalf (agents).
type Webhooks struct{ c *Client }

// Webhooks returns the webhook handle.
func (c *Client) Webhooks() *Webhooks { return &Webhooks{c: c} }

// List returns every subscription, enabled or not, newest first (admin).
func (w *Webhooks) List(ctx context.Context) ([]WebhookResponse, error) {
	return call[[]WebhookResponse](ctx, w.c, request{method: http.MethodGet, path: "/webhooks"})
}

// EventTypes returns the event types a subscription may name (admin).
func (w *Webhooks) EventTypes(ctx context.Context) ([]string, error) {
	return call[[]string](ctx, w.c, request{method: http.MethodGet, path: "/webhooks/event-types"})
}

// Create adds a subscription; its URL and Authorization header are stored encrypted and never
// returned (admin).
func (w *Webhooks) Create(ctx context.Context, req CreateWebhookRequest) (WebhookResponse, error) {
	return call[WebhookResponse](ctx, w.c, request{method: http.MethodPost, path: "/webhooks", body: req})
}

// Get returns a subscription (admin).
func (w *Webhooks) Get(ctx context.Context, id uuid.UUID) (WebhookResponse, error) {
	return call[WebhookResponse](ctx, w.c, request{method: http.MethodGet, path: path("webhooks", id)})
}

// Update changes the non-nil fields of a subscription (admin).
func (w *Webhooks) Update(ctx context.Context, id uuid.UUID, req UpdateWebhookRequest) (WebhookResponse, error) {
	return call[WebhookResponse](ctx, w.c, request{method: http.MethodPut, path: path("webhooks", id), body: req})
}

// Delete removes a subscription and its deliveries (admin).
func (w *Webhooks) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := w.c.do(ctx, request{method: http.MethodDelete, path: path("webhooks", id)}, nil)
	return err
}

// DeliveryListOptions filter and page Deliveries; zero fields take the broker's defaults.
type DeliveryListOptions struct {
	Status string // pending, acquired, success, failed or dead
	Limit  int    // default 50
	Offset int
}

// Deliveries returns a subscription's deliveries, newest first (admin).
func (w *Webhooks) Deliveries(ctx context.Context, id uuid.UUID, opts *DeliveryListOptions) ([]WebhookDelivery, error) {
	q := url.Values{}
	if opts != nil {
		if opts.Status != "" {
			q.Set("status", opts.Status)
		}
		if opts.Limit > 0 {
			q.Set("limit", strconv.Itoa(opts.Limit))
		}
		if opts.Offset > 0 {
			q.Set("offset", strconv.Itoa(opts.Offset))
		}
	}
	return call[[]WebhookDelivery](ctx, w.c, request{method: http.MethodGet, path: path("webhooks", id, "deliveries"), query: q})
}

// Test posts a synthetic webhook.test event to the subscription's URL at once. A non-2xx
// answer or a transport failure is a 400 *Error with code webhook_test_failed (admin).
func (w *Webhooks) Test(ctx context.Context, id uuid.UUID) (WebhookTestResponse, error) {
	return call[WebhookTestResponse](ctx, w.c, request{method: http.MethodPost, path: path("webhooks", id, "test")})
}

// Pending claims up to 10 pending deliveries whose target labels the agent carries, for 60
// seconds, and returns them with their decrypted targets (the agent itself, or admin).
func (w *Webhooks) Pending(ctx context.Context, agentID uuid.UUID) ([]PendingWebhookDelivery, error) {
	return call[[]PendingWebhookDelivery](ctx, w.c, request{method: http.MethodGet, path: path("agents", agentID, "webhooks", "pending")})
}

// ReportResult reports the outcome of an attempt at a delivery the calling agent claimed
// and returns the delivery's new state (agent PAK only).
func (w *Webhooks) ReportResult(ctx context.Context, deliveryID uuid.UUID, res DeliveryResultRequest) (DeliveryResultResponse, error) {
	return call[DeliveryResultResponse](ctx, w.c, request{method: http.MethodPost, path: path("webhook-deliveries", deliveryID, "result"), body: res})
}
