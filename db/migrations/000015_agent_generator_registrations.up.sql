-- An agent must be registered with a generator before that generator's
-- stacks can target it.

CREATE TABLE agent_generator_registrations (
    id            UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id      UUID NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    generator_id  UUID NOT NULL REFERENCES generators (id) ON DELETE CASCADE,
    registered_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    CONSTRAINT agent_generator_registrations_agent_id_generator_id_key
        UNIQUE (agent_id, generator_id)
);

CREATE INDEX idx_agr_agent_id ON agent_generator_registrations (agent_id);
CREATE INDEX idx_agr_generator_id ON agent_generator_registrations (generator_id);

-- Existing explicit targets keep working: register every targeted agent with
-- the generator owning the targeted stack.
INSERT INTO agent_generator_registrations (agent_id, generator_id)
SELECT DISTINCT t.agent_id, s.generator_id
  FROM agent_targets t
  JOIN stacks s ON s.id = t.stack_id
ON CONFLICT (agent_id, generator_id) DO NOTHING;
