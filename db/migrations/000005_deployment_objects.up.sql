-- Deployment objects: immutable, globally ordered YAML bundles of a stack.
-- Also the soft-delete cascades that produce or retire them.

CREATE TABLE deployment_objects (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at         TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at         TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at         TIMESTAMP WITH TIME ZONE,
    sequence_id        BIGSERIAL,
    stack_id           UUID NOT NULL,
    yaml_content       TEXT NOT NULL,
    yaml_checksum      TEXT NOT NULL,
    submitted_at       TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    is_deletion_marker BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT fk_stack FOREIGN KEY (stack_id) REFERENCES stacks (id),
    CONSTRAINT deployment_objects_sequence_id_key UNIQUE (sequence_id)
);

CREATE INDEX idx_deployment_objects_id ON deployment_objects (id);
CREATE INDEX idx_deployment_objects_stack_id ON deployment_objects (stack_id);
CREATE INDEX idx_deployment_objects_yaml_checksum ON deployment_objects (yaml_checksum);
CREATE INDEX idx_deployment_objects_deleted_at ON deployment_objects (deleted_at);
CREATE INDEX idx_deployment_objects_is_deletion_marker ON deployment_objects (is_deletion_marker);
-- Serves "latest live object of a stack" (target state, stack views).
CREATE INDEX idx_deployment_objects_stack_seq_live
    ON deployment_objects (stack_id, sequence_id DESC)
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_deployment_object_timestamp
    BEFORE UPDATE ON deployment_objects
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- Deployment objects are immutable. Allowed: deleting rows (stack hard delete),
-- a soft delete (deleted_at going from NULL to a value), and updates of rows
-- that are deletion markers both before and after. Anything else is refused.
CREATE FUNCTION prevent_deployment_object_changes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    IF OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL THEN
        RETURN NEW;
    END IF;
    IF OLD.is_deletion_marker AND NEW.is_deletion_marker THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'deployment objects are immutable: only soft deletion or deletion-marker updates are allowed';
END;
$$;

CREATE TRIGGER prevent_deployment_object_update
    BEFORE UPDATE ON deployment_objects
    FOR EACH ROW EXECUTE FUNCTION prevent_deployment_object_changes();

CREATE TRIGGER prevent_deployment_object_delete
    BEFORE DELETE ON deployment_objects
    FOR EACH ROW EXECUTE FUNCTION prevent_deployment_object_changes();

-- Soft-deleting a stack retires its live objects and appends a deletion
-- marker (empty YAML) so agents learn to remove what they applied.
CREATE FUNCTION handle_stack_soft_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE deployment_objects
       SET deleted_at = NEW.deleted_at
     WHERE stack_id = NEW.id
       AND deleted_at IS NULL;

    INSERT INTO deployment_objects
        (stack_id, yaml_content, yaml_checksum, submitted_at, is_deletion_marker)
    VALUES
        (NEW.id, '', md5(''), NEW.deleted_at, TRUE);

    RETURN NEW;
END;
$$;

CREATE TRIGGER trigger_handle_stack_soft_delete
    AFTER UPDATE OF deleted_at ON stacks
    FOR EACH ROW
    WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION handle_stack_soft_delete();

-- Soft-deleting a generator soft-deletes its live stacks (which fires the
-- stack trigger above), then every live object of the generator's stacks.
CREATE FUNCTION cascade_soft_delete_generators() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE stacks
       SET deleted_at = NEW.deleted_at
     WHERE generator_id = NEW.id
       AND deleted_at IS NULL;

    UPDATE deployment_objects
       SET deleted_at = NEW.deleted_at
     WHERE stack_id IN (SELECT s.id FROM stacks s WHERE s.generator_id = NEW.id)
       AND deleted_at IS NULL;

    RETURN NEW;
END;
$$;

CREATE TRIGGER cascade_soft_delete_generators
    AFTER UPDATE ON generators
    FOR EACH ROW
    WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION cascade_soft_delete_generators();
