-- Every change that can alter an agent's target state is announced on the
-- brokkr_target_state channel, so that each broker replica can drop exactly the
-- target-state answers it keeps in memory that the change makes stale. The
-- payload is '<schema>|<kind>:<id>': 's:<stack id>' for a stack's deployment
-- objects, 'a:<agent id>' for what one agent targets, is registered with or has
-- reported, and 'g:' for stack labels, annotations, deletion or ownership,
-- which can change the targets of any agent. Notifications are delivered at
-- commit and only then, and identical ones in one transaction are sent once.

CREATE FUNCTION notify_target_state_stack() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|s:' || OLD.stack_id);
    ELSE
        PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|s:' || NEW.stack_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION notify_target_state_agent() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|a:' || OLD.agent_id);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|a:' || NEW.agent_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION notify_target_state_agent_row() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|a:' || OLD.id);
    RETURN NULL;
END;
$$;

CREATE FUNCTION notify_target_state_all() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|g:');
    RETURN NULL;
END;
$$;

CREATE TRIGGER target_state_notify_deployment_objects
    AFTER INSERT OR UPDATE OR DELETE ON deployment_objects
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_stack();

CREATE TRIGGER target_state_notify_agent_labels
    AFTER INSERT OR UPDATE OR DELETE ON agent_labels
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent();

CREATE TRIGGER target_state_notify_agent_annotations
    AFTER INSERT OR UPDATE OR DELETE ON agent_annotations
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent();

CREATE TRIGGER target_state_notify_agent_targets
    AFTER INSERT OR UPDATE OR DELETE ON agent_targets
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent();

CREATE TRIGGER target_state_notify_agent_generator_registrations
    AFTER INSERT OR UPDATE OR DELETE ON agent_generator_registrations
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent();

-- Incremental target state leaves out what the agent has reported on.
CREATE TRIGGER target_state_notify_agent_events
    AFTER INSERT OR UPDATE OF deleted_at, agent_id, deployment_object_id OR DELETE ON agent_events
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent();

CREATE TRIGGER target_state_notify_agents
    AFTER UPDATE OF deleted_at OR DELETE ON agents
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_agent_row();

CREATE TRIGGER target_state_notify_stacks
    AFTER UPDATE OF deleted_at, generator_id OR DELETE ON stacks
    FOR EACH STATEMENT EXECUTE FUNCTION notify_target_state_all();

CREATE TRIGGER target_state_notify_stack_labels
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stack_labels
    FOR EACH STATEMENT EXECUTE FUNCTION notify_target_state_all();

CREATE TRIGGER target_state_notify_stack_annotations
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON stack_annotations
    FOR EACH STATEMENT EXECUTE FUNCTION notify_target_state_all();
