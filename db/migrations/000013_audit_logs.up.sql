-- Append-only audit trail; rows are removed only by the retention worker.

CREATE TABLE audit_logs (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    "timestamp"   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    actor_type    VARCHAR(20) NOT NULL,
    actor_id      UUID,
    action        VARCHAR(100) NOT NULL,
    resource_type VARCHAR(50) NOT NULL,
    resource_id   UUID,
    details       JSONB,
    ip_address    TEXT,
    user_agent    TEXT,
    created_at    TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT valid_actor_type CHECK (actor_type IN ('admin', 'agent', 'generator', 'system'))
);

CREATE INDEX idx_audit_logs_timestamp ON audit_logs ("timestamp" DESC);
CREATE INDEX idx_audit_logs_actor ON audit_logs (actor_type, actor_id, "timestamp" DESC);
CREATE INDEX idx_audit_logs_resource ON audit_logs (resource_type, resource_id, "timestamp" DESC);
CREATE INDEX idx_audit_logs_action ON audit_logs (action, "timestamp" DESC);
CREATE INDEX idx_audit_logs_cleanup ON audit_logs (created_at);
