package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/brokkr/brokkr/internal/pgserver"
)

// migServer hands out databases on one PostgreSQL server.
type migServer struct {
	urlFor func(name string) string
}

// startMigServer uses BROKKR_TEST_DATABASE_URL when set (its user must be
// allowed to create databases) and otherwise starts a throw-away server that
// is stopped when t ends.
func startMigServer(t *testing.T) *migServer {
	t.Helper()
	if raw := os.Getenv("BROKKR_TEST_DATABASE_URL"); raw != "" {
		base, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("BROKKR_TEST_DATABASE_URL: %v", err)
		}
		return &migServer{urlFor: func(name string) string {
			u := *base
			u.Path = "/" + name
			return u.String()
		}}
	}

	dir, err := os.MkdirTemp("", "brokkr-migrate-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	// The server runs as an unprivileged account that must reach the data
	// directory below this one.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	srv, err := pgserver.Start(ctx, pgserver.Options{DataDir: filepath.Join(dir, "data"), Ephemeral: true})
	if err != nil {
		t.Fatalf("start postgres: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := srv.Stop(ctx); err != nil {
			t.Errorf("stop postgres: %v", err)
		}
	})
	return &migServer{urlFor: srv.URL}
}

// emptyDB creates a database with nothing of brokkr's in it, dropped again
// when t ends, and returns its URL.
func (s *migServer) emptyDB(t *testing.T) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	name := "brokkr_migrate_" + hex.EncodeToString(b[:])
	admin := migConnect(t, s.urlFor("postgres"))
	if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+QuoteIdent(name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.urlFor("postgres"))
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+QuoteIdent(name)+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return s.urlFor(name)
}

// migratedDB returns the URL of a fresh database migrated to the latest
// version in its default schema.
func (s *migServer) migratedDB(t *testing.T) string {
	t.Helper()
	u := s.emptyDB(t)
	if err := MigrateUp(context.Background(), u, ""); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return u
}

// waitNoSessions waits until no session is connected to the database at
// databaseURL (backends exit shortly after their client disconnects).
func (s *migServer) waitNoSessions(t *testing.T, databaseURL string) {
	t.Helper()
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	admin := migConnect(t, s.urlFor("postgres"))
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		migQueryRow(t, admin, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1`, []any{name}, &n)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d sessions still connected to %s", n, name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// migConnect opens a connection that is closed when t ends.
func migConnect(t *testing.T, databaseURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, databaseURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// migTables lists the base tables of a schema.
func migTables(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT table_name FROM information_schema.tables
		  WHERE table_schema = $1 AND table_type = 'BASE TABLE' ORDER BY table_name`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// migFunctions lists the functions defined in a schema.
func migFunctions(t *testing.T, conn *pgx.Conn, schema string) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(),
		`SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
		  WHERE n.nspname = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func migWithTable(tables []string) []string {
	out := append(slices.Clone(tables), MigrationsTable)
	slices.Sort(out)
	return out
}

func migAssertVersion(t *testing.T, databaseURL, schema string, want uint) {
	t.Helper()
	v, dirty, err := MigrationVersion(context.Background(), databaseURL, schema)
	if err != nil {
		t.Fatalf("MigrationVersion(%q): %v", schema, err)
	}
	if v != want || dirty {
		t.Fatalf("MigrationVersion(%q) = %d, dirty=%v; want %d, clean", schema, v, dirty, want)
	}
}

func migAssertUnique(t *testing.T, err error, constraint string) {
	t.Helper()
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		t.Errorf("err = %v, want unique violation of %s", err, constraint)
		return
	}
	if pgErr.Code != "23505" || pgErr.ConstraintName != constraint {
		t.Errorf("err = %s (code %s, constraint %q), want unique violation of %s", pgErr.Message, pgErr.Code, pgErr.ConstraintName, constraint)
	}
}

func migExec(t *testing.T, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func migQueryRow(t *testing.T, conn *pgx.Conn, sql string, args []any, dest ...any) {
	t.Helper()
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func migInsertGenerator(t *testing.T, conn *pgx.Conn, name string) string {
	t.Helper()
	var id string
	migQueryRow(t, conn, `INSERT INTO generators (name) VALUES ($1) RETURNING id`, []any{name}, &id)
	return id
}

func migInsertStack(t *testing.T, conn *pgx.Conn, generatorID, name string) string {
	t.Helper()
	var id string
	migQueryRow(t, conn, `INSERT INTO stacks (name, generator_id) VALUES ($1, $2) RETURNING id`, []any{name, generatorID}, &id)
	return id
}

func migInsertAgent(t *testing.T, conn *pgx.Conn, name, cluster string) string {
	t.Helper()
	var id string
	migQueryRow(t, conn, `INSERT INTO agents (name, cluster_name) VALUES ($1, $2) RETURNING id`, []any{name, cluster}, &id)
	return id
}

func migInsertObject(t *testing.T, conn *pgx.Conn, stackID, yaml string) string {
	t.Helper()
	var id string
	migQueryRow(t, conn, `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
		VALUES ($1, $2, md5($2)) RETURNING id`, []any{stackID, yaml}, &id)
	return id
}

func migInsertTemplate(t *testing.T, conn *pgx.Conn, generatorID *string, name string, version int) string {
	t.Helper()
	var id string
	migQueryRow(t, conn, `INSERT INTO stack_templates (generator_id, name, version, template_content, parameters_schema, checksum)
		VALUES ($1, $2, $3, 'x', '{}', 'c') RETURNING id`, []any{generatorID, name, version}, &id)
	return id
}
