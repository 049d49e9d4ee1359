package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/attribute"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pgtext"
	"github.com/brokkr/brokkr/server/audit"
)

const (
	// webhookSendConcurrency is how many deliveries one broker sends at once.
	webhookSendConcurrency = 8
	// claimSlack extends a claim beyond the subscription's timeout, covering the time to
	// start the request and to record its outcome.
	claimSlack = 3 * time.Second
	// lastErrorBodyLimit is how much of a failed response's body last_error keeps.
	lastErrorBodyLimit = 200
	// responseReadLimit caps how much of a response body is read at all.
	responseReadLimit = 64 << 10
	// settleTimeout bounds recording an outcome, which outlives a cancelled worker context.
	settleTimeout = 10 * time.Second
)

// sendResult is what came back from one POST.
type sendResult struct {
	status int    // 0 when no response arrived
	body   string // the start of the response body
	err    error  // transport failure; its text never contains the URL
}

// post sends payload to the target with the subscription's timeout (at least one second).
func (w *Service) post(ctx context.Context, t target, payload string, timeoutSeconds int32) sendResult {
	timeout := time.Duration(max(timeoutSeconds, 1)) * time.Second
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, strings.NewReader(payload))
	if err != nil {
		return sendResult{err: sendError(err, t.url, timeout)}
	}
	req.Header.Set("Content-Type", "application/json")
	if t.authHeader != nil {
		req.Header.Set("Authorization", *t.authHeader)
	}
	res, err := w.client.Do(req)
	if err != nil {
		return sendResult{err: sendError(err, t.url, timeout)}
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(res.Body, responseReadLimit))
	return sendResult{status: res.StatusCode, body: string(body)}
}

// sendError describes a failed request without the URL, which is a secret (it often carries a
// token) and would otherwise end up in last_error for anyone listing deliveries: the URL is
// dropped, network errors keep only their operation and cause, and any remaining mention of
// the host is masked.
func sendError(err error, target string, timeout time.Duration) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("timed out after %s", timeout)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		return errors.New("invalid request")
	}
	if ue.Timeout() {
		return fmt.Errorf("timed out after %s", timeout)
	}
	var dnsErr *net.DNSError
	if errors.As(ue.Err, &dnsErr) {
		return fmt.Errorf("host lookup failed: %s", dnsErr.Err)
	}
	var opErr *net.OpError
	if errors.As(ue.Err, &opErr) && opErr.Err != nil {
		return fmt.Errorf("%s: %w", opErr.Op, opErr.Err)
	}
	msg := ue.Err.Error()
	if u, perr := url.Parse(target); perr == nil && u.Hostname() != "" {
		msg = strings.ReplaceAll(msg, u.Hostname(), "[host]")
	}
	return errors.New(msg)
}

// outcome is the verdict on one delivery attempt.
type outcome struct {
	success   bool
	attempted bool // a request was made (it counts as an attempt)
	retryable bool
	status    int // HTTP status, 0 when there was none
	message   string
}

// retryableStatus reports whether an HTTP status is worth retrying: 408, 425, 429, any 5xx and
// anything that is not a 4xx; other 4xx answers will not change on a retry.
func retryableStatus(code int) bool {
	switch {
	case code == http.StatusRequestTimeout, code == http.StatusTooEarly, code == http.StatusTooManyRequests:
		return true
	case code >= 400 && code < 500:
		return false
	}
	return true
}

// outcomeOf judges a send.
func outcomeOf(r sendResult) outcome {
	switch {
	case r.err != nil:
		return outcome{attempted: true, retryable: true, message: "Request failed: " + r.err.Error()}
	case r.status >= 200 && r.status <= 299:
		return outcome{success: true, attempted: true, status: r.status}
	}
	return outcome{attempted: true, retryable: retryableStatus(r.status), status: r.status,
		message: fmt.Sprintf("HTTP %d: %s", r.status, pgtext.Clip(r.body, lastErrorBodyLimit))}
}

// failureText is how an error is recorded as a delivery's last_error.
func failureText(err error) string {
	var de *decryptError
	if errors.As(err, &de) {
		return de.lastError()
	}
	return err.Error()
}

// record writes an outcome under the delivery's claim: success; a retryable failure (failed
// with backoff, or dead once attempts reach the subscription's max_retries); or dead.
// db.ErrNotFound means the claim was lost and nothing was written.
func (w *Service) record(ctx context.Context, d db.ClaimedWebhookDelivery, claim db.WebhookClaim, o outcome) (db.WebhookDelivery, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	var (
		updated db.WebhookDelivery
		err     error
	)
	switch {
	case o.success:
		updated, err = db.MarkWebhookDeliverySuccess(ctx, w.db, d.ID, claim)
	case o.retryable:
		updated, err = db.MarkWebhookDeliveryFailed(ctx, w.db, d.ID, claim, o.message, d.MaxRetries)
	default:
		updated, err = db.MarkWebhookDeliveryDead(ctx, w.db, d.ID, claim, o.message, o.attempted)
	}
	w.count(claim, updated, err)
	return updated, err
}

// count adds a recorded outcome to brokkr_webhook_deliveries_total.
func (w *Service) count(claim db.WebhookClaim, updated db.WebhookDelivery, err error) {
	if err != nil {
		return
	}
	path := pathBroker
	if claim.Agent != nil {
		path = pathAgent
	}
	w.outcomes.WithLabelValues(path, updated.Status).Inc()
}

// settle records an outcome for a delivery claimed by this broker or handed to an agent,
// auditing a delivery that died.
func (w *Service) settle(ctx context.Context, d db.ClaimedWebhookDelivery, o outcome) {
	updated, err := w.record(ctx, d, d.Claim(), o)
	switch {
	case errors.Is(err, db.ErrNotFound):
		// The claim ran out and the row was released (and maybe delivered) elsewhere.
		w.log.Warn("webhook delivery claim lost before its outcome was recorded",
			slog.String("delivery_id", d.ID.String()), slog.Bool("success", o.success))
	case err != nil:
		// The row stays acquired; it is released when the claim runs out and sent again.
		w.log.Error("record webhook delivery outcome", slog.String("delivery_id", d.ID.String()), slog.Any("error", err))
	case updated.Status == db.DeliveryDead:
		w.log.Warn("webhook delivery failed permanently", slog.String("delivery_id", d.ID.String()),
			slog.String("subscription_id", d.SubscriptionID.String()), slog.Int("attempts", int(updated.Attempts)),
			slog.String("error", o.message))
		w.auditDead(updated, o, nil)
	case updated.Status == db.DeliveryFailed:
		w.log.Info("webhook delivery failed; will retry", slog.String("delivery_id", d.ID.String()),
			slog.Int("attempts", int(updated.Attempts)), slog.String("error", o.message))
	}
}

// auditDead records webhook.delivery_failed for a delivery that died.
func (w *Service) auditDead(d db.WebhookDelivery, o outcome, agent *uuid.UUID) {
	details := map[string]any{
		"delivery_id": d.ID, "event_type": d.EventType, "attempts": d.Attempts, "error": o.message,
		"status_code": nil, "retryable": o.retryable,
	}
	if o.status != 0 {
		details["status_code"] = o.status
	}
	if agent != nil {
		details["delivered_by_agent"] = *agent
	}
	subscription := d.SubscriptionID
	w.audit.Record(audit.Entry{ActorType: audit.ActorSystem, Action: audit.WebhookDeliveryFailed,
		ResourceType: audit.ResourceWebhook, ResourceID: &subscription, Details: details})
}

// deliverDue is one tick of the webhook-delivery worker: release claims that ran out, return
// due retries to pending, then send up to broker.webhook_delivery_batch_size deliveries with
// up to webhookSendConcurrency senders. Each sender claims one delivery (FOR UPDATE SKIP
// LOCKED) right before sending it, so replicas running the worker together never send the
// same row and a claim only has to outlast one request. Senders are added one by one while
// they find work, so an idle tick costs a single claim query.
func (w *Service) deliverDue(ctx context.Context) error {
	cfg := w.config().Broker
	if _, err := db.ReleaseExpiredWebhookClaims(ctx, w.db); err != nil {
		return fmt.Errorf("release expired webhook claims: %w", err)
	}
	if _, err := db.PromoteDueWebhookRetries(ctx, w.db); err != nil {
		return fmt.Errorf("promote webhook retries: %w", err)
	}
	batch := cfg.WebhookDeliveryBatchSize
	if batch <= 0 {
		batch = 50
	}
	ttl := time.Duration(cfg.WebhookClaimTTLSeconds) * time.Second
	if ttl <= 0 {
		ttl = time.Minute
	}
	var (
		budget   atomic.Int64 // claims left in this tick
		started  atomic.Int32 // senders started
		wg       sync.WaitGroup
		errOnce  sync.Once
		claimErr error
		spawn    func()
	)
	budget.Store(int64(batch))
	spawn = func() {
		if started.Add(1) > webhookSendConcurrency {
			return
		}
		wg.Add(1) // the caller is itself counted (or is deliverDue), so Wait has not returned
		go func() {
			defer wg.Done()
			for first := true; budget.Add(-1) >= 0 && ctx.Err() == nil; first = false {
				claimed, err := w.claim(ctx, 1, ttl)
				if err != nil {
					errOnce.Do(func() { claimErr = fmt.Errorf("claim webhook deliveries: %w", err) })
					return
				}
				if len(claimed) == 0 {
					return
				}
				if first {
					spawn()
				}
				if ctx.Err() != nil {
					w.release(ctx, claimed[0])
					return
				}
				w.deliver(ctx, claimed[0])
			}
		}()
	}
	spawn()
	wg.Wait()
	return claimErr
}

// claim claims up to n deliveries for the broker. The statement is not cancelled with ctx: a
// claim interrupted on the client side may still complete in the database, and its rows would
// then sit claimed by nobody until the claim ran out.
func (w *Service) claim(ctx context.Context, n int, ttl time.Duration) ([]db.ClaimedWebhookDelivery, error) {
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	return db.ClaimBrokerWebhookDeliveries(qctx, w.db, n, ttl, claimSlack)
}

// release hands a claimed delivery back to pending without counting an attempt.
func (w *Service) release(ctx context.Context, d db.ClaimedWebhookDelivery) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleTimeout)
	defer cancel()
	if err := db.ReleaseWebhookClaim(rctx, w.db, d.ID, d.Claim()); err != nil && !errors.Is(err, db.ErrNotFound) {
		w.log.Error("release webhook delivery", slog.String("delivery_id", d.ID.String()), slog.Any("error", err))
	}
}

// deliver sends one claimed delivery and records the outcome.
func (w *Service) deliver(ctx context.Context, d db.ClaimedWebhookDelivery) {
	ctx, span := w.startDelivery(ctx, d)
	defer span.End()
	t, err := w.open(d.URLEncrypted, d.AuthHeaderEncrypted, pathBroker)
	if err != nil {
		w.log.Error("webhook secret cannot be decrypted", slog.String("subscription_id", d.SubscriptionID.String()),
			slog.Any("error", err))
		o := outcome{message: failureText(err)}
		traceOutcome(span, o)
		w.settle(ctx, d, o)
		return
	}
	res := w.post(ctx, t, d.Payload, d.TimeoutSeconds)
	if res.err != nil && ctx.Err() != nil {
		// The broker is stopping: hand the delivery back at once rather than counting an
		// attempt the endpoint never failed.
		span.SetAttributes(attribute.String("brokkr.webhook.outcome", "released"))
		w.release(ctx, d)
		return
	}
	o := outcomeOf(res)
	traceOutcome(span, o)
	w.settle(ctx, d, o)
}

// cleanup is the webhook-cleanup worker: it deletes successful and dead deliveries created
// more than broker.webhook_cleanup_retention_days ago.
func (w *Service) cleanup(ctx context.Context) error {
	days := w.config().Broker.WebhookCleanupRetentionDays
	if days <= 0 {
		days = 7
	}
	n, err := db.DeleteFinishedWebhookDeliveries(ctx, w.db, time.Now().AddDate(0, 0, -days))
	if err != nil {
		return fmt.Errorf("delete old webhook deliveries: %w", err)
	}
	if n > 0 {
		w.log.Info("deleted old webhook deliveries", slog.Int64("rows", n), slog.Int("retention_days", days))
	}
	return nil
}
