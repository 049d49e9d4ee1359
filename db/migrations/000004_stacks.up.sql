-- Stacks, their labels and annotations, and explicit agent targets.

CREATE TABLE stacks (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at   TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at   TIMESTAMP WITH TIME ZONE,
    name         VARCHAR(255) NOT NULL,
    description  TEXT,
    generator_id UUID NOT NULL REFERENCES generators (id)
);

CREATE INDEX idx_stack_id ON stacks (id);
CREATE INDEX idx_stack_name ON stacks (name);
CREATE INDEX idx_stacks_generator_id ON stacks (generator_id);
CREATE UNIQUE INDEX unique_stack_name ON stacks (name)
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_stack_timestamp
    BEFORE UPDATE ON stacks
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

CREATE TABLE stack_labels (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stack_id UUID NOT NULL,
    label    VARCHAR(64) NOT NULL,
    CONSTRAINT stack_labels_stack_id_label_key UNIQUE (stack_id, label),
    CONSTRAINT fk_stack_labels_stack FOREIGN KEY (stack_id)
        REFERENCES stacks (id) ON DELETE CASCADE
);

CREATE INDEX idx_stack_labels_object ON stack_labels (stack_id);
CREATE INDEX idx_stack_labels_label ON stack_labels (label);

CREATE TABLE stack_annotations (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stack_id UUID NOT NULL,
    key      VARCHAR(64) NOT NULL,
    value    VARCHAR(64) NOT NULL,
    CONSTRAINT unique_stack_annotation UNIQUE (stack_id, key),
    CONSTRAINT fk_stack_annotations_stack FOREIGN KEY (stack_id)
        REFERENCES stacks (id) ON DELETE CASCADE
);

CREATE INDEX idx_stack_annotations_object ON stack_annotations (stack_id);
CREATE INDEX idx_stack_annotations_key ON stack_annotations (key);

CREATE TABLE agent_targets (
    id       UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id UUID NOT NULL,
    stack_id UUID NOT NULL,
    CONSTRAINT fk_agent FOREIGN KEY (agent_id)
        REFERENCES agents (id) ON DELETE CASCADE,
    CONSTRAINT fk_stack FOREIGN KEY (stack_id)
        REFERENCES stacks (id) ON DELETE CASCADE,
    CONSTRAINT unique_agent_stack UNIQUE (agent_id, stack_id)
);

CREATE INDEX idx_agent_targets_agent_id ON agent_targets (agent_id);
CREATE INDEX idx_agent_targets_stack_id ON agent_targets (stack_id);
