-- Agents (one per cluster) with their labels and annotations.

CREATE TABLE agents (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at         TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at         TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at         TIMESTAMP WITH TIME ZONE,
    name               VARCHAR(255) NOT NULL,
    cluster_name       VARCHAR(255) NOT NULL,
    last_heartbeat     TIMESTAMP WITH TIME ZONE,
    status             VARCHAR(50) NOT NULL DEFAULT 'INACTIVE',
    pak_hash           TEXT NOT NULL DEFAULT '',
    k8s_reachable      BOOLEAN,
    k8s_api_latency_ms INTEGER,
    k8s_reported_at    TIMESTAMP WITH TIME ZONE
);

CREATE INDEX idx_agent_id ON agents (id);
CREATE INDEX idx_agent_name ON agents (name);
CREATE INDEX idx_agent_cluster_name ON agents (cluster_name);
CREATE INDEX idx_agent_status ON agents (status);
CREATE INDEX idx_agents_deleted_at ON agents (deleted_at);
CREATE INDEX idx_agents_pak_hash ON agents (pak_hash)
    WHERE deleted_at IS NULL AND pak_hash IS NOT NULL AND pak_hash <> '';
-- Name + cluster is unique among live agents only, so a name can be reused
-- after a soft delete.
CREATE UNIQUE INDEX unique_agent_cluster ON agents (name, cluster_name)
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_agent_timestamp
    BEFORE UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

CREATE TABLE agent_labels (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id UUID NOT NULL,
    label    VARCHAR(64) NOT NULL,
    CONSTRAINT agent_labels_agent_id_label_key UNIQUE (agent_id, label),
    CONSTRAINT fk_agent_labels_agent FOREIGN KEY (agent_id)
        REFERENCES agents (id) ON DELETE CASCADE
);

CREATE INDEX idx_agent_labels_object ON agent_labels (agent_id);
CREATE INDEX idx_agent_labels_label ON agent_labels (label);

CREATE TABLE agent_annotations (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id UUID NOT NULL,
    key      VARCHAR(64) NOT NULL,
    value    VARCHAR(64) NOT NULL,
    CONSTRAINT agent_annotations_agent_id_key_key UNIQUE (agent_id, key),
    CONSTRAINT fk_agent_annotations_agent FOREIGN KEY (agent_id)
        REFERENCES agents (id) ON DELETE CASCADE
);

CREATE INDEX idx_agent_annotations_object ON agent_annotations (agent_id);
CREATE INDEX idx_agent_annotations_key ON agent_annotations (key);
