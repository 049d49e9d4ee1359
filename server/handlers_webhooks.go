package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/secretbox"
)

// webhookEventTypes is the catalogue GET /webhooks/event-types answers, in its order.
var webhookEventTypes = []string{
	EventAgentRegistered, EventAgentDeregistered, EventStackCreated, EventStackDeleted,
	EventDeploymentCreated, EventDeploymentApplied, EventDeploymentFailed, EventDeploymentDeleted,
	EventWorkOrderCreated, EventWorkOrderClaimed, EventWorkOrderCompleted, EventWorkOrderFailed,
}

const (
	webhookDefaultMaxRetries     = 5
	webhookDefaultTimeoutSeconds = 30
	webhookMaxNameBytes          = 255

	// agentWebhookBatch and agentWebhookClaimTTL bound what one agent poll claims.
	agentWebhookBatch    = 10
	agentWebhookClaimTTL = 60 * time.Second
)

// processWebhookKey is the random key used when broker.webhook_encryption_key is unset: one per
// process, so secrets stored with it are lost at restart (checkWebhookKey refuses to start
// over existing subscriptions in that case).
var processWebhookKey = sync.OnceValues(secretbox.Random)

// webhooks is the webhook subsystem of one broker: subscription API, agent delivery API,
// event emission and the delivery workers.
type webhooks struct {
	s               *Server
	client          *http.Client
	decryptFailures *prometheus.CounterVec

	boxOnce sync.Once
	box     *secretbox.Box
	boxErr  error
}

// installWebhooks registers its routes, workers and event hooks.
func (s *Server) installWebhooks(g routes) {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = webhookSendConcurrency
	w := &webhooks{
		s:      s,
		client: &http.Client{Transport: transport}, // each request carries its own timeout
		decryptFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_webhook_decrypt_failures_total",
			Help: "Webhook secrets that could not be decrypted, by field (url, auth_header) and delivery path (broker, agent).",
		}, []string{"field", "path"}),
	}
	for _, field := range []string{"url", "auth_header"} {
		for _, path := range []string{"broker", "agent"} {
			w.decryptFailures.WithLabelValues(field, path)
		}
	}
	s.metrics.registry.MustRegister(w.decryptFailures)

	g.GET("/webhooks", w.list)
	g.POST("/webhooks", w.create)
	g.GET("/webhooks/event-types", w.eventTypes)
	g.GET("/webhooks/:id", w.get)
	g.PUT("/webhooks/:id", w.update)
	g.DELETE("/webhooks/:id", w.delete)
	g.GET("/webhooks/:id/deliveries", w.deliveries)
	g.POST("/webhooks/:id/test", w.test)
	g.GET("/agents/:agent_id/webhooks/pending", w.pendingForAgent)
	g.POST("/webhook-deliveries/:id/result", w.reportResult)

	s.bus.AddTxHook(w.emit)
	s.addWorker(worker{
		name:     "webhook-delivery",
		interval: seconds(func(b config.BrokerSettings) int { return b.WebhookDeliveryIntervalSeconds }),
		run:      w.deliverDue,
	})
	s.addWorker(worker{
		name:     "webhook-cleanup",
		interval: func(config.Broker) time.Duration { return time.Hour },
		run:      w.cleanup,
	})
}

// checkWebhookKey runs at start. With broker.webhook_encryption_key set it checks the key.
// Without it, existing subscriptions could never be decrypted again (their key died with the
// process that created them), so the broker refuses to start; with no subscriptions it uses a
// random key for this process and says so.
func (s *Server) checkWebhookKey(ctx context.Context) error {
	if key := s.Config().Broker.WebhookEncryptionKey; key != "" {
		box, err := secretbox.ParseHexKey(key)
		if err != nil {
			return fmt.Errorf("broker.webhook_encryption_key: %w", err)
		}
		s.log.Info("webhook encryption key configured", slog.String("fingerprint", box.Fingerprint()))
		return nil
	}
	exist, err := db.WebhookSubscriptionsExist(ctx, s.db)
	if err != nil {
		return fmt.Errorf("check for webhook subscriptions: %w", err)
	}
	if exist {
		return errors.New("webhook subscriptions exist but broker.webhook_encryption_key is not set, so their " +
			"URLs and auth headers cannot be decrypted; set broker.webhook_encryption_key to the 64-hex-character " +
			"key they were created with")
	}
	if _, err := processWebhookKey(); err != nil {
		return err
	}
	s.log.Warn("broker.webhook_encryption_key is not set: webhook secrets are encrypted with a random key " +
		"for this process, and subscriptions created now become undecryptable after a restart; " +
		"set broker.webhook_encryption_key (64 hex characters) for production")
	return nil
}

// secrets returns the box that seals and opens webhook URLs and auth headers.
func (w *webhooks) secrets() (*secretbox.Box, error) {
	w.boxOnce.Do(func() {
		if key := w.s.Config().Broker.WebhookEncryptionKey; key != "" {
			w.box, w.boxErr = secretbox.ParseHexKey(key)
		} else {
			w.box, w.boxErr = processWebhookKey()
		}
	})
	return w.box, w.boxErr
}

// seal encrypts a secret for storage.
func (w *webhooks) seal(v string) ([]byte, error) {
	box, err := w.secrets()
	if err != nil {
		return nil, err
	}
	return box.SealString(v)
}

// target is a subscription's decrypted endpoint.
type target struct {
	url        string
	authHeader *string
}

// decryptError is a stored webhook secret that cannot be decrypted.
type decryptError struct {
	field string // url or auth_header
	err   error
}

func (e *decryptError) Error() string { return "decrypt webhook " + e.field + ": " + e.err.Error() }
func (e *decryptError) Unwrap() error { return e.err }

// lastError is how the failure is recorded on a delivery.
func (e *decryptError) lastError() string {
	name := "URL"
	if e.field == "auth_header" {
		name = "auth header"
	}
	return fmt.Sprintf("Failed to decrypt %s: %v", name, e.err)
}

// open decrypts a subscription's URL and auth header (nil: none). A failure returns a
// *decryptError and, when path is set (broker or agent), counts in
// brokkr_webhook_decrypt_failures_total.
func (w *webhooks) open(urlEnc, authEnc []byte, path string) (target, error) {
	box, err := w.secrets()
	if err != nil {
		return target{}, err
	}
	fail := func(field string, err error) (target, error) {
		if path != "" {
			w.decryptFailures.WithLabelValues(field, path).Inc()
		}
		return target{}, &decryptError{field: field, err: err}
	}
	url, err := box.OpenString(urlEnc)
	if err != nil {
		return fail("url", err)
	}
	t := target{url: url}
	if authEnc != nil {
		h, err := box.OpenString(authEnc)
		if err != nil {
			return fail("auth_header", err)
		}
		t.authHeader = &h
	}
	return t, nil
}

var errWebhookNotFound = notFound("webhook_not_found", "webhook subscription not found")

func toWebhookResponse(sub db.WebhookSubscription) client.WebhookResponse {
	events := []string(sub.EventTypes)
	if events == nil {
		events = []string{}
	}
	return client.WebhookResponse{
		ID: sub.ID, Name: sub.Name, HasURL: len(sub.URLEncrypted) > 0, HasAuthHeader: sub.AuthHeaderEncrypted != nil,
		EventTypes: events, Filters: parseStoredFilters(sub.Filters), TargetLabels: []string(sub.TargetLabels),
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

func (w *webhooks) list(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	rows, err := db.ListWebhookSubscriptions(c.Request().Context(), w.s.db)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toWebhookResponse))
}

func (w *webhooks) eventTypes(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	return reply(c, http.StatusOK, webhookEventTypes)
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

// filtersBody is the filters object of a create or update body.
type filtersBody struct {
	AgentID *uuid.UUID `json:"agent_id"`
	StackID *uuid.UUID `json:"stack_id"`
}

// stored renders filters the way they are kept in webhook_subscriptions.filters.
func (f *filtersBody) stored() (*string, error) {
	if f == nil {
		return nil, nil
	}
	b, err := json.Marshal(client.WebhookFilters{AgentID: f.AgentID, StackID: f.StackID})
	if err != nil {
		return nil, fmt.Errorf("encode filters: %w", err)
	}
	s := string(b)
	return &s, nil
}

// webhookBody holds the fields of a create or update body; nil means absent or null.
type webhookBody struct {
	Name           *string      `json:"name"`
	URL            *string      `json:"url"`
	AuthHeader     *string      `json:"auth_header"`
	EventTypes     *stringList  `json:"event_types"`
	Filters        *filtersBody `json:"filters"`
	TargetLabels   *stringList  `json:"target_labels"`
	Enabled        *bool        `json:"enabled"`
	MaxRetries     *int32       `json:"max_retries"`
	TimeoutSeconds *int32       `json:"timeout_seconds"`
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

func (w *webhooks) create(c echo.Context) error {
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
	if n.Filters, err = body.Filters.stored(); err != nil {
		return err
	}
	if n.URLEncrypted, err = w.seal(*body.URL); err != nil {
		return err
	}
	if body.AuthHeader != nil {
		if n.AuthHeaderEncrypted, err = w.seal(*body.AuthHeader); err != nil {
			return err
		}
	}
	sub, err := db.CreateWebhookSubscription(c.Request().Context(), w.s.db, n)
	if err != nil {
		return err
	}
	w.s.audit(c, AuditEntry{Action: AuditWebhookCreated, ResourceType: ResourceWebhook, ResourceID: ptr(sub.ID),
		Details: map[string]any{"name": sub.Name, "event_types": []string(sub.EventTypes)}})
	return reply(c, http.StatusCreated, toWebhookResponse(sub))
}

// subscription loads the subscription of the path for the admin.
func (w *webhooks) subscription(c echo.Context) (db.WebhookSubscription, error) {
	if err := requireAdmin(identity(c)); err != nil {
		return db.WebhookSubscription{}, err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return db.WebhookSubscription{}, err
	}
	sub, err := db.GetWebhookSubscription(c.Request().Context(), w.s.db, id)
	return sub, orNotFound(err, errWebhookNotFound)
}

func (w *webhooks) get(c echo.Context) error {
	sub, err := w.subscription(c)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, toWebhookResponse(sub))
}

func (w *webhooks) update(c echo.Context) error {
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
	if _, err := db.GetWebhookSubscription(ctx, w.s.db, id); err != nil {
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
	if u.Filters, err = body.Filters.stored(); err != nil {
		return err
	}
	if body.URL != nil {
		if u.URLEncrypted, err = w.seal(*body.URL); err != nil {
			return err
		}
	}
	if body.AuthHeader != nil {
		if u.AuthHeaderEncrypted, err = w.seal(*body.AuthHeader); err != nil {
			return err
		}
	}
	sub, err := db.UpdateWebhookSubscription(ctx, w.s.db, id, u)
	if err != nil {
		return orNotFound(err, errWebhookNotFound)
	}
	w.s.audit(c, AuditEntry{Action: AuditWebhookUpdated, ResourceType: ResourceWebhook, ResourceID: ptr(sub.ID),
		Details: map[string]any{"name": sub.Name, "enabled": sub.Enabled}})
	return reply(c, http.StatusOK, toWebhookResponse(sub))
}

func (w *webhooks) delete(c echo.Context) error {
	if err := requireAdmin(identity(c)); err != nil {
		return err
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	if err := db.DeleteWebhookSubscription(c.Request().Context(), w.s.db, id); err != nil {
		return orNotFound(err, errWebhookNotFound)
	}
	w.s.audit(c, AuditEntry{Action: AuditWebhookDeleted, ResourceType: ResourceWebhook, ResourceID: ptr(id)})
	return c.NoContent(http.StatusNoContent)
}

// int64Query parses an optional non-negative integer query parameter.
func int64Query(c echo.Context, name string, def int64) (int64, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("invalid_parameter", fmt.Sprintf("query parameter %s must be a non-negative integer", name)).
			with("parameter", name)
	}
	return n, nil
}

func (w *webhooks) deliveries(c echo.Context) error {
	sub, err := w.subscription(c)
	if err != nil {
		return err
	}
	limit, err := int64Query(c, "limit", 50)
	if err != nil {
		return err
	}
	limit = min(limit, maxDeliveriesLimit)
	offset, err := int64Query(c, "offset", 0)
	if err != nil {
		return err
	}
	var status *string
	if v := c.QueryParam("status"); v != "" {
		status = &v
	}
	rows, err := db.ListWebhookDeliveries(c.Request().Context(), w.s.db, sub.ID, status, limit, offset)
	if err != nil {
		return err
	}
	return reply(c, http.StatusOK, mapSlice(rows, toWebhookDelivery))
}

// testBodyLimit is how much of a failed test's response body is reported.
const testBodyLimit = 500

func (w *webhooks) test(c echo.Context) error {
	sub, err := w.subscription(c)
	if err != nil {
		return err
	}
	t, err := w.open(sub.URLEncrypted, sub.AuthHeaderEncrypted, "")
	if err != nil {
		return fmt.Errorf("test webhook %s: %w", sub.ID, err)
	}
	payload, err := encodeEvent(Event{ID: uuid.New(), Type: "webhook.test", Timestamp: time.Now().UTC(),
		Data: map[string]any{"message": "This is a test webhook delivery from Brokkr", "subscription_id": sub.ID}})
	if err != nil {
		return err
	}
	res := w.post(c.Request().Context(), t, payload, sub.TimeoutSeconds)
	switch {
	case res.err != nil:
		return badRequest("webhook_test_failed", "request failed: "+res.err.Error())
	case res.status < 200 || res.status > 299:
		return badRequest("webhook_test_failed", fmt.Sprintf("endpoint returned HTTP %d", res.status)).
			with("status_code", res.status).with("body", truncateRunes(res.body, testBodyLimit))
	}
	return reply(c, http.StatusOK, client.WebhookTestResponse{
		Success: true, StatusCode: int32(res.status), Message: "Test delivery successful",
	})
}

func (w *webhooks) pendingForAgent(c echo.Context) error {
	agentID, err := selfAgent(c, "agent_id")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := db.GetAgent(ctx, w.s.db, agentID); err != nil {
		return agentNotFound(err)
	}
	claimed, err := db.ClaimAgentWebhookDeliveries(ctx, w.s.db, agentID, agentWebhookBatch, agentWebhookClaimTTL, claimSlack)
	if err != nil {
		return err
	}
	out := make([]client.PendingWebhookDelivery, 0, len(claimed))
	for _, d := range claimed {
		t, err := w.open(d.URLEncrypted, d.AuthHeaderEncrypted, "agent")
		if err != nil {
			// Every later claim would fail the same way: end the delivery rather than let it
			// cycle through claims without ever counting an attempt.
			w.s.log.Error("webhook secret cannot be decrypted", slog.String("subscription_id", d.SubscriptionID.String()),
				slog.Any("err", err))
			w.settle(ctx, d, outcome{message: failureText(err)})
			continue
		}
		out = append(out, client.PendingWebhookDelivery{
			ID: d.ID, SubscriptionID: d.SubscriptionID, EventType: d.EventType, Payload: d.Payload,
			URL: t.url, AuthHeader: t.authHeader, TimeoutSeconds: d.TimeoutSeconds,
			MaxRetries: d.MaxRetries, Attempts: d.Attempts,
		})
	}
	return reply(c, http.StatusOK, out)
}

// deliveryFailureMessage composes the last_error of an agent-reported failure so that it
// names the HTTP status whenever the agent saw one.
func deliveryFailureMessage(errText *string, status *int32) string {
	detail := ""
	if errText != nil {
		detail = strings.TrimSpace(*errText)
	}
	switch {
	case status != nil && detail != "" && strings.HasPrefix(detail, fmt.Sprintf("HTTP %d", *status)):
		return detail
	case status != nil && detail != "":
		return fmt.Sprintf("HTTP %d: %s", *status, detail)
	case status != nil:
		return fmt.Sprintf("HTTP %d", *status)
	case detail != "":
		return detail
	}
	return "Unknown error"
}

var errDeliveryNotFound = notFound("delivery_not_found", "delivery not found")

func (w *webhooks) reportResult(c echo.Context) error {
	who := identity(c)
	if !who.IsAgent() {
		return forbidden("agent_pak_required", "agent authentication required")
	}
	id, err := uuidParam(c, "id")
	if err != nil {
		return err
	}
	var body struct {
		Success    *bool   `json:"success"`
		StatusCode *int32  `json:"status_code"`
		Error      *string `json:"error"`
		DurationMs *int64  `json:"duration_ms"`
	}
	if err := bindJSON(c, &body); err != nil {
		return err
	}
	if err := requireFields(field{"success", body.Success != nil}); err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := db.GetWebhookDelivery(ctx, w.s.db, id)
	if err != nil {
		return orNotFound(err, errDeliveryNotFound)
	}
	errNotOurs := forbidden("delivery_not_acquired_by_agent", "delivery not acquired by this agent")
	if d.AcquiredBy == nil || *d.AcquiredBy != who.AgentID || d.Status != db.DeliveryAcquired {
		return errNotOurs
	}
	sub, err := db.GetWebhookSubscription(ctx, w.s.db, d.SubscriptionID)
	if err != nil {
		return fmt.Errorf("subscription of delivery %s: %w", d.ID, err)
	}
	claim := db.WebhookClaim{Agent: &who.AgentID}
	claimed := db.ClaimedWebhookDelivery{WebhookDelivery: d, MaxRetries: sub.MaxRetries}
	if *body.Success {
		if _, err := db.MarkWebhookDeliverySuccess(ctx, w.s.db, d.ID, claim); err != nil {
			return orNotFound(err, errNotOurs)
		}
		return reply(c, http.StatusOK, struct {
			Status     string    `json:"status"`
			DeliveryID uuid.UUID `json:"delivery_id"`
		}{db.DeliverySuccess, d.ID})
	}
	o := outcome{attempted: true, message: deliveryFailureMessage(body.Error, body.StatusCode), retryable: true}
	if body.StatusCode != nil {
		o.status = int(*body.StatusCode)
		o.retryable = retryableStatus(o.status)
	}
	updated, err := w.record(ctx, claimed, claim, o)
	if err != nil {
		return orNotFound(err, errNotOurs)
	}
	if updated.Status == db.DeliveryDead {
		w.auditDead(updated, o, &who.AgentID)
	}
	return reply(c, http.StatusOK, struct {
		Status      string     `json:"status"`
		DeliveryID  uuid.UUID  `json:"delivery_id"`
		Attempts    int32      `json:"attempts"`
		NextRetryAt *time.Time `json:"next_retry_at"`
	}{updated.Status, updated.ID, updated.Attempts, utcp(updated.NextRetryAt)})
}

// encodeEvent renders an event envelope as the JSON posted to endpoints (HTML characters are
// left as they are).
func encodeEvent(ev Event) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ev); err != nil {
		return "", fmt.Errorf("encode event %s: %w", ev.Type, err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// emit is the transaction hook that queues one delivery per enabled subscription matching the
// event, inside the transaction of the write that caused it.
func (w *webhooks) emit(ctx context.Context, q db.Queryer, ev Event) error {
	if strings.HasPrefix(ev.Type, "internal.") {
		return nil
	}
	routes, err := db.EnabledWebhookRoutes(ctx, q)
	if err != nil {
		return fmt.Errorf("load webhook subscriptions: %w", err)
	}
	if len(routes) == 0 {
		return nil
	}
	payload, err := encodeEvent(ev)
	if err != nil {
		return err
	}
	// Filters compare against the data as it is delivered (ids as strings, nulls as null).
	var env struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal([]byte(payload), &env); err != nil {
		return fmt.Errorf("decode event %s: %w", ev.Type, err)
	}
	var ids []uuid.UUID
	for _, r := range routes {
		if subscribed(r.EventTypes, ev.Type) && filtersPass(r.Filters, env.Data) {
			ids = append(ids, r.ID)
		}
	}
	if _, err := db.InsertWebhookDeliveries(ctx, q, ids, db.WebhookEvent{ID: ev.ID, Type: ev.Type, Payload: payload}); err != nil {
		return fmt.Errorf("queue webhook deliveries for %s: %w", ev.Type, err)
	}
	return nil
}

// subscribed reports whether any pattern matches the event type: "*" matches everything,
// "p.*" every type starting with "p.", anything else only itself.
func subscribed(patterns []string, typ string) bool {
	for _, p := range patterns {
		switch {
		case p == "*":
			return true
		case strings.HasSuffix(p, ".*"):
			if strings.HasPrefix(typ, p[:len(p)-1]) {
				return true
			}
		case p == typ:
			return true
		}
	}
	return false
}

// filtersPass applies a subscription's stored filters to event data. No filters (NULL, empty,
// {}) pass; every set field must be in the data as a UUID string equal to it (absent or null
// does not match); filters that do not parse match nothing.
func filtersPass(stored *string, data map[string]any) bool {
	if stored == nil || strings.TrimSpace(*stored) == "" {
		return true
	}
	var f *filtersBody
	if err := json.Unmarshal([]byte(*stored), &f); err != nil || f == nil {
		return false
	}
	return idMatches(data, "agent_id", f.AgentID) && idMatches(data, "stack_id", f.StackID)
}

func idMatches(data map[string]any, key string, want *uuid.UUID) bool {
	if want == nil {
		return true
	}
	s, ok := data[key].(string)
	if !ok {
		return false
	}
	got, err := uuid.Parse(s)
	return err == nil && got == *want
}
