-- Broker bootstrap state: first-start marker and the single admin role.

CREATE TABLE app_initialization (
    id             SERIAL PRIMARY KEY,
    initialized_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE admin_role (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    pak_hash   TEXT NOT NULL
);

CREATE INDEX idx_admin_role_id ON admin_role (id);

CREATE TRIGGER update_admin_role_timestamp
    BEFORE UPDATE ON admin_role
    FOR EACH ROW EXECUTE FUNCTION update_timestamp();

-- The admin role can be rotated (updated) but never removed.
CREATE FUNCTION prevent_admin_role_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the admin role cannot be deleted';
END;
$$;

CREATE TRIGGER prevent_admin_role_delete
    BEFORE DELETE ON admin_role
    FOR EACH ROW EXECUTE FUNCTION prevent_admin_role_delete();
