package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ReadOnlyPAK is a named read-only key; its hash never leaves this package's callers.
type ReadOnlyPAK struct {
	ID        uuid.UUID  `db:"id"`
	Name      string     `db:"name"`
	PAKHash   string     `db:"pak_hash"`
	CreatedAt time.Time  `db:"created_at"`
	RevokedAt *time.Time `db:"revoked_at"`
}

const readOnlyPAKColumns = `id, name, pak_hash, created_at, revoked_at`

// CreateReadOnlyPAK stores a read-only key by its hash. A name already held by a key that
// is not revoked is a *ConstraintError (ErrConflict, read_only_paks_live_name).
func CreateReadOnlyPAK(ctx context.Context, q Queryer, name, pakHash string) (ReadOnlyPAK, error) {
	var k ReadOnlyPAK
	err := q.GetContext(ctx, &k, `INSERT INTO read_only_paks (name, pak_hash) VALUES ($1, $2)
		RETURNING `+readOnlyPAKColumns, name, pakHash)
	return k, Wrap(err)
}

// ListReadOnlyPAKs returns the read-only keys that are not revoked, by name.
func ListReadOnlyPAKs(ctx context.Context, q Queryer) ([]ReadOnlyPAK, error) {
	out := []ReadOnlyPAK{}
	err := q.SelectContext(ctx, &out, `SELECT `+readOnlyPAKColumns+` FROM read_only_paks
		WHERE revoked_at IS NULL ORDER BY name, id`)
	return out, Wrap(err)
}

// RevokeReadOnlyPAK revokes a read-only key that is not revoked yet and returns it (its
// hash is what caches and sockets must forget). ErrNotFound when there is no such key.
func RevokeReadOnlyPAK(ctx context.Context, q Queryer, id uuid.UUID) (ReadOnlyPAK, error) {
	var k ReadOnlyPAK
	err := q.GetContext(ctx, &k, `UPDATE read_only_paks SET revoked_at = now()
		WHERE id = $1 AND revoked_at IS NULL RETURNING `+readOnlyPAKColumns, id)
	return k, Wrap(err)
}
