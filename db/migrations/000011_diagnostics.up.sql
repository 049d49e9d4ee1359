-- On-demand diagnostics: requests picked up by agents, and their results.

CREATE TABLE diagnostic_requests (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id             UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
    status               VARCHAR(20) NOT NULL DEFAULT 'pending',
    requested_by         VARCHAR(255),
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    claimed_at           TIMESTAMP WITH TIME ZONE,
    completed_at         TIMESTAMP WITH TIME ZONE,
    expires_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    CONSTRAINT valid_diagnostic_request_status
        CHECK (status IN ('pending', 'claimed', 'completed', 'failed', 'expired'))
);

CREATE INDEX idx_diagnostic_requests_agent_pending ON diagnostic_requests (agent_id)
    WHERE status = 'pending';
CREATE INDEX idx_diagnostic_requests_expires ON diagnostic_requests (expires_at);
CREATE INDEX idx_diagnostic_requests_deployment ON diagnostic_requests (deployment_object_id);

CREATE TABLE diagnostic_results (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    request_id   UUID NOT NULL REFERENCES diagnostic_requests (id) ON DELETE CASCADE,
    -- JSON text collected by the agent.
    pod_statuses TEXT NOT NULL,
    events       TEXT NOT NULL,
    log_tails    TEXT,
    collected_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE INDEX idx_diagnostic_results_request ON diagnostic_results (request_id);
