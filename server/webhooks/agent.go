package webhooks

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pgtext"
	"github.com/brokkr/brokkr/server/events"
)

// agentBatch and agentClaimTTL bound what one agent poll claims.
const (
	agentBatch    = 10
	agentClaimTTL = 60 * time.Second
)

// ClaimForAgent claims up to agentBatch deliveries for an agent to send (those whose target
// labels the agent carries) and returns them with their decrypted endpoints. A delivery whose secrets cannot be decrypted is not
// returned but ended at once: every later claim would fail the same way.
func (w *Service) ClaimForAgent(ctx context.Context, agentID uuid.UUID) ([]client.PendingWebhookDelivery, error) {
	claimed, err := db.ClaimAgentWebhookDeliveries(ctx, w.db, agentID, agentBatch, agentClaimTTL, claimSlack)
	if err != nil {
		return nil, err
	}
	out := make([]client.PendingWebhookDelivery, 0, len(claimed))
	for _, d := range claimed {
		t, err := w.open(d.URLEncrypted, d.AuthHeaderEncrypted, pathAgent)
		if err != nil {
			// Ending the delivery keeps it from cycling through claims without ever
			// counting an attempt.
			w.log.Error("webhook secret cannot be decrypted", slog.String("subscription_id", d.SubscriptionID.String()),
				slog.Any("error", err))
			w.settle(ctx, d, outcome{message: failureText(err)})
			continue
		}
		out = append(out, client.PendingWebhookDelivery{
			ID: d.ID, SubscriptionID: d.SubscriptionID, EventType: d.EventType, Payload: d.Payload,
			URL: t.url, AuthHeader: t.authHeader, TimeoutSeconds: d.TimeoutSeconds,
			MaxRetries: d.MaxRetries, Attempts: d.Attempts,
		})
	}
	return out, nil
}

// AgentResult is what an agent reports of a delivery it sent.
type AgentResult struct {
	Success    bool
	StatusCode *int32  // the endpoint's HTTP status, when there was one
	Error      *string // the agent's description of a failure
}

// RecordAgentResult records the result an agent reports for a delivery it holds (d carries
// its subscription's max_retries): a success; or a failure, retried unless the endpoint's
// status will not change on a retry or the attempts are spent. A delivery that dies is
// audited. db.ErrNotFound means the agent no longer holds the delivery.
func (w *Service) RecordAgentResult(ctx context.Context, agentID uuid.UUID, d db.ClaimedWebhookDelivery, r AgentResult) (db.WebhookDelivery, error) {
	claim := db.WebhookClaim{Agent: &agentID}
	if r.Success {
		updated, err := db.MarkWebhookDeliverySuccess(ctx, w.db, d.ID, claim)
		w.count(claim, updated, err)
		return updated, err
	}
	o := outcome{attempted: true, message: deliveryFailureMessage(r.Error, r.StatusCode), retryable: true}
	if r.StatusCode != nil {
		o.status = int(*r.StatusCode)
		o.retryable = retryableStatus(o.status)
	}
	updated, err := w.record(ctx, d, claim, o)
	if err != nil {
		return updated, err
	}
	if updated.Status == db.DeliveryDead {
		w.auditDead(updated, o, &agentID)
	}
	return updated, nil
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

// testBodyLimit is how much of a failed test's response body is reported.
const testBodyLimit = 500

// TestResult is what an endpoint answered to a test delivery.
type TestResult struct {
	Status int    // HTTP status, 0 when no response arrived
	Body   string // the start of the response body, at most testBodyLimit characters
	Err    error  // transport failure; its text never contains the URL
}

// SendTest posts a webhook.test event to a subscription's endpoint, with its auth header
// and timeout. The error reports what kept the request from being made (secrets that cannot
// be decrypted).
func (w *Service) SendTest(ctx context.Context, sub db.WebhookSubscription) (TestResult, error) {
	t, err := w.open(sub.URLEncrypted, sub.AuthHeaderEncrypted, "")
	if err != nil {
		return TestResult{}, fmt.Errorf("test webhook %s: %w", sub.ID, err)
	}
	payload, err := encodeEvent(events.Event{ID: uuid.New(), Type: "webhook.test", Timestamp: time.Now().UTC(),
		Data: map[string]any{"message": "This is a test webhook delivery from Brokkr", "subscription_id": sub.ID}})
	if err != nil {
		return TestResult{}, err
	}
	res := w.post(ctx, t, payload, sub.TimeoutSeconds)
	return TestResult{Status: res.status, Body: pgtext.Clip(res.body, testBodyLimit), Err: res.err}, nil
}
