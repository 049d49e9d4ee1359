-- Webhook subscriptions and their delivery queue.

CREATE TABLE webhook_subscriptions (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name                  VARCHAR(255) NOT NULL,
    -- URL and Authorization header are stored encrypted.
    url_encrypted         BYTEA NOT NULL,
    auth_header_encrypted BYTEA,
    event_types           TEXT[] NOT NULL,
    -- JSON text: optional agent/stack/label filters.
    filters               TEXT,
    -- NULL or empty: the broker delivers; otherwise a matching agent does.
    target_labels         TEXT[],
    enabled               BOOLEAN NOT NULL DEFAULT TRUE,
    max_retries           INTEGER NOT NULL DEFAULT 5,
    timeout_seconds       INTEGER NOT NULL DEFAULT 30,
    created_at            TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at            TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    created_by            VARCHAR(255)
);

CREATE INDEX idx_webhook_subscriptions_enabled ON webhook_subscriptions (enabled)
    WHERE enabled = TRUE;

CREATE TRIGGER update_webhook_subscriptions_updated_at
    BEFORE UPDATE ON webhook_subscriptions
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    subscription_id UUID NOT NULL REFERENCES webhook_subscriptions (id) ON DELETE CASCADE,
    event_type      VARCHAR(100) NOT NULL,
    event_id        UUID NOT NULL,
    -- The event envelope as JSON text, posted verbatim.
    payload         TEXT NOT NULL,
    target_labels   TEXT[],
    status          VARCHAR(20) NOT NULL DEFAULT 'pending',
    acquired_by     UUID REFERENCES agents (id) ON DELETE SET NULL,
    acquired_until  TIMESTAMP WITH TIME ZONE,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_attempt_at TIMESTAMP WITH TIME ZONE,
    next_retry_at   TIMESTAMP WITH TIME ZONE,
    last_error      TEXT,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    completed_at    TIMESTAMP WITH TIME ZONE,
    CONSTRAINT valid_delivery_status
        CHECK (status IN ('pending', 'acquired', 'success', 'failed', 'dead'))
);

CREATE INDEX idx_webhook_deliveries_pending ON webhook_deliveries (created_at)
    WHERE status = 'pending';
CREATE INDEX idx_webhook_deliveries_acquired_expired ON webhook_deliveries (acquired_until)
    WHERE status = 'acquired';
CREATE INDEX idx_webhook_deliveries_retry ON webhook_deliveries (next_retry_at)
    WHERE status = 'failed';
CREATE INDEX idx_webhook_deliveries_subscription
    ON webhook_deliveries (subscription_id, created_at DESC);
CREATE INDEX idx_webhook_deliveries_cleanup ON webhook_deliveries (created_at)
    WHERE status IN ('success', 'dead');
