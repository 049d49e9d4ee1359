package server

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/webhooks"
)

const (
	webhookDefaultMaxRetries     = 5
	webhookDefaultTimeoutSeconds = 30
	webhookMaxNameBytes          = 255
)

// installWebhooks registers the webhook routes, the delivery workers and the transaction
// hook that queues deliveries.
func (s *Server) installWebhooks(g routes) {
	s.webhooks = webhooks.New(webhooks.Options{DB: s.db, Logger: s.log, Registry: s.metrics.registry,
		Config: s.Config, Audit: s.auditor, TracerProvider: s.tracerProvider})

	g.GET("/webhooks", s.listWebhooks)
	g.POST("/webhooks", s.createWebhook)
	g.GET("/webhooks/event-types", s.webhookEventTypes)
	g.GET("/webhooks/:id", s.getWebhook)
	g.PUT("/webhooks/:id", s.updateWebhook)
	g.DELETE("/webhooks/:id", s.deleteWebhook)
	g.GET("/webhooks/:id/deliveries", s.listWebhookDeliveries)
	g.POST("/webhooks/:id/test", s.testWebhook)
	g.GET("/agents/:agent_id/webhooks/pending", s.pendingWebhookDeliveries)
	g.POST("/webhook-deliveries/:id/result", s.reportWebhookResult)

	s.bus.AddTxHook(s.webhooks.Emit)
	s.workers.Add(s.webhooks.Workers()...)
}

var errWebhookNotFound = notFound("webhook_not_found", "webhook subscription not found")

func toWebhookResponse(sub db.WebhookSubscription) client.WebhookResponse {
	types := []string(sub.EventTypes)
	if types == nil {
		types = []string{}
	}
	return client.WebhookResponse{
		ID: sub.ID, Name: sub.Name, HasURL: len(sub.URLEncrypted) > 0, HasAuthHeader: sub.AuthHeaderEncrypted != nil,
		EventTypes: types, Filters: parseStoredFilters(sub.Filters), TargetLabels: []string(sub.TargetLabels),
		Enabled: sub.Enabled, MaxRetries: sub.MaxRetries, TimeoutSeconds: sub.TimeoutSeconds,
		CreatedAt: utc(sub.CreatedAt), UpdatedAt: utc(sub.UpdatedAt), CreatedBy: sub.CreatedBy,
	}
}

func toWebhookDelivery(d db.WebhookDelivery) client.WebhookDelivery {
	return client.WebhookDelivery{
		ID: d.ID, SubscriptionID: d.SubscriptionID, EventType: d.EventType, EventID: d.EventID, Payload: d.Payload,
		TargetLabels: []string(d.TargetLabels), Status: d.Status, AcquiredBy: d.AcquiredBy,
		AcquiredUntil: utcp(d.AcquiredUntil), Attempts: d.Attempts, LastAttemptAt: utcp(d.LastAttemptAt),
		NextRetryAt: utcp(d.NextRetryAt), LastError: d.LastError, CreatedAt: utc(d.CreatedAt),
		CompletedAt: utcp(d.CompletedAt),
	}
}

// parseStoredFilters reads a stored filters document; one that does not parse shows as null.
func parseStoredFilters(stored *string) *client.WebhookFilters {
	if stored == nil {
		return nil
	}
	var f *client.WebhookFilters
	if json.Unmarshal([]byte(*stored), &f) != nil {
		return nil
	}
	return f
}

func (s *Server) listWebhooks(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	rows, err := db.ListWebhookSubscriptions(c.Request().Context(), s.db)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toWebhookResponse))
}

func (s *Server) webhookEventTypes(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	return reply(c, http.StatusOK, events.Catalogue())
}

// stringList is a JSON array of strings that, unlike []string, refuses null elements.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var elems []*string
	if err := json.Unmarshal(b, &elems); err != nil {
		return err
	}
	if elems == nil {
		return errors.New("expected an array of strings, got null")
	}
	out := make(stringList, len(elems))
	for i, e := range elems {
		if e == nil {
			return fmt.Errorf("element %d: expected a string, got null", i)
		}
		out[i] = *e
	}
	*l = out
	return nil
}

// webhookBody holds the fields of a create or update body; nil means absent or null.
type webhookBody struct {
	Name           *string           `json:"name"`
	URL            *string           `json:"url"`
	AuthHeader     *string           `json:"auth_header"`
	EventTypes     *stringList       `json:"event_types"`
	Filters        *webhooks.Filters `json:"filters"`
	TargetLabels   *stringList       `json:"target_labels"`
	Enabled        *bool             `json:"enabled"`
	MaxRetries     *int32            `json:"max_retries"`
	TimeoutSeconds *int32            `json:"timeout_seconds"`
}

// parseWebhookBody reads a create (create=true) or update body. The handler parses the body
// itself so that the two removed fields are answered with 422 unsupported_field before any
// shape error: a top-level validate key (create only) and filters.labels, whatever their value.
func parseWebhookBody(c echo.Context, create bool) (webhookBody, error) {
	var raw json.RawMessage
	if err := bindJSON(c, &raw); err != nil {
		return webhookBody{}, err
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) == nil {
		if _, ok := top["validate"]; ok && create {
			return webhookBody{}, apiError(http.StatusUnprocessableEntity, "unsupported_field",
				"`validate` is no longer accepted: it never sent a test request; create the subscription, "+
					"then call POST /webhooks/{id}/test").with("field", "validate").with("use_instead", "POST /webhooks/{id}/test")
		}
		var filters map[string]json.RawMessage
		if f, ok := top["filters"]; ok && json.Unmarshal(f, &filters) == nil {
			if _, ok := filters["labels"]; ok {
				return webhookBody{}, apiError(http.StatusUnprocessableEntity, "unsupported_field",
					"`filters.labels` is no longer accepted: it was never evaluated; use target_labels for "+
						"label-based delivery, or filters.agent_id / filters.stack_id").
					with("field", "filters.labels").with("use_instead", "target_labels")
			}
		}
	}
	var body webhookBody
	if err := decodeJSON(raw, &body); err != nil {
		return webhookBody{}, err
	}
	return body, nil
}

// checkWebhookRanges answers 422 invalid_webhook for out-of-range retry and timeout settings.
func checkWebhookRanges(b webhookBody) error {
	if b.MaxRetries != nil && (*b.MaxRetries < 0 || *b.MaxRetries > 10) {
		return apiError(http.StatusUnprocessableEntity, "invalid_webhook", "max_retries must be between 0 and 10")
	}
	if b.TimeoutSeconds != nil && (*b.TimeoutSeconds < 1 || *b.TimeoutSeconds > 300) {
		return apiError(http.StatusUnprocessableEntity, "invalid_webhook", "timeout_seconds must be between 1 and 300")
	}
	return nil
}

func checkWebhookURL(url string) error {
	if strings.TrimSpace(url) == "" {
		return badRequest("url_required", "URL is required")
	}
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return badRequest("invalid_url_scheme", "URL must start with http:// or https://")
	}
	return nil
}

func checkWebhookName(name string) error {
	if strings.TrimSpace(name) == "" {
		return badRequest("invalid_webhook", "name cannot be empty")
	}
	if len(name) > webhookMaxNameBytes {
		return badRequest("invalid_webhook", "name cannot exceed 255 characters")
	}
	return nil
}

func checkWebhookEventTypes(types []string) error {
	if len(types) == 0 {
		return badRequest("invalid_webhook", "at least one event type is required")
	}
	return nil
}

func (s *Server) createWebhook(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	body, err := parseWebhookBody(c, true)
	if err != nil {
		return err
	}
	if err := requireFields(field{"name", body.Name != nil}, field{"url", body.URL != nil},
		field{"event_types", body.EventTypes != nil}); err != nil {
		return err
	}
	if err := checkWebhookURL(*body.URL); err != nil {
		return err
	}
	if err := checkWebhookName(*body.Name); err != nil {
		return err
	}
	if err := checkWebhookEventTypes(*body.EventTypes); err != nil {
		return err
	}
	if err := checkWebhookRanges(body); err != nil {
		return err
	}
	n := db.NewWebhookSubscription{
		Name: *body.Name, EventTypes: *body.EventTypes, Enabled: true,
		MaxRetries: webhookDefaultMaxRetries, TimeoutSeconds: webhookDefaultTimeoutSeconds, CreatedBy: ptr("admin"),
	}
	if body.MaxRetries != nil {
		n.MaxRetries = *body.MaxRetries
	}
	if body.TimeoutSeconds != nil {
		n.TimeoutSeconds = *body.TimeoutSeconds
	}
	if body.TargetLabels != nil {
		n.TargetLabels = db.TextArray(*body.TargetLabels)
	}
	if n.Filters, err = body.Filters.Stored(); err != nil {
		return err
	}
	if n.URLEncrypted, err = s.webhooks.Seal(*body.URL); err != nil {
		return err
	}
	if body.AuthHeader != nil {
		if n.AuthHeaderEncrypted, err = s.webhooks.Seal(*body.AuthHeader); err != nil {
			return err
		}
	}
	sub, err := db.CreateWebhookSubscription(c.Request().Context(), s.db, n)
	if err != nil {
		return err
	}
	s.audit(c, audit.Entry{Action: audit.WebhookCreated, ResourceType: audit.ResourceWebhook, ResourceID: ptr(sub.ID),
		Details: map[string]any{"name": sub.Name, "event_types": []string(sub.EventTypes)}})
	return reply(c, http.StatusCreated, toWebhookResponse(sub))
}

// subscription loads the subscription of the path for the admin.
func (s *Server) webhookSubscription(c echo.Context) (db.WebhookSubscription, error) {
	if err := requireAdmin(identity(c)); err != nil {
		return db.WebhookSubscription{}, err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return db.WebhookSubscription{}, err
	}
	sub, err := db.GetWebhookSubscription(c.Request().Context(), s.db, id)
	return sub, orNotFound(err, errWebhookNotFound)
}

func (s *Server) getWebhook(c echo.Context) error {
	sub, err := s.webhookSubscription(c)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toWebhookResponse(sub))
}

func (s *Server) updateWebhook(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	body, err := parseWebhookBody(c, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := db.GetWebhookSubscription(ctx, s.db, id); err != nil {
		return orNotFound(err, errWebhookNotFound)
	}
	if err := checkWebhookRanges(body); err != nil {
		return err
	}
	// Unlike the reference, an update is held to the rules of a create: a blank or overlong
	// name, an unusable URL or an empty event list would otherwise be stored.
	if body.Name != nil {
		if err := checkWebhookName(*body.Name); err != nil {
			return err
		}
	}
	if body.URL != nil {
		if err := checkWebhookURL(*body.URL); err != nil {
			return err
		}
	}
	if body.EventTypes != nil {
		if err := checkWebhookEventTypes(*body.EventTypes); err != nil {
			return err
		}
	}
	u := db.WebhookSubscriptionUpdate{Name: body.Name, Enabled: body.Enabled, MaxRetries: body.MaxRetries,
		TimeoutSeconds: body.TimeoutSeconds}
	if body.EventTypes != nil {
		u.EventTypes = db.TextArray(*body.EventTypes)
	}
	if body.TargetLabels != nil {
		u.TargetLabels = db.TextArray(*body.TargetLabels)
	}
	if u.Filters, err = body.Filters.Stored(); err != nil {
		return err
	}
	if body.URL != nil {
		if u.URLEncrypted, err = s.webhooks.Seal(*body.URL); err != nil {
			return err
		}
	}
	if body.AuthHeader != nil {
		if u.AuthHeaderEncrypted, err = s.webhooks.Seal(*body.AuthHeader); err != nil {
			return err
		}
	}
	sub, err := db.UpdateWebhookSubscription(ctx, s.db, id, u)
	if err != nil {
		return orNotFound(err, errWebhookNotFound)
	}
	s.audit(c, audit.Entry{Action: audit.WebhookUpdated, ResourceType: audit.ResourceWebhook, ResourceID: ptr(sub.ID),
		Details: map[string]any{"name": sub.Name, "enabled": sub.Enabled}})
	return reply(c, http.StatusOK, toWebhookResponse(sub))
}

func (s *Server) deleteWebhook(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := db.DeleteWebhookSubscription(c.Request().Context(), s.db, id); err != nil {
		return orNotFound(err, errWebhookNotFound)
	}
	s.audit(c, audit.Entry{Action: audit.WebhookDeleted, ResourceType: audit.ResourceWebhook, ResourceID: ptr(id)})
	return c.NoContent(http.StatusNoContent)
}
