-- Stack templates, their labels/annotations/targets, and the provenance of
-- deployment objects rendered from them.

CREATE TABLE stack_templates (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at        TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at        TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at        TIMESTAMP WITH TIME ZONE,
    -- NULL: a system template (admin only); otherwise owned by a generator.
    generator_id      UUID REFERENCES generators (id) ON DELETE CASCADE,
    name              VARCHAR(255) NOT NULL,
    description       TEXT,
    version           INTEGER NOT NULL DEFAULT 1,
    template_content  TEXT NOT NULL,
    parameters_schema TEXT NOT NULL,
    checksum          VARCHAR(64) NOT NULL
);

CREATE INDEX idx_stack_templates_generator ON stack_templates (generator_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_stack_templates_name ON stack_templates (name)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_stack_templates_deleted_at ON stack_templates (deleted_at);
-- One live row per (owner, name, version); system templates (NULL owner)
-- collide with each other too.
CREATE UNIQUE INDEX unique_template_version
    ON stack_templates (generator_id, name, version) NULLS NOT DISTINCT
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_stack_templates_timestamp
    BEFORE UPDATE ON stack_templates
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

CREATE TABLE template_labels (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id UUID NOT NULL,
    label       VARCHAR(64) NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT template_labels_template_id_label_key UNIQUE (template_id, label),
    CONSTRAINT fk_template_labels_template FOREIGN KEY (template_id)
        REFERENCES stack_templates (id) ON DELETE CASCADE
);

CREATE INDEX idx_template_labels_template ON template_labels (template_id);
CREATE INDEX idx_template_labels_label ON template_labels (label);

CREATE TABLE template_annotations (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id UUID NOT NULL,
    key         VARCHAR(64) NOT NULL,
    value       VARCHAR(64) NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT template_annotations_template_id_key_key UNIQUE (template_id, key),
    CONSTRAINT fk_template_annotations_template FOREIGN KEY (template_id)
        REFERENCES stack_templates (id) ON DELETE CASCADE
);

CREATE INDEX idx_template_annotations_template ON template_annotations (template_id);
CREATE INDEX idx_template_annotations_key ON template_annotations (key);

CREATE TABLE template_targets (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    template_id UUID NOT NULL,
    stack_id    UUID NOT NULL,
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT fk_template_targets_template FOREIGN KEY (template_id)
        REFERENCES stack_templates (id) ON DELETE CASCADE,
    CONSTRAINT fk_template_targets_stack FOREIGN KEY (stack_id)
        REFERENCES stacks (id) ON DELETE CASCADE,
    CONSTRAINT unique_template_stack UNIQUE (template_id, stack_id)
);

CREATE INDEX idx_template_targets_template ON template_targets (template_id);
CREATE INDEX idx_template_targets_stack ON template_targets (stack_id);

CREATE TABLE rendered_deployment_objects (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    deployment_object_id UUID NOT NULL,
    template_id          UUID NOT NULL,
    template_version     INTEGER NOT NULL,
    -- JSON text of the parameters the object was rendered with.
    template_parameters  TEXT NOT NULL,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT rendered_deployment_objects_deployment_object_id_key UNIQUE (deployment_object_id),
    CONSTRAINT fk_rendered_deployment_object FOREIGN KEY (deployment_object_id)
        REFERENCES deployment_objects (id) ON DELETE CASCADE,
    CONSTRAINT fk_rendered_template FOREIGN KEY (template_id)
        REFERENCES stack_templates (id)
);

CREATE INDEX idx_rendered_deployment_objects_template
    ON rendered_deployment_objects (template_id, template_version);
CREATE INDEX idx_rendered_deployment_objects_deployment
    ON rendered_deployment_objects (deployment_object_id);

-- Soft-deleting a generator soft-deletes its live templates.
CREATE FUNCTION cascade_soft_delete_generator_templates() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stack_templates
       SET deleted_at = NEW.deleted_at
     WHERE generator_id = NEW.id
       AND deleted_at IS NULL;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trigger_cascade_soft_delete_generator_templates
    AFTER UPDATE OF deleted_at ON generators
    FOR EACH ROW
    WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION cascade_soft_delete_generator_templates();

-- Hard-deleting a template removes its labels, annotations and targets.
CREATE FUNCTION handle_stack_template_hard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM template_labels WHERE template_id = OLD.id;
    DELETE FROM template_annotations WHERE template_id = OLD.id;
    DELETE FROM template_targets WHERE template_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER trigger_stack_template_hard_delete
    BEFORE DELETE ON stack_templates
    FOR EACH ROW EXECUTE FUNCTION handle_stack_template_hard_delete();
