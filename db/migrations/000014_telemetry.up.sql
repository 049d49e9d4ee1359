-- Short-lived buffers of Kubernetes events and pod log lines streamed by
-- agents. The broker evicts rows by created_at (ingestion time).

CREATE TABLE agent_k8s_events (
    id              UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id        UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    stack_id        UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    observed_at     TIMESTAMP WITH TIME ZONE NOT NULL,
    reason          TEXT NOT NULL,
    message         TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    source          TEXT,
    involved_object JSONB NOT NULL,
    created_at      TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_agent_k8s_events_stack_created ON agent_k8s_events (stack_id, created_at DESC);
CREATE INDEX idx_agent_k8s_events_created ON agent_k8s_events (created_at);

CREATE TABLE agent_pod_logs (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id   UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    stack_id   UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    namespace  TEXT NOT NULL,
    pod        TEXT NOT NULL,
    container  TEXT NOT NULL,
    ts         TIMESTAMP WITH TIME ZONE NOT NULL,
    line       TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_agent_pod_logs_stack_created ON agent_pod_logs (stack_id, created_at DESC);
CREATE INDEX idx_agent_pod_logs_created ON agent_pod_logs (created_at);
