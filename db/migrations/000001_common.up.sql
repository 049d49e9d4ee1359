-- Shared trigger functions used by many tables.

-- update_timestamp keeps updated_at current on every row update.
CREATE FUNCTION update_timestamp() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$;

-- soft_delete marks a row as deleted. It is kept for schema parity and is not
-- attached to any table.
CREATE FUNCTION soft_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.deleted_at := CURRENT_TIMESTAMP;
    RETURN NEW;
END;
$$;
