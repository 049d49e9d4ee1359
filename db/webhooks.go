package db

import (
	"context"
	"database/sql/driver"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// TextArray is a PostgreSQL text[] column or parameter. A nil TextArray is SQL NULL, an empty
// non-nil one is the empty array '{}': the two mean different things to webhook targeting.
// NULL elements inside a stored array are dropped when scanning. (A pgtype.Map is not safe
// for concurrent use, so each conversion takes a fresh one; they are cheap.)
type TextArray []string

// Scan implements sql.Scanner.
func (a *TextArray) Scan(src any) error {
	if src == nil {
		*a = nil
		return nil
	}
	var elems []*string
	if err := pgtype.NewMap().SQLScanner(&elems).Scan(src); err != nil {
		return fmt.Errorf("scan text[]: %w", err)
	}
	out := make(TextArray, 0, len(elems))
	for _, e := range elems {
		if e != nil {
			out = append(out, *e)
		}
	}
	*a = out
	return nil
}

// Value implements driver.Valuer: the array's text form, or NULL for a nil array.
func (a TextArray) Value() (driver.Value, error) {
	if a == nil {
		return nil, nil
	}
	buf, err := pgtype.NewMap().Encode(pgtype.TextArrayOID, pgtype.TextFormatCode, []string(a), nil)
	if err != nil {
		return nil, fmt.Errorf("encode text[]: %w", err)
	}
	return string(buf), nil
}

// WebhookSubscription is a row of webhook_subscriptions. URL and Authorization header are
// stored encrypted; AuthHeaderEncrypted is nil when the subscription has none.
type WebhookSubscription struct {
	ID                  uuid.UUID `db:"id"`
	Name                string    `db:"name"`
	URLEncrypted        []byte    `db:"url_encrypted"`
	AuthHeaderEncrypted []byte    `db:"auth_header_encrypted"`
	EventTypes          TextArray `db:"event_types"`
	Filters             *string   `db:"filters"` // JSON text
	TargetLabels        TextArray `db:"target_labels"`
	Enabled             bool      `db:"enabled"`
	MaxRetries          int32     `db:"max_retries"`
	TimeoutSeconds      int32     `db:"timeout_seconds"`
	CreatedAt           time.Time `db:"created_at"`
	UpdatedAt           time.Time `db:"updated_at"`
	CreatedBy           *string   `db:"created_by"`
}

const webhookSubscriptionColumns = `id, name, url_encrypted, auth_header_encrypted, event_types, filters,
	target_labels, enabled, max_retries, timeout_seconds, created_at, updated_at, created_by`

// NewWebhookSubscription is the content of a subscription to insert.
type NewWebhookSubscription struct {
	Name                string
	URLEncrypted        []byte
	AuthHeaderEncrypted []byte // nil = none
	EventTypes          []string
	Filters             *string
	TargetLabels        TextArray // nil = NULL (the broker delivers)
	Enabled             bool
	MaxRetries          int32
	TimeoutSeconds      int32
	CreatedBy           *string
}

// WebhookSubscriptionUpdate lists the columns to change; nil fields keep their value.
type WebhookSubscriptionUpdate struct {
	Name                *string
	URLEncrypted        []byte
	AuthHeaderEncrypted []byte
	EventTypes          TextArray
	Filters             *string
	TargetLabels        TextArray
	Enabled             *bool
	MaxRetries          *int32
	TimeoutSeconds      *int32
}

// ListWebhookSubscriptions returns every subscription, newest first.
func ListWebhookSubscriptions(ctx context.Context, q Queryer) ([]WebhookSubscription, error) {
	var out []WebhookSubscription
	err := q.SelectContext(ctx, &out, `SELECT `+webhookSubscriptionColumns+` FROM webhook_subscriptions
		ORDER BY created_at DESC, id`)
	return out, Wrap(err)
}

// GetWebhookSubscription returns one subscription.
func GetWebhookSubscription(ctx context.Context, q Queryer, id uuid.UUID) (WebhookSubscription, error) {
	var s WebhookSubscription
	err := q.GetContext(ctx, &s, `SELECT `+webhookSubscriptionColumns+` FROM webhook_subscriptions WHERE id = $1`, id)
	return s, Wrap(err)
}

// CreateWebhookSubscription inserts a subscription.
func CreateWebhookSubscription(ctx context.Context, q Queryer, n NewWebhookSubscription) (WebhookSubscription, error) {
	var s WebhookSubscription
	err := q.GetContext(ctx, &s, `INSERT INTO webhook_subscriptions
		(name, url_encrypted, auth_header_encrypted, event_types, filters, target_labels, enabled,
		 max_retries, timeout_seconds, created_by)
		VALUES ($1, $2, $3, $4::text[], $5, $6::text[], $7, $8, $9, $10)
		RETURNING `+webhookSubscriptionColumns,
		n.Name, n.URLEncrypted, n.AuthHeaderEncrypted, TextArray(n.EventTypes), n.Filters, n.TargetLabels,
		n.Enabled, n.MaxRetries, n.TimeoutSeconds, n.CreatedBy)
	return s, Wrap(err)
}

// UpdateWebhookSubscription changes the non-nil columns of u (ErrNotFound when id is unknown).
func UpdateWebhookSubscription(ctx context.Context, q Queryer, id uuid.UUID, u WebhookSubscriptionUpdate) (WebhookSubscription, error) {
	var s WebhookSubscription
	err := q.GetContext(ctx, &s, `UPDATE webhook_subscriptions SET
		name = COALESCE($2, name),
		url_encrypted = COALESCE($3::bytea, url_encrypted),
		auth_header_encrypted = COALESCE($4::bytea, auth_header_encrypted),
		event_types = COALESCE($5::text[], event_types),
		filters = COALESCE($6, filters),
		target_labels = COALESCE($7::text[], target_labels),
		enabled = COALESCE($8, enabled),
		max_retries = COALESCE($9, max_retries),
		timeout_seconds = COALESCE($10, timeout_seconds)
		WHERE id = $1 RETURNING `+webhookSubscriptionColumns,
		id, u.Name, u.URLEncrypted, u.AuthHeaderEncrypted, u.EventTypes, u.Filters, u.TargetLabels,
		u.Enabled, u.MaxRetries, u.TimeoutSeconds)
	return s, Wrap(err)
}

// DeleteWebhookSubscription hard-deletes a subscription; its deliveries cascade.
func DeleteWebhookSubscription(ctx context.Context, q Queryer, id uuid.UUID) error {
	return execOne(ctx, q, `DELETE FROM webhook_subscriptions WHERE id = $1`, id)
}

// WebhookSubscriptionsExist reports whether any subscription is stored.
func WebhookSubscriptionsExist(ctx context.Context, q Queryer) (bool, error) {
	var ok bool
	err := q.GetContext(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM webhook_subscriptions)`)
	return ok, Wrap(err)
}

// WebhookRoute is what event emission needs to know about an enabled subscription.
type WebhookRoute struct {
	ID         uuid.UUID `db:"id"`
	EventTypes TextArray `db:"event_types"`
	Filters    *string   `db:"filters"`
}

// EnabledWebhookRoutes returns the enabled subscriptions with their patterns and filters.
func EnabledWebhookRoutes(ctx context.Context, q Queryer) ([]WebhookRoute, error) {
	var out []WebhookRoute
	err := q.SelectContext(ctx, &out, `SELECT id, event_types, filters FROM webhook_subscriptions WHERE enabled`)
	return out, Wrap(err)
}

// WebhookEvent is one emitted event as the deliveries store it.
type WebhookEvent struct {
	ID      uuid.UUID
	Type    string
	Payload string // the JSON envelope, posted verbatim
}

// InsertWebhookDeliveries queues one pending delivery of ev per subscription in subscriptionIDs,
// copying each subscription's target labels. Subscriptions deleted or disabled meanwhile are
// skipped rather than failing the write: they are locked (KEY SHARE) and re-checked, so a
// concurrent delete waits for this transaction and then removes the new rows with the rest.
func InsertWebhookDeliveries(ctx context.Context, q Queryer, subscriptionIDs []uuid.UUID, ev WebhookEvent) (int64, error) {
	if len(subscriptionIDs) == 0 {
		return 0, nil
	}
	res, err := q.ExecContext(ctx, `WITH subs AS (
			SELECT id, target_labels FROM webhook_subscriptions
			WHERE id = ANY($1::uuid[]) AND enabled
			FOR KEY SHARE)
		INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload, target_labels)
		SELECT id, $2, $3, $4, target_labels FROM subs`,
		subscriptionIDs, ev.Type, ev.ID, ev.Payload)
	if err != nil {
		return 0, Wrap(err)
	}
	return res.RowsAffected()
}

// Webhook delivery states.
const (
	DeliveryPending  = "pending"
	DeliveryAcquired = "acquired"
	DeliverySuccess  = "success"
	DeliveryFailed   = "failed"
	DeliveryDead     = "dead"
)

// WebhookDelivery is a row of webhook_deliveries.
type WebhookDelivery struct {
	ID             uuid.UUID  `db:"id"`
	SubscriptionID uuid.UUID  `db:"subscription_id"`
	EventType      string     `db:"event_type"`
	EventID        uuid.UUID  `db:"event_id"`
	Payload        string     `db:"payload"`
	TargetLabels   TextArray  `db:"target_labels"`
	Status         string     `db:"status"`
	AcquiredBy     *uuid.UUID `db:"acquired_by"`
	AcquiredUntil  *time.Time `db:"acquired_until"`
	Attempts       int32      `db:"attempts"`
	LastAttemptAt  *time.Time `db:"last_attempt_at"`
	NextRetryAt    *time.Time `db:"next_retry_at"`
	LastError      *string    `db:"last_error"`
	CreatedAt      time.Time  `db:"created_at"`
	CompletedAt    *time.Time `db:"completed_at"`
}

const webhookDeliveryColumns = `id, subscription_id, event_type, event_id, payload, target_labels, status,
	acquired_by, acquired_until, attempts, last_attempt_at, next_retry_at, last_error, created_at, completed_at`

// ListWebhookDeliveries returns a subscription's deliveries, newest first, optionally of one status.
func ListWebhookDeliveries(ctx context.Context, q Queryer, subscriptionID uuid.UUID, status *string, limit, offset int64) ([]WebhookDelivery, error) {
	var out []WebhookDelivery
	err := q.SelectContext(ctx, &out, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries
		WHERE subscription_id = $1 AND ($2::text IS NULL OR status = $2)
		ORDER BY created_at DESC, id LIMIT $3 OFFSET $4`, subscriptionID, status, limit, offset)
	return out, Wrap(err)
}

// GetWebhookDelivery returns one delivery.
func GetWebhookDelivery(ctx context.Context, q Queryer, id uuid.UUID) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := q.GetContext(ctx, &d, `SELECT `+webhookDeliveryColumns+` FROM webhook_deliveries WHERE id = $1`, id)
	return d, Wrap(err)
}

// ReleaseExpiredWebhookClaims returns acquired deliveries whose claim has run out to pending.
func ReleaseExpiredWebhookClaims(ctx context.Context, q Queryer) (int64, error) {
	return execRowCount(ctx, q, `UPDATE webhook_deliveries
		SET status = 'pending', acquired_by = NULL, acquired_until = NULL
		WHERE status = 'acquired' AND acquired_until < now()`)
}

// PromoteDueWebhookRetries returns failed deliveries whose retry time has come to pending.
func PromoteDueWebhookRetries(ctx context.Context, q Queryer) (int64, error) {
	return execRowCount(ctx, q, `UPDATE webhook_deliveries SET status = 'pending', next_retry_at = NULL
		WHERE status = 'failed' AND next_retry_at <= now()`)
}

// ClaimedWebhookDelivery is a delivery just claimed, with what sending it needs from its
// subscription.
type ClaimedWebhookDelivery struct {
	WebhookDelivery
	URLEncrypted        []byte `db:"url_encrypted"`
	AuthHeaderEncrypted []byte `db:"auth_header_encrypted"`
	MaxRetries          int32  `db:"max_retries"`
	TimeoutSeconds      int32  `db:"timeout_seconds"`
}

// Claim returns the claim under which the delivery was acquired.
func (d ClaimedWebhookDelivery) Claim() WebhookClaim {
	return WebhookClaim{Agent: d.AcquiredBy, Until: d.AcquiredUntil}
}

// claimWebhookDeliveries claims up to $1 pending deliveries chosen by the WHERE clause eligible
// (over webhook_deliveries w; $4 is free for it), oldest first, for acquiredBy (NULL: the
// broker). Rows locked by another claimer are skipped, so concurrent claimers never receive
// the same row. The claim lasts ttl ($2), or the subscription's timeout plus slack ($3) when
// that is longer, so that it does not run out while its request may still be waiting for an
// answer.
func claimWebhookDeliveries(ctx context.Context, q Queryer, eligible, acquiredBy string, limit int, ttl, slack time.Duration, args ...any) ([]ClaimedWebhookDelivery, error) {
	var out []ClaimedWebhookDelivery
	err := q.SelectContext(ctx, &out, `WITH c AS (
			SELECT w.id FROM webhook_deliveries w
			WHERE w.status = 'pending' AND (`+eligible+`)
			ORDER BY w.created_at LIMIT $1
			FOR UPDATE OF w SKIP LOCKED)
		UPDATE webhook_deliveries d SET status = 'acquired', acquired_by = `+acquiredBy+`,
			acquired_until = now() + make_interval(secs => greatest($2::float8, s.timeout_seconds + $3::float8))
		FROM c, webhook_subscriptions s
		WHERE d.id = c.id AND s.id = d.subscription_id
		RETURNING `+prefixed("d", webhookDeliveryColumns)+`,
			s.url_encrypted, s.auth_header_encrypted, s.max_retries, s.timeout_seconds`,
		append([]any{limit, ttl.Seconds(), slack.Seconds()}, args...)...)
	return out, Wrap(err)
}

// ClaimBrokerWebhookDeliveries claims up to limit pending deliveries the broker sends itself
// (target labels NULL or empty), oldest first. acquired_by stays NULL for the broker.
func ClaimBrokerWebhookDeliveries(ctx context.Context, q Queryer, limit int, ttl, slack time.Duration) ([]ClaimedWebhookDelivery, error) {
	return claimWebhookDeliveries(ctx, q, `w.target_labels IS NULL OR cardinality(w.target_labels) = 0`,
		`NULL`, limit, ttl, slack)
}

// ClaimAgentWebhookDeliveries claims up to limit pending deliveries for an agent: those whose
// target labels are not NULL and all (ignoring NULL entries) among the agent's labels. An empty
// array qualifies, as it does for the broker.
func ClaimAgentWebhookDeliveries(ctx context.Context, q Queryer, agentID uuid.UUID, limit int, ttl, slack time.Duration) ([]ClaimedWebhookDelivery, error) {
	return claimWebhookDeliveries(ctx, q, `w.target_labels IS NOT NULL AND NOT EXISTS (
			SELECT 1 FROM unnest(w.target_labels) AS t(label)
			WHERE t.label IS NOT NULL AND NOT EXISTS (
				SELECT 1 FROM agent_labels l WHERE l.agent_id = $4 AND l.label = t.label))`,
		`$4::uuid`, limit, ttl, slack, agentID)
}

// WebhookClaim identifies the claim under which a delivery is being sent. Outcomes are written
// only while the row is still acquired under that claim, so a sender whose claim ran out (and
// whose row another sender has taken since) cannot overwrite the newer result.
type WebhookClaim struct {
	Agent *uuid.UUID // the claiming agent; nil for a broker claim
	Until *time.Time // acquired_until as claimed; nil to match on the agent alone
}

// webhookClaimed is the WHERE clause of an outcome update; $1 is the delivery id, $2 and $3 the claim.
const webhookClaimed = `id = $1 AND status = 'acquired'
	AND ($2::uuid IS NULL OR acquired_by = $2) AND ($3::timestamptz IS NULL OR acquired_until = $3)`

// MarkWebhookDeliverySuccess records a successful attempt. ErrNotFound: the claim is gone.
func MarkWebhookDeliverySuccess(ctx context.Context, q Queryer, id uuid.UUID, c WebhookClaim) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := q.GetContext(ctx, &d, `UPDATE webhook_deliveries SET status = 'success', attempts = attempts + 1,
		last_attempt_at = now(), acquired_until = NULL, next_retry_at = NULL, completed_at = now(), last_error = NULL
		WHERE `+webhookClaimed+` RETURNING `+webhookDeliveryColumns, id, c.Agent, c.Until)
	return d, Wrap(err)
}

// MarkWebhookDeliveryFailed records a failed attempt that may be retried: the delivery goes
// dead when attempts reach maxRetries, else failed with next_retry_at = now + 2^attempts
// seconds. The claim is cleared either way. ErrNotFound: the claim is gone.
func MarkWebhookDeliveryFailed(ctx context.Context, q Queryer, id uuid.UUID, c WebhookClaim, message string, maxRetries int32) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := q.GetContext(ctx, &d, `UPDATE webhook_deliveries SET
		attempts = attempts + 1, last_attempt_at = now(), last_error = $4,
		acquired_by = NULL, acquired_until = NULL,
		status = CASE WHEN attempts + 1 >= $5 THEN 'dead' ELSE 'failed' END,
		next_retry_at = CASE WHEN attempts + 1 >= $5 THEN NULL
			ELSE now() + make_interval(secs => power(2, least(attempts + 1, 30))) END,
		completed_at = CASE WHEN attempts + 1 >= $5 THEN now() ELSE NULL END
		WHERE `+webhookClaimed+` RETURNING `+webhookDeliveryColumns, id, c.Agent, c.Until, message, maxRetries)
	return d, Wrap(err)
}

// MarkWebhookDeliveryDead ends a delivery that can never succeed. attempted says whether a
// request was made (it then counts as an attempt). ErrNotFound: the claim is gone.
func MarkWebhookDeliveryDead(ctx context.Context, q Queryer, id uuid.UUID, c WebhookClaim, message string, attempted bool) (WebhookDelivery, error) {
	var d WebhookDelivery
	err := q.GetContext(ctx, &d, `UPDATE webhook_deliveries SET status = 'dead',
		attempts = attempts + CASE WHEN $5 THEN 1 ELSE 0 END,
		last_attempt_at = CASE WHEN $5 THEN now() ELSE last_attempt_at END,
		last_error = $4, acquired_by = NULL, acquired_until = NULL, next_retry_at = NULL, completed_at = now()
		WHERE `+webhookClaimed+` RETURNING `+webhookDeliveryColumns, id, c.Agent, c.Until, message, attempted)
	return d, Wrap(err)
}

// ReleaseWebhookClaim returns a claimed delivery to pending without recording an attempt (the
// sender is shutting down). ErrNotFound: the claim is gone.
func ReleaseWebhookClaim(ctx context.Context, q Queryer, id uuid.UUID, c WebhookClaim) error {
	return execOne(ctx, q, `UPDATE webhook_deliveries SET status = 'pending', acquired_by = NULL, acquired_until = NULL
		WHERE `+webhookClaimed, id, c.Agent, c.Until)
}

// DeleteFinishedWebhookDeliveries deletes successful and dead deliveries created before t.
func DeleteFinishedWebhookDeliveries(ctx context.Context, q Queryer, before time.Time) (int64, error) {
	return execRowCount(ctx, q, `DELETE FROM webhook_deliveries
		WHERE status IN ('success', 'dead') AND created_at < $1`, before)
}

// execRowCount runs a statement and returns the number of rows it affected.
func execRowCount(ctx context.Context, q Queryer, query string, args ...any) (int64, error) {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, Wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("rows affected: %w", err)
	}
	return n, nil
}
