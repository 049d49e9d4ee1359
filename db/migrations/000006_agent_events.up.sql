-- Agent events (apply results) and the agent/stack cascades that need them.

CREATE TABLE agent_events (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at           TIMESTAMP WITH TIME ZONE,
    agent_id             UUID NOT NULL,
    deployment_object_id UUID NOT NULL,
    event_type           VARCHAR(50) NOT NULL,
    status               VARCHAR(10) NOT NULL,
    message              TEXT,
    CONSTRAINT fk_agent FOREIGN KEY (agent_id)
        REFERENCES agents (id) ON DELETE CASCADE,
    CONSTRAINT fk_deployment_object FOREIGN KEY (deployment_object_id)
        REFERENCES deployment_objects (id)
);

CREATE INDEX idx_agent_events_id ON agent_events (id);
CREATE INDEX idx_agent_events_agent_id ON agent_events (agent_id);
CREATE INDEX idx_agent_events_deployment_object_id ON agent_events (deployment_object_id);
CREATE INDEX idx_agent_events_event_type ON agent_events (event_type);
CREATE INDEX idx_agent_events_status ON agent_events (status);
CREATE INDEX idx_agent_events_created_at ON agent_events (created_at);
CREATE INDEX idx_agent_events_deleted_at ON agent_events (deleted_at);
-- Serves "has this agent already reported on this object" lookups.
CREATE INDEX idx_agent_events_agent_object_live
    ON agent_events (agent_id, deployment_object_id)
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_agent_event_timestamp
    BEFORE UPDATE ON agent_events
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- Soft-deleting an agent soft-deletes its live events.
CREATE FUNCTION cascade_soft_delete_agents() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE agent_events
       SET deleted_at = NEW.deleted_at
     WHERE agent_id = NEW.id
       AND deleted_at IS NULL;
    RETURN NEW;
END;
$$;

CREATE TRIGGER cascade_soft_delete_agents
    AFTER UPDATE ON agents
    FOR EACH ROW
    WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION cascade_soft_delete_agents();

-- Hard-deleting an agent removes its targets and events first.
CREATE FUNCTION handle_agent_hard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM agent_targets WHERE agent_id = OLD.id;
    DELETE FROM agent_events WHERE agent_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER trigger_agent_hard_delete
    BEFORE DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION handle_agent_hard_delete();

-- Hard-deleting a stack removes its targets, the events of its objects and
-- the objects themselves (deletion markers included).
CREATE FUNCTION handle_stack_hard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM agent_targets WHERE stack_id = OLD.id;
    DELETE FROM agent_events
     WHERE deployment_object_id IN
           (SELECT d.id FROM deployment_objects d WHERE d.stack_id = OLD.id);
    DELETE FROM deployment_objects WHERE stack_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER trigger_stack_hard_delete
    BEFORE DELETE ON stacks
    FOR EACH ROW EXECUTE FUNCTION handle_stack_hard_delete();

-- Second hard-delete hook on stacks: events of the stack's objects, then the
-- objects. Harmless when trigger_stack_hard_delete already did the work.
CREATE FUNCTION hard_delete_deployment_objects_on_stack_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM agent_events
     WHERE deployment_object_id IN
           (SELECT d.id FROM deployment_objects d WHERE d.stack_id = OLD.id);
    DELETE FROM deployment_objects WHERE stack_id = OLD.id;
    RETURN OLD;
END;
$$;

CREATE TRIGGER trigger_hard_delete_deployment_objects
    BEFORE DELETE ON stacks
    FOR EACH ROW EXECUTE FUNCTION hard_delete_deployment_objects_on_stack_delete();
