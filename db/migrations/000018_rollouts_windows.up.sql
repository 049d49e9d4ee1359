-- Progressive rollouts and apply windows.
--
-- A stack with a rollout policy gets a rollout for every deployment object posted to it:
-- target state serves the object only to the agents the rollout has released, wave by
-- wave; the others keep receiving what they received before. Apply windows hold new
-- objects back from agents outside their allow windows or inside a deny window.

-- An urgent object passes through apply windows.
ALTER TABLE deployment_objects ADD COLUMN urgent BOOLEAN NOT NULL DEFAULT false;

-- The rollout policy of a stack (at most one). policy is the JSON document the API takes.
CREATE TABLE rollout_policies (
    stack_id   UUID PRIMARY KEY REFERENCES stacks (id) ON DELETE CASCADE,
    policy     JSONB NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TRIGGER update_rollout_policy_timestamp
    BEFORE UPDATE ON rollout_policies
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- One rollout per deployment object posted to a stack with a policy. policy is the
-- policy as it was when the object was posted; waves the state of each wave
-- ([{"unlocked_at": ..., "completed_at": ...}], one entry per wave including the
-- implicit last one). current_wave is the highest unlocked wave.
CREATE TABLE rollouts (
    id                   UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    stack_id             UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
    previous_object_id   UUID REFERENCES deployment_objects (id) ON DELETE SET NULL,
    policy               JSONB NOT NULL,
    status               VARCHAR(20) NOT NULL,
    current_wave         INTEGER NOT NULL DEFAULT 0,
    waves                JSONB NOT NULL DEFAULT '[]',
    next_wave_at         TIMESTAMP WITH TIME ZONE,
    failures_accepted    INTEGER NOT NULL DEFAULT 0,
    reason               TEXT,
    created_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at           TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    finished_at          TIMESTAMP WITH TIME ZONE,
    CONSTRAINT rollouts_deployment_object_key UNIQUE (deployment_object_id),
    CONSTRAINT valid_rollout_status CHECK (status IN
        ('progressing', 'waiting', 'paused', 'halted', 'completed', 'aborted', 'superseded'))
);

CREATE INDEX idx_rollouts_stack ON rollouts (stack_id, created_at DESC);
CREATE INDEX idx_rollouts_active ON rollouts (status)
    WHERE status IN ('progressing', 'waiting', 'paused', 'halted');

CREATE TRIGGER update_rollout_timestamp
    BEFORE UPDATE ON rollouts
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- The agents a rollout has released its object to. A released agent keeps receiving the
-- object for as long as the rollout is not aborted.
CREATE TABLE rollout_agents (
    rollout_id  UUID NOT NULL REFERENCES rollouts (id) ON DELETE CASCADE,
    agent_id    UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    stack_id    UUID NOT NULL,
    wave        INTEGER NOT NULL,
    released_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (rollout_id, agent_id)
);

CREATE INDEX idx_rollout_agents_agent ON rollout_agents (agent_id);

-- What each agent last reported applying per stack: the object of its latest DEPLOY
-- event. Kept by a trigger on agent_events, and not subject to the events' retention,
-- so that apply windows can keep serving an agent the object it has.
CREATE TABLE agent_deployments (
    agent_id             UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    stack_id             UUID NOT NULL REFERENCES stacks (id) ON DELETE CASCADE,
    deployment_object_id UUID NOT NULL REFERENCES deployment_objects (id) ON DELETE CASCADE,
    status               VARCHAR(10) NOT NULL,
    reported_at          TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (agent_id, stack_id)
);

CREATE INDEX idx_agent_deployments_object ON agent_deployments (deployment_object_id);

CREATE FUNCTION record_agent_deployment() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type = 'DEPLOY' AND NEW.deleted_at IS NULL THEN
        INSERT INTO agent_deployments (agent_id, stack_id, deployment_object_id, status, reported_at)
        SELECT NEW.agent_id, d.stack_id, d.id, NEW.status, NEW.created_at
          FROM deployment_objects d WHERE d.id = NEW.deployment_object_id
        ON CONFLICT (agent_id, stack_id) DO UPDATE
           SET deployment_object_id = EXCLUDED.deployment_object_id,
               status = EXCLUDED.status,
               reported_at = EXCLUDED.reported_at
         WHERE agent_deployments.reported_at <= EXCLUDED.reported_at;
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER record_agent_deployment
    AFTER INSERT ON agent_events
    FOR EACH ROW EXECUTE FUNCTION record_agent_deployment();

INSERT INTO agent_deployments (agent_id, stack_id, deployment_object_id, status, reported_at)
SELECT DISTINCT ON (e.agent_id, d.stack_id) e.agent_id, d.stack_id, d.id, e.status, e.created_at
  FROM agent_events e
  JOIN deployment_objects d ON d.id = e.deployment_object_id
  JOIN stacks s ON s.id = d.stack_id
  JOIN agents a ON a.id = e.agent_id
 WHERE e.event_type = 'DEPLOY' AND e.deleted_at IS NULL
 ORDER BY e.agent_id, d.stack_id, e.created_at DESC;

-- Apply windows. selector is {"labels": [...], "annotations": {...}} (every agent when
-- empty); stack_ids limits the window to some stacks (every stack when empty).
CREATE TABLE apply_windows (
    id          UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name        TEXT NOT NULL,
    description TEXT,
    schedule    TEXT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    time_zone   TEXT NOT NULL DEFAULT 'UTC',
    kind        VARCHAR(10) NOT NULL,
    selector    JSONB NOT NULL DEFAULT '{}',
    stack_ids   UUID[] NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT apply_windows_name_key UNIQUE (name),
    CONSTRAINT apply_windows_name_check CHECK (length(btrim(name)) > 0 AND octet_length(name) <= 255),
    CONSTRAINT valid_apply_window_kind CHECK (kind IN ('allow', 'deny')),
    CONSTRAINT valid_apply_window_duration CHECK (duration_seconds > 0)
);

CREATE TRIGGER update_apply_window_timestamp
    BEFORE UPDATE ON apply_windows
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- Target state: a rollout's status and its released agents decide which object of its
-- stack each agent receives; apply windows can hold any agent's objects ('w:' also makes
-- every replica read the windows again).
CREATE TRIGGER target_state_notify_rollouts
    AFTER INSERT OR UPDATE OR DELETE ON rollouts
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_stack();

CREATE TRIGGER target_state_notify_rollout_agents
    AFTER INSERT OR UPDATE OR DELETE ON rollout_agents
    FOR EACH ROW EXECUTE FUNCTION notify_target_state_stack();

CREATE FUNCTION notify_target_state_windows() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('brokkr_target_state', TG_TABLE_SCHEMA || '|w:');
    RETURN NULL;
END;
$$;

CREATE TRIGGER target_state_notify_apply_windows
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON apply_windows
    FOR EACH STATEMENT EXECUTE FUNCTION notify_target_state_windows();
