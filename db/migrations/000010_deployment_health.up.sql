-- Health of a deployment object as seen by one agent.

CREATE TABLE deployment_health (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id             UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
    status               VARCHAR(20) NOT NULL,
    -- JSON text with the per-resource details.
    summary              TEXT,
    checked_at           TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT unique_agent_deployment_health UNIQUE (agent_id, deployment_object_id),
    CONSTRAINT valid_health_status CHECK (status IN ('healthy', 'degraded', 'failing', 'unknown'))
);

CREATE INDEX idx_deployment_health_agent ON deployment_health (agent_id);
CREATE INDEX idx_deployment_health_deployment ON deployment_health (deployment_object_id);
CREATE INDEX idx_deployment_health_status ON deployment_health (status);
CREATE INDEX idx_deployment_health_checked_at ON deployment_health (checked_at);

CREATE TRIGGER update_deployment_health_timestamp
    BEFORE UPDATE ON deployment_health
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();
