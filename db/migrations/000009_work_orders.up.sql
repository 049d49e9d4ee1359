-- Work orders: the active queue, its completion log, and targeting.

CREATE TABLE work_orders (
    id                    UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at            TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at            TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    work_type             VARCHAR(50) NOT NULL,
    yaml_content          TEXT NOT NULL,
    -- PENDING, CLAIMED or RETRY_PENDING.
    status                VARCHAR(20) NOT NULL DEFAULT 'PENDING',
    claimed_by            UUID REFERENCES agents (id) ON DELETE SET NULL,
    claimed_at            TIMESTAMP WITH TIME ZONE,
    claim_timeout_seconds INTEGER NOT NULL DEFAULT 3600,
    max_retries           INTEGER NOT NULL DEFAULT 3,
    retry_count           INTEGER NOT NULL DEFAULT 0,
    backoff_seconds       INTEGER NOT NULL DEFAULT 60,
    next_retry_after      TIMESTAMP WITH TIME ZONE,
    last_error            TEXT,
    last_error_at         TIMESTAMP WITH TIME ZONE,
    CONSTRAINT valid_retry_count CHECK (retry_count >= 0 AND retry_count <= max_retries),
    CONSTRAINT valid_max_retries CHECK (max_retries >= 0),
    CONSTRAINT valid_backoff CHECK (backoff_seconds > 0),
    CONSTRAINT valid_claim_timeout CHECK (claim_timeout_seconds > 0),
    CONSTRAINT claimed_requires_agent CHECK (
        (status = 'CLAIMED' AND claimed_by IS NOT NULL AND claimed_at IS NOT NULL)
        OR status <> 'CLAIMED'
    )
);

CREATE INDEX idx_work_orders_status ON work_orders (status);
CREATE INDEX idx_work_orders_type ON work_orders (work_type);
CREATE INDEX idx_work_orders_claimed_by ON work_orders (claimed_by)
    WHERE claimed_by IS NOT NULL;
CREATE INDEX idx_work_orders_stale_claims ON work_orders (claimed_at, claim_timeout_seconds)
    WHERE status = 'CLAIMED';
CREATE INDEX idx_work_orders_retry ON work_orders (next_retry_after)
    WHERE status = 'RETRY_PENDING';
CREATE INDEX idx_work_orders_pending_type ON work_orders (work_type, created_at)
    WHERE status = 'PENDING';
CREATE INDEX idx_work_orders_last_error ON work_orders (last_error_at)
    WHERE last_error IS NOT NULL;

CREATE TRIGGER update_work_orders_timestamp
    BEFORE UPDATE ON work_orders
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- Completed work orders (success, or failure after the last retry). The id is
-- the id the work order had in the queue.
CREATE TABLE work_order_log (
    id                UUID PRIMARY KEY,
    work_type         VARCHAR(50) NOT NULL,
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL,
    claimed_at        TIMESTAMP WITH TIME ZONE,
    completed_at      TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    claimed_by        UUID REFERENCES agents (id) ON DELETE SET NULL,
    success           BOOLEAN NOT NULL,
    retries_attempted INTEGER NOT NULL DEFAULT 0,
    result_message    TEXT,
    yaml_content      TEXT NOT NULL,
    CONSTRAINT valid_retries_attempted CHECK (retries_attempted >= 0)
);

CREATE INDEX idx_work_order_log_type ON work_order_log (work_type);
CREATE INDEX idx_work_order_log_success ON work_order_log (success);
CREATE INDEX idx_work_order_log_completed_at ON work_order_log (completed_at);
CREATE INDEX idx_work_order_log_claimed_by ON work_order_log (claimed_by)
    WHERE claimed_by IS NOT NULL;
CREATE INDEX idx_work_order_log_type_completed ON work_order_log (work_type, completed_at DESC);

CREATE TABLE work_order_targets (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    work_order_id UUID NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    agent_id      UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT work_order_targets_work_order_id_agent_id_key UNIQUE (work_order_id, agent_id)
);

CREATE INDEX idx_work_order_targets_order ON work_order_targets (work_order_id);
CREATE INDEX idx_work_order_targets_agent ON work_order_targets (agent_id);

CREATE TABLE work_order_labels (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    work_order_id UUID NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    label         VARCHAR(64) NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT work_order_labels_work_order_id_label_key UNIQUE (work_order_id, label)
);

CREATE INDEX idx_work_order_labels_order ON work_order_labels (work_order_id);
CREATE INDEX idx_work_order_labels_label ON work_order_labels (label);

CREATE TABLE work_order_annotations (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    work_order_id UUID NOT NULL REFERENCES work_orders (id) ON DELETE CASCADE,
    key           VARCHAR(64) NOT NULL,
    value         VARCHAR(64) NOT NULL,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT work_order_annotations_work_order_id_key_value_key UNIQUE (work_order_id, key, value)
);

CREATE INDEX idx_work_order_annotations_order ON work_order_annotations (work_order_id);
CREATE INDEX idx_work_order_annotations_key ON work_order_annotations (key);
CREATE INDEX idx_work_order_annotations_key_value ON work_order_annotations (key, value);
