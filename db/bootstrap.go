package db

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// bootstrapLockKey serialises bootstrap among broker replicas starting at once.
const bootstrapLockKey = 0x62726f6b6b72 // "brokkr"

// BootstrapResult says what Bootstrap did.
type BootstrapResult struct {
	FirstStart      bool      // the database had never been initialised
	AdminHash       string    // the admin PAK hash now in force
	SystemGenerator uuid.UUID // id of the system generator
	SystemCreated   bool      // the system generator was created now
}

// Bootstrap initialises a database on first start and checks the invariants on every start:
//   - first start: one app_initialization row; admin_role holds adminHash (mint is called for a
//     hash when adminHash is empty); generator "admin-generator" carries the same hash;
//   - later starts: a non-empty adminHash replaces the stored admin hash (the configured key wins);
//   - every start: a live system generator "__system__" exists; when it is created, every agent
//     is registered with it.
//
// It runs in one transaction under an advisory lock, so concurrent replicas are safe.
func Bootstrap(ctx context.Context, d *DB, adminHash string, mint func() (string, error)) (BootstrapResult, error) {
	var res BootstrapResult
	err := d.InTx(ctx, func(q Queryer) error {
		if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(bootstrapLockKey)); err != nil {
			return fmt.Errorf("bootstrap lock: %w", err)
		}
		var initialised bool
		if err := q.GetContext(ctx, &initialised, `SELECT EXISTS (SELECT 1 FROM app_initialization)`); err != nil {
			return Wrap(err)
		}
		var stored string
		err := q.GetContext(ctx, &stored, `SELECT pak_hash FROM admin_role ORDER BY created_at LIMIT 1`)
		hasAdmin := err == nil
		if err != nil && !errors.Is(Wrap(err), ErrNotFound) {
			return Wrap(err)
		}
		hash := adminHash
		switch {
		case hash != "":
		case hasAdmin && initialised:
			hash = stored
		default:
			h, err := mint()
			if err != nil {
				return err
			}
			hash = h
		}
		res.AdminHash = hash
		res.FirstStart = !initialised
		if !initialised {
			if _, err := q.ExecContext(ctx, `INSERT INTO app_initialization DEFAULT VALUES`); err != nil {
				return Wrap(err)
			}
		}
		if hasAdmin {
			if _, err := q.ExecContext(ctx, `UPDATE admin_role SET pak_hash = $1 WHERE pak_hash <> $1`, hash); err != nil {
				return Wrap(err)
			}
		} else if _, err := q.ExecContext(ctx, `INSERT INTO admin_role (pak_hash) VALUES ($1)`, hash); err != nil {
			return Wrap(err)
		}
		// admin-generator mirrors the admin hash.
		res1, err := q.ExecContext(ctx, `UPDATE generators SET pak_hash = $1
			WHERE name = 'admin-generator' AND deleted_at IS NULL`, hash)
		if err != nil {
			return Wrap(err)
		}
		if n, _ := res1.RowsAffected(); n == 0 && !initialised {
			if _, err := q.ExecContext(ctx, `INSERT INTO generators (name, description, pak_hash)
				VALUES ('admin-generator', 'Linked to Admin PAK', $1)`, hash); err != nil {
				return Wrap(err)
			}
		}
		sys, err := SystemGeneratorID(ctx, q)
		switch {
		case err == nil:
			res.SystemGenerator = sys
		case errors.Is(err, ErrNotFound):
			if err := q.GetContext(ctx, &sys, `INSERT INTO generators (name, description, is_system)
				VALUES ('__system__', 'System generator — reserved for fleet-management stacks', TRUE) RETURNING id`); err != nil {
				return Wrap(err)
			}
			if _, err := q.ExecContext(ctx, `INSERT INTO agent_generator_registrations (agent_id, generator_id)
				SELECT id, $1 FROM agents ON CONFLICT DO NOTHING`, sys); err != nil {
				return Wrap(err)
			}
			res.SystemGenerator, res.SystemCreated = sys, true
		default:
			return err
		}
		return nil
	})
	return res, err
}

// Identity is what a PAK hash resolves to in the database.
type Identity struct {
	Admin         bool
	AgentID       uuid.UUID
	GeneratorID   uuid.UUID
	ReadOnlyPAKID uuid.UUID // a named read-only key that is not revoked
}

// ResolvePAKHash finds the admin, live agent, live generator or read-only key (not
// revoked) holding a hash, in that order of precedence. ErrNotFound when nobody holds it.
func ResolvePAKHash(ctx context.Context, q Queryer, hash string) (Identity, error) {
	var row struct {
		Kind string    `db:"kind"`
		ID   uuid.UUID `db:"id"`
	}
	err := q.GetContext(ctx, &row, `SELECT kind, id FROM (
		(SELECT 'admin' AS kind, id, 1 AS rank FROM admin_role WHERE pak_hash = $1 LIMIT 1)
		UNION ALL
		(SELECT 'agent', id, 2 FROM agents WHERE pak_hash = $1 AND deleted_at IS NULL AND pak_hash <> '' LIMIT 1)
		UNION ALL
		(SELECT 'generator', id, 3 FROM generators WHERE pak_hash = $1 AND deleted_at IS NULL AND pak_hash IS NOT NULL LIMIT 1)
		UNION ALL
		(SELECT 'read_only', id, 4 FROM read_only_paks WHERE pak_hash = $1 AND revoked_at IS NULL LIMIT 1)
		) x ORDER BY rank LIMIT 1`, hash)
	if err != nil {
		return Identity{}, Wrap(err)
	}
	switch row.Kind {
	case "admin":
		return Identity{Admin: true}, nil
	case "agent":
		return Identity{AgentID: row.ID}, nil
	case "read_only":
		return Identity{ReadOnlyPAKID: row.ID}, nil
	default:
		return Identity{GeneratorID: row.ID}, nil
	}
}
