package db

import (
	"context"
	"errors"
	"fmt"
)

// AuthEvictChannel is the NOTIFY channel carrying PAK hashes (one per notification) whose
// cached resolutions every broker replica sharing the database must drop.
const AuthEvictChannel = "brokkr_auth_evict"

// ErrNoAdmin means the database holds no admin identity: no broker has bootstrapped it.
var ErrNoAdmin = errors.New("the database holds no admin identity yet: start the broker once (brokkr-broker serve)")

// RotateAdminPAKHash replaces the admin PAK hash with hash, together with the hash of the
// admin generator, which mirrors it (see Bootstrap). In the same transaction it notifies
// AuthEvictChannel of every hash replaced, so that each replica drops the old key from its
// auth cache when the change commits. It returns the replaced hashes (none equal to hash).
// ErrNoAdmin when the database was never bootstrapped.
func RotateAdminPAKHash(ctx context.Context, d *DB, hash string) (replaced []string, err error) {
	err = d.InTx(ctx, func(q Queryer) error {
		replaced = nil
		// Serialised with Bootstrap, which writes the same rows.
		if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(bootstrapLockKey)); err != nil {
			return fmt.Errorf("bootstrap lock: %w", err)
		}
		var old []string
		err := q.SelectContext(ctx, &old, `UPDATE admin_role a SET pak_hash = $1 FROM admin_role o
			WHERE o.id = a.id RETURNING o.pak_hash`, hash)
		if err != nil {
			return Wrap(err)
		}
		if len(old) == 0 {
			return ErrNoAdmin
		}
		var gen []string
		err = q.SelectContext(ctx, &gen, `UPDATE generators g SET pak_hash = $1 FROM generators o
			WHERE o.id = g.id AND g.name = 'admin-generator' AND g.deleted_at IS NULL
			RETURNING COALESCE(o.pak_hash, '')`, hash)
		if err != nil {
			return Wrap(err)
		}
		seen := map[string]bool{hash: true, "": true}
		for _, h := range append(old, gen...) {
			if seen[h] {
				continue
			}
			seen[h] = true
			replaced = append(replaced, h)
			if _, err := q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, AuthEvictChannel, h); err != nil {
				return Wrap(err)
			}
		}
		return nil
	})
	return replaced, err
}
