-- Generators: the CI identities that own stacks and templates.

CREATE TABLE generators (
    id             UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at     TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at     TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    deleted_at     TIMESTAMP WITH TIME ZONE,
    name           VARCHAR(255) NOT NULL,
    description    TEXT,
    pak_hash       TEXT,
    last_active_at TIMESTAMP WITH TIME ZONE,
    is_active      BOOLEAN NOT NULL DEFAULT TRUE,
    is_system      BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX idx_generators_name ON generators (name);
CREATE INDEX idx_generators_deleted_at ON generators (deleted_at);
CREATE INDEX idx_generators_pak_hash ON generators (pak_hash)
    WHERE deleted_at IS NULL AND pak_hash IS NOT NULL;
CREATE UNIQUE INDEX unique_generator_name ON generators (name)
    WHERE deleted_at IS NULL;

CREATE TRIGGER update_generators_timestamp
    BEFORE UPDATE ON generators
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- A hard delete of a generator needs no extra work here: foreign keys decide
-- what follows (stacks block it, templates and registrations cascade).
CREATE FUNCTION handle_generator_hard_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RETURN OLD;
END;
$$;

CREATE TRIGGER trigger_generator_hard_delete
    BEFORE DELETE ON generators
    FOR EACH ROW EXECUTE FUNCTION handle_generator_hard_delete();
