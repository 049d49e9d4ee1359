-- Named read-only PAKs: keys that may read what the admin reads and change nothing. Only
-- the key's hash is stored. A revoked key keeps its row (revoked_at set) and never
-- authenticates again; names are unique among the keys not revoked.

CREATE TABLE read_only_paks (
    id         UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name       TEXT NOT NULL,
    pak_hash   TEXT NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP,
    revoked_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT read_only_paks_pak_hash_key UNIQUE (pak_hash),
    CONSTRAINT read_only_paks_name_check CHECK (length(btrim(name)) > 0 AND octet_length(name) <= 255)
);

CREATE UNIQUE INDEX read_only_paks_live_name ON read_only_paks (name) WHERE revoked_at IS NULL;
