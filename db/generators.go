package db

import (
	"context"
	"time"

	"github.com/google/uuid"
)

// ListGenerators returns one page of the live, non-system generators, oldest first, and
// whether more follow.
func ListGenerators(ctx context.Context, q Queryer, p Page) ([]Generator, bool, error) {
	var args []any
	var out []Generator
	err := q.SelectContext(ctx, &out, `SELECT `+generatorColumns+` FROM generators
		WHERE deleted_at IS NULL AND NOT is_system AND `+byCreatedAsc.after("", p, &args)+`
		ORDER BY `+byCreatedAsc.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// GetGenerator returns a live generator.
func GetGenerator(ctx context.Context, q Queryer, id uuid.UUID) (Generator, error) {
	var g Generator
	err := q.GetContext(ctx, &g, `SELECT `+generatorColumns+` FROM generators WHERE id = $1 AND deleted_at IS NULL`, id)
	return g, Wrap(err)
}

// GetGeneratorAny returns a generator even when it is soft-deleted.
func GetGeneratorAny(ctx context.Context, q Queryer, id uuid.UUID) (Generator, error) {
	var g Generator
	err := q.GetContext(ctx, &g, `SELECT `+generatorColumns+` FROM generators WHERE id = $1`, id)
	return g, Wrap(err)
}

// CreateGenerator inserts a generator with a PAK hash.
func CreateGenerator(ctx context.Context, q Queryer, name string, description *string, pakHash string) (Generator, error) {
	var g Generator
	err := q.GetContext(ctx, &g, `INSERT INTO generators (name, description, pak_hash) VALUES ($1, $2, $3)
		RETURNING `+generatorColumns, name, description, pakHash)
	return g, Wrap(err)
}

// GeneratorUpdate holds the writable columns of a generator; nil leaves a column unchanged.
// The key, creation time, deletion time and the system flag are not writable.
type GeneratorUpdate struct {
	Name         string
	Description  *string
	LastActiveAt *time.Time
	IsActive     bool
}

// UpdateGenerator writes the writable columns of a live generator (nil values are skipped).
func UpdateGenerator(ctx context.Context, q Queryer, id uuid.UUID, u GeneratorUpdate) (Generator, error) {
	var g Generator
	err := q.GetContext(ctx, &g, `UPDATE generators SET name = $2, description = COALESCE($3, description),
			last_active_at = COALESCE($4, last_active_at), is_active = $5
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+generatorColumns,
		id, u.Name, u.Description, u.LastActiveAt, u.IsActive)
	return g, Wrap(err)
}

// SoftDeleteGenerator marks a live generator deleted (triggers cascade to its stacks,
// their objects and its templates) and returns its PAK hash.
func SoftDeleteGenerator(ctx context.Context, q Queryer, id uuid.UUID) (string, error) {
	var hash *string
	err := q.GetContext(ctx, &hash, `UPDATE generators SET deleted_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING pak_hash`, id)
	if hash == nil {
		return "", Wrap(err)
	}
	return *hash, Wrap(err)
}

// SetGeneratorPAKHash replaces a live generator's PAK hash and returns it with the old hash.
func SetGeneratorPAKHash(ctx context.Context, q Queryer, id uuid.UUID, hash string) (Generator, string, error) {
	var row struct {
		Generator
		OldHash *string `db:"old_hash"`
	}
	err := q.GetContext(ctx, &row, `UPDATE generators g SET pak_hash = $2 FROM generators old
		WHERE g.id = $1 AND g.deleted_at IS NULL AND old.id = g.id
		RETURNING `+prefixed("g", generatorColumns)+`, old.pak_hash AS old_hash`, id, hash)
	old := ""
	if row.OldHash != nil {
		old = *row.OldHash
	}
	return row.Generator, old, Wrap(err)
}

// PAKSummary is a generator named in GET /paks.
type PAKSummary struct {
	ID   uuid.UUID `db:"id"`
	Name string    `db:"name"`
}

// ListPAKs returns the live, non-system generators (id and name).
func ListPAKs(ctx context.Context, q Queryer) ([]PAKSummary, error) {
	var out []PAKSummary
	err := q.SelectContext(ctx, &out, `SELECT id, name FROM generators WHERE deleted_at IS NULL AND NOT is_system ORDER BY name, id`)
	return out, Wrap(err)
}

// SystemGeneratorID returns the id of the live system generator.
func SystemGeneratorID(ctx context.Context, q Queryer) (uuid.UUID, error) {
	var id uuid.UUID
	err := q.GetContext(ctx, &id, `SELECT id FROM generators WHERE is_system AND deleted_at IS NULL ORDER BY created_at LIMIT 1`)
	return id, Wrap(err)
}

// CountLiveGenerators reports how many of ids are live generators.
func CountLiveGenerators(ctx context.Context, q Queryer, ids []uuid.UUID) (int, error) {
	var n int
	err := q.GetContext(ctx, &n, `SELECT count(*) FROM generators WHERE id = ANY($1) AND deleted_at IS NULL`, ids)
	return n, Wrap(err)
}
