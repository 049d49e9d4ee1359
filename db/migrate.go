package db

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/golang-migrate/migrate/v4"
	pgxmigrate "github.com/golang-migrate/migrate/v4/database/pgx/v5"
	"github.com/golang-migrate/migrate/v4/source"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationFiles holds the schema migrations, named
// NNNNNN_<name>.up.sql / NNNNNN_<name>.down.sql.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationsTable is the table, in the target schema, in which the applied
// migration version is recorded.
const MigrationsTable = "schema_migrations"

// closeTimeout bounds the clean-up work done after ctx may already be done.
const closeTimeout = 5 * time.Second

// embeddedVersions lists the versions of the embedded migrations in
// ascending order. It panics on a malformed file name, which can only be a
// build-time mistake.
var embeddedVersions = sync.OnceValue(func() []uint {
	names, err := fs.Glob(migrationFiles, "migrations/*.up.sql")
	if err != nil {
		panic(fmt.Sprintf("db: list embedded migrations: %v", err))
	}
	versions := make([]uint, 0, len(names))
	for _, name := range names {
		m, err := source.Parse(path.Base(name))
		if err != nil {
			panic(fmt.Sprintf("db: parse migration file name %q: %v", name, err))
		}
		versions = append(versions, m.Version)
	}
	slices.Sort(versions)
	return versions
})

// LatestMigrationVersion returns the highest migration version embedded in
// the binary: the version MigrateUp brings a database to.
func LatestMigrationVersion() uint {
	v := embeddedVersions()
	if len(v) == 0 {
		return 0
	}
	return v[len(v)-1]
}

// MigrateUp applies every pending migration to the database at databaseURL
// (a postgres:// URL or key/value connection string).
//
// With a non-empty schema (see ValidateSchemaName) the schema is created when
// missing, and the tables, functions and the migrations table all live in
// it; with an empty schema the connection's current schema is used. A
// database that is already up to date is not an error; one whose recorded
// version this binary does not know, or that is dirty, is.
//
// Concurrent calls against the same database and schema are serialised: the
// later caller waits (as long as ctx allows) and then finds nothing to do.
// Migrations run one at a time, each in its own transaction; ctx is checked
// between them, so when it ends the migration in progress completes, the
// rest are skipped and ctx's error is returned.
func MigrateUp(ctx context.Context, databaseURL, schema string) error {
	err := withMigrator(ctx, databaseURL, schema, true, func(m *migrate.Migrate) error {
		latest := LatestMigrationVersion()
		for {
			v, err := knownVersion(m)
			if err != nil {
				return err
			}
			if v == latest {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := m.Steps(1); err != nil {
				return fmt.Errorf("apply migration after version %d: %w", v, err)
			}
		}
	})
	if err != nil {
		return fmt.Errorf("migrate up: %w", err)
	}
	return nil
}

// MigrateDown reverts applied migrations one at a time, newest first,
// checking ctx between them. steps <= 0, or more steps than there are
// applied migrations, reverts all of them. A database (or schema) with
// nothing applied is not an error. The schema itself is never dropped.
func MigrateDown(ctx context.Context, databaseURL, schema string, steps int) error {
	err := withMigrator(ctx, databaseURL, schema, false, func(m *migrate.Migrate) error {
		for i := 0; steps <= 0 || i < steps; i++ {
			v, err := knownVersion(m)
			if err != nil {
				return err
			}
			if v == 0 {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := m.Steps(-1); err != nil {
				return fmt.Errorf("revert migration %d: %w", v, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// knownVersion returns the version recorded by m's database, 0 when none is.
// A dirty version, or one missing from the embedded migrations, is an error.
func knownVersion(m *migrate.Migrate) (uint, error) {
	v, dirty, err := m.Version()
	if errors.Is(err, migrate.ErrNilVersion) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read version: %w", err)
	}
	if dirty {
		return 0, fmt.Errorf("version %d is dirty: a migration failed part-way; repair the schema, then record the right version", v)
	}
	if !slices.Contains(embeddedVersions(), v) {
		return 0, fmt.Errorf("database is at version %d, which this binary does not know (latest %d)", v, LatestMigrationVersion())
	}
	return v, nil
}

// MigrationVersion reports the migration version recorded in the database
// and whether the last migration failed half-way (dirty). It reports version
// 0 when no migration has been applied, including when the schema or the
// migrations table does not exist yet. It changes nothing in the database.
func MigrationVersion(ctx context.Context, databaseURL, schema string) (version uint, dirty bool, err error) {
	if err := ValidateSchemaName(schema); err != nil {
		return 0, false, fmt.Errorf("migration version: %w", err)
	}
	cfg, err := connConfig(databaseURL, schema)
	if err != nil {
		return 0, false, fmt.Errorf("migration version: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return 0, false, fmt.Errorf("migration version: connect: %w", err)
	}
	defer closeConn(conn)

	target, err := effectiveSchema(ctx, conn, schema)
	if err != nil {
		return 0, false, fmt.Errorf("migration version: %w", err)
	}
	if target == "" {
		return 0, false, nil
	}
	table := QuoteIdent(target) + "." + QuoteIdent(MigrationsTable)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, table).Scan(&exists); err != nil {
		return 0, false, fmt.Errorf("migration version: look up %s: %w", table, err)
	}
	if !exists {
		return 0, false, nil
	}
	var v int64
	err = conn.QueryRow(ctx, `SELECT version, dirty FROM `+table+` LIMIT 1`).Scan(&v, &dirty)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("migration version: read %s: %w", table, err)
	}
	if v < 0 {
		return 0, dirty, nil
	}
	return uint(v), dirty, nil
}

// withMigrator prepares a migrate instance for databaseURL/schema, runs fn
// with it and releases everything it opened.
//
// The work is serialised per database and schema by a session-level advisory
// lock that is held on a separate connection for the whole run. Waiting for
// that lock honours ctx, unlike the lock golang-migrate takes itself, which
// is then always free for brokkr callers.
func withMigrator(ctx context.Context, databaseURL, schema string, createSchema bool, fn func(*migrate.Migrate) error) (err error) {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateSchemaName(schema); err != nil {
		return err
	}
	cfg, err := connConfig(databaseURL, schema)
	if err != nil {
		return err
	}

	lockConn, err := pgx.ConnectConfig(ctx, cfg.Copy())
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	// Ending the session also releases the advisory lock.
	defer closeConn(lockConn)

	target, err := effectiveSchema(ctx, lockConn, schema)
	if err != nil {
		return err
	}
	if target == "" {
		return errors.New("the connection has no current schema: set search_path or choose a schema")
	}
	if _, err := lockConn.Exec(ctx, `SELECT pg_advisory_lock($1)`, lockKey(target)); err != nil {
		return fmt.Errorf("wait for migration lock: %w", err)
	}

	if schema != "" {
		// Look first: CREATE SCHEMA needs the CREATE privilege on the
		// database even when the schema already exists.
		var exists bool
		err := lockConn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = $1)`, schema).Scan(&exists)
		if err != nil {
			return fmt.Errorf("look up schema %s: %w", schema, err)
		}
		switch {
		case !exists && !createSchema:
			return nil // nothing can have been applied
		case !exists:
			if _, err := lockConn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+QuoteIdent(schema)); err != nil {
				return fmt.Errorf("create schema %s: %w", schema, err)
			}
		}
	}

	m, err := newMigrator(cfg, schema)
	if err != nil {
		return err
	}
	defer func() {
		srcErr, dbErr := m.Close()
		if err == nil {
			err = errors.Join(srcErr, dbErr)
		}
	}()

	return fn(m)
}

// newMigrator builds a migrate instance over the embedded files and a fresh
// connection pool configured by cfg. The migrations table lives in schema,
// or in the connection's current schema when schema is empty.
func newMigrator(cfg *pgx.ConnConfig, schema string) (*migrate.Migrate, error) {
	src, err := iofs.New(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("open embedded migrations: %w", err)
	}
	sqlDB := stdlib.OpenDB(*cfg.Copy())
	drv, err := pgxmigrate.WithInstance(sqlDB, &pgxmigrate.Config{
		MigrationsTable: MigrationsTable,
		SchemaName:      schema,
	})
	if err != nil {
		_ = src.Close()
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open migration driver: %w", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "pgx5", drv)
	if err != nil {
		_ = src.Close()
		_ = drv.Close()
		return nil, fmt.Errorf("create migrator: %w", err)
	}
	return m, nil
}

// connConfig parses databaseURL and, for a non-empty schema, makes that
// schema the connection's only search_path entry.
func connConfig(databaseURL, schema string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("parse database URL: %w", err)
	}
	if schema != "" {
		cfg.RuntimeParams["search_path"] = schema
	}
	return cfg, nil
}

// effectiveSchema returns schema, or when it is empty the connection's
// current schema ("" when the search_path names no existing schema).
func effectiveSchema(ctx context.Context, conn *pgx.Conn, schema string) (string, error) {
	if schema != "" {
		return schema, nil
	}
	var current *string
	if err := conn.QueryRow(ctx, `SELECT current_schema()`).Scan(&current); err != nil {
		return "", fmt.Errorf("read current schema: %w", err)
	}
	if current == nil {
		return "", nil
	}
	return *current, nil
}

// lockKey derives the advisory lock key that serialises migrations of one
// schema. Advisory locks are per database, so the database is implied.
func lockKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("brokkr.migrate\x00" + schema))
	return int64(h.Sum64())
}

// closeConn closes conn within closeTimeout, independent of any caller
// context that may already be done.
func closeConn(conn *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	_ = conn.Close(ctx)
}
