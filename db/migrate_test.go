package db

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/brokkr/brokkr/internal/pgserver"
)

// migAllTables is every table of the schema (migrations table excluded).
var migAllTables = []string{
	"admin_role",
	"agent_annotations",
	"agent_events",
	"agent_generator_registrations",
	"agent_k8s_events",
	"agent_labels",
	"agent_pod_logs",
	"agent_targets",
	"agents",
	"app_initialization",
	"audit_logs",
	"deployment_health",
	"deployment_objects",
	"diagnostic_requests",
	"diagnostic_results",
	"generators",
	"rendered_deployment_objects",
	"stack_annotations",
	"stack_labels",
	"stack_templates",
	"stacks",
	"template_annotations",
	"template_labels",
	"template_targets",
	"webhook_deliveries",
	"webhook_subscriptions",
	"work_order_annotations",
	"work_order_labels",
	"work_order_log",
	"work_order_targets",
	"work_orders",
}

// migMD5Empty is the MD5 of the empty string, a deletion marker's checksum.
const migMD5Empty = "d41d8cd98f00b204e9800998ecf8427e"

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

func TestLatestMigrationVersion(t *testing.T) {
	if got := LatestMigrationVersion(); got != 15 {
		t.Fatalf("LatestMigrationVersion() = %d, want 15", got)
	}
	// Versions are 1..N without gaps, and every up file has a down file.
	for i, v := range embeddedVersions() {
		if v != uint(i+1) {
			t.Fatalf("embedded version #%d is %d, want %d", i, v, i+1)
		}
	}
	ups, _ := filepath.Glob("migrations/*.up.sql")
	for _, up := range ups {
		down := strings.TrimSuffix(up, ".up.sql") + ".down.sql"
		if _, err := os.Stat(down); err != nil {
			t.Errorf("%s has no down migration: %v", up, err)
		}
	}
	downs, _ := filepath.Glob("migrations/*.down.sql")
	if len(ups) != len(downs) || len(ups) != int(LatestMigrationVersion()) {
		t.Errorf("%d up and %d down files for %d versions", len(ups), len(downs), LatestMigrationVersion())
	}
}

func TestValidateSchemaName(t *testing.T) {
	tests := []struct {
		name    string
		wantErr bool
	}{
		{"", false},
		{"public", false},
		{"tenant_a", false},
		{"_x", false},
		{"a1_b2", false},
		{strings.Repeat("a", 63), false},
		{"Bad-Name", true},
		{"Upper", true},
		{"1abc", true},
		{"pg_x", true},
		{"pg_", true},
		{"a;drop", true},
		{"a b", true},
		{`a"b`, true},
		{"tenant-a", true},
		{strings.Repeat("a", 64), true},
		{strings.Repeat("a", 100), true},
	}
	for _, tc := range tests {
		err := ValidateSchemaName(tc.name)
		if (err != nil) != tc.wantErr {
			t.Errorf("ValidateSchemaName(%q) = %v, want error %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.name)) {
			t.Errorf("error %q does not name the rejected schema %q", err, tc.name)
		}
	}
}

func TestQuoteIdent(t *testing.T) {
	tests := map[string]string{
		"tenant_a": `"tenant_a"`,
		`we"ird`:   `"we""ird"`,
		"Mixed":    `"Mixed"`,
	}
	for in, want := range tests {
		if got := QuoteIdent(in); got != want {
			t.Errorf("QuoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestMigrations runs every test that needs PostgreSQL against one server.
func TestMigrations(t *testing.T) {
	srv := startMigServer(t)

	t.Run("UpOnEmptyDatabase", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx := context.Background()
		migAssertVersion(t, u, "", 0)
		if err := MigrateUp(ctx, u, ""); err != nil {
			t.Fatalf("MigrateUp: %v", err)
		}
		// Nothing stays connected: a migrated database can serve as a
		// CREATE DATABASE template right away.
		srv.waitNoSessions(t, u)
		migAssertVersion(t, u, "", LatestMigrationVersion())
		conn := migConnect(t, u)
		if got, want := migTables(t, conn, "public"), migWithTable(migAllTables); !slices.Equal(got, want) {
			t.Fatalf("tables in public:\n got %v\nwant %v", got, want)
		}
		// A second run has nothing to do and is not an error.
		if err := MigrateUp(ctx, u, ""); err != nil {
			t.Fatalf("second MigrateUp: %v", err)
		}
		migAssertVersion(t, u, "", LatestMigrationVersion())
	})

	t.Run("SchemaObjects", func(t *testing.T) {
		t.Parallel()
		migCheckSchemaObjects(t, migConnect(t, srv.migratedDB(t)))
	})

	t.Run("UpDownUp", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx := context.Background()
		conn := migConnect(t, u)

		// Down on a database with nothing applied is a no-op.
		if err := MigrateDown(ctx, u, "", 0); err != nil {
			t.Fatalf("MigrateDown on empty database: %v", err)
		}
		if err := MigrateUp(ctx, u, ""); err != nil {
			t.Fatalf("MigrateUp: %v", err)
		}
		if err := MigrateDown(ctx, u, "", 1); err != nil {
			t.Fatalf("MigrateDown(1): %v", err)
		}
		migAssertVersion(t, u, "", LatestMigrationVersion()-1)
		if slices.Contains(migTables(t, conn, "public"), "agent_generator_registrations") {
			t.Fatal("agent_generator_registrations still exists after one step down")
		}
		if err := MigrateDown(ctx, u, "", 0); err != nil {
			t.Fatalf("MigrateDown(all): %v", err)
		}
		migAssertVersion(t, u, "", 0)
		if got := migTables(t, conn, "public"); !slices.Equal(got, []string{MigrationsTable}) {
			t.Fatalf("tables left after down: %v", got)
		}
		if got := migFunctions(t, conn, "public"); len(got) != 0 {
			t.Fatalf("functions left after down: %v", got)
		}
		if err := MigrateUp(ctx, u, ""); err != nil {
			t.Fatalf("MigrateUp after down: %v", err)
		}
		migAssertVersion(t, u, "", LatestMigrationVersion())
		if got, want := migTables(t, conn, "public"), migWithTable(migAllTables); !slices.Equal(got, want) {
			t.Fatalf("tables after up-down-up:\n got %v\nwant %v", got, want)
		}
		// More steps than applied migrations goes all the way down.
		if err := MigrateDown(ctx, u, "", 1000); err != nil {
			t.Fatalf("MigrateDown(1000): %v", err)
		}
		migAssertVersion(t, u, "", 0)
		if got := migTables(t, conn, "public"); !slices.Equal(got, []string{MigrationsTable}) {
			t.Fatalf("tables left after down: %v", got)
		}
	})

	t.Run("ConcurrentUp", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		const n = 3
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = MigrateUp(ctx, u, "") })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("MigrateUp #%d: %v", i, err)
			}
		}
		migAssertVersion(t, u, "", LatestMigrationVersion())
		conn := migConnect(t, u)
		if got, want := migTables(t, conn, "public"), migWithTable(migAllTables); !slices.Equal(got, want) {
			t.Fatalf("tables:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("ConcurrentUpNewSchema", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() { errs[i] = MigrateUp(ctx, u, "tenant_c") })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("MigrateUp #%d: %v", i, err)
			}
		}
		migAssertVersion(t, u, "tenant_c", LatestMigrationVersion())
	})

	t.Run("WaitsForLockWithinContext", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		holder := migConnect(t, u)
		if _, err := holder.Exec(context.Background(), `SELECT pg_advisory_lock($1)`, lockKey("public")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := MigrateUp(ctx, u, "")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("MigrateUp while the lock is held = %v, want deadline exceeded", err)
		}
		if elapsed := time.Since(start); elapsed > 10*time.Second {
			t.Fatalf("MigrateUp took %v to give up", elapsed)
		}
		migAssertVersion(t, u, "", 0)

		// Released while a caller waits: the caller proceeds.
		done := make(chan error, 1)
		go func() { done <- MigrateUp(context.Background(), u, "") }()
		time.Sleep(200 * time.Millisecond)
		if _, err := holder.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, lockKey("public")); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("MigrateUp after release: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("MigrateUp did not finish after the lock was released")
		}
		migAssertVersion(t, u, "", LatestMigrationVersion())
	})

	t.Run("CancelledContext", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := MigrateUp(ctx, u, ""); !errors.Is(err, context.Canceled) {
			t.Fatalf("MigrateUp with cancelled context = %v, want context.Canceled", err)
		}
		if err := MigrateDown(ctx, u, "", 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("MigrateDown with cancelled context = %v, want context.Canceled", err)
		}
		migAssertVersion(t, u, "", 0)
		if got := migTables(t, migConnect(t, u), "public"); len(got) != 0 {
			t.Fatalf("tables created despite cancelled context: %v", got)
		}
	})

	t.Run("ContextEndsMidway", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
		defer cancel()
		err := MigrateUp(ctx, u, "")
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("MigrateUp = %v, want nil or deadline exceeded", err)
		}
		// Whatever was reached, the database is left clean and the next run
		// completes it.
		v, dirty, verr := MigrationVersion(context.Background(), u, "")
		if verr != nil || dirty || v > LatestMigrationVersion() {
			t.Fatalf("after stop: version %d dirty=%v err=%v", v, dirty, verr)
		}
		if err == nil && v != LatestMigrationVersion() {
			t.Fatalf("MigrateUp returned nil at version %d", v)
		}
		t.Logf("stopped at version %d (err %v)", v, err)
		if err := MigrateUp(context.Background(), u, ""); err != nil {
			t.Fatalf("MigrateUp after stop: %v", err)
		}
		migAssertVersion(t, u, "", LatestMigrationVersion())
	})

	t.Run("RefusesDirtyOrUnknownVersion", func(t *testing.T) {
		t.Parallel()
		u := srv.migratedDB(t)
		ctx := context.Background()
		conn := migConnect(t, u)

		migExec(t, conn, `UPDATE schema_migrations SET version = 3, dirty = TRUE`)
		v, dirty, err := MigrationVersion(ctx, u, "")
		if err != nil || v != 3 || !dirty {
			t.Fatalf("MigrationVersion = %d, %v, %v; want 3, dirty", v, dirty, err)
		}
		if err := MigrateUp(ctx, u, ""); err == nil || !strings.Contains(err.Error(), "dirty") {
			t.Errorf("MigrateUp on a dirty database = %v, want a dirty error", err)
		}
		if err := MigrateDown(ctx, u, "", 1); err == nil || !strings.Contains(err.Error(), "dirty") {
			t.Errorf("MigrateDown on a dirty database = %v, want a dirty error", err)
		}

		migExec(t, conn, `UPDATE schema_migrations SET version = 999, dirty = FALSE`)
		if err := MigrateUp(ctx, u, ""); err == nil || !strings.Contains(err.Error(), "999") {
			t.Errorf("MigrateUp on an unknown version = %v, want an error naming it", err)
		}
		if err := MigrateDown(ctx, u, "", 0); err == nil || !strings.Contains(err.Error(), "999") {
			t.Errorf("MigrateDown on an unknown version = %v, want an error naming it", err)
		}
		// Nothing was dropped.
		if got, want := migTables(t, conn, "public"), migWithTable(migAllTables); !slices.Equal(got, want) {
			t.Fatalf("tables changed:\n got %v\nwant %v", got, want)
		}
	})

	t.Run("SchemaIsolation", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx := context.Background()
		for _, s := range []string{"tenant_a", "tenant_b"} {
			if err := MigrateUp(ctx, u, s); err != nil {
				t.Fatalf("MigrateUp(%s): %v", s, err)
			}
		}
		conn := migConnect(t, u)
		for _, s := range []string{"tenant_a", "tenant_b"} {
			if got, want := migTables(t, conn, s), migWithTable(migAllTables); !slices.Equal(got, want) {
				t.Errorf("tables in %s:\n got %v\nwant %v", s, got, want)
			}
			migAssertVersion(t, u, s, LatestMigrationVersion())
		}
		if got := migTables(t, conn, "public"); len(got) != 0 {
			t.Errorf("public is not empty: %v", got)
		}
		if got := migFunctions(t, conn, "public"); len(got) != 0 {
			t.Errorf("functions in public: %v", got)
		}
		migAssertVersion(t, u, "", 0)
		migAssertVersion(t, u, "tenant_missing", 0)

		// Each tenant's triggers work on its own tables.
		for _, s := range []string{"tenant_a", "tenant_b"} {
			cfg, err := pgx.ParseConfig(u)
			if err != nil {
				t.Fatal(err)
			}
			cfg.RuntimeParams["search_path"] = s
			tc, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = tc.Close(context.Background()) })
			gen := migInsertGenerator(t, tc, "gen-"+s)
			stack := migInsertStack(t, tc, gen, "stack-"+s)
			migExec(t, tc, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
			var markers int
			migQueryRow(t, tc, `SELECT count(*) FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker`, []any{stack}, &markers)
			if markers != 1 {
				t.Errorf("%s: %d deletion markers, want 1", s, markers)
			}
		}
		var n int
		migQueryRow(t, conn, `SELECT count(*) FROM tenant_a.stacks`, nil, &n)
		if n != 1 {
			t.Errorf("tenant_a has %d stacks, want 1", n)
		}

		// Down in one tenant leaves the other alone.
		if err := MigrateDown(ctx, u, "tenant_a", 0); err != nil {
			t.Fatalf("MigrateDown(tenant_a): %v", err)
		}
		if got := migTables(t, conn, "tenant_a"); !slices.Equal(got, []string{MigrationsTable}) {
			t.Errorf("tenant_a after down: %v", got)
		}
		migAssertVersion(t, u, "tenant_b", LatestMigrationVersion())
		if err := MigrateDown(ctx, u, "tenant_missing", 0); err != nil {
			t.Errorf("MigrateDown on a missing schema: %v", err)
		}
	})

	t.Run("InvalidSchemaRejected", func(t *testing.T) {
		t.Parallel()
		u := srv.emptyDB(t)
		ctx := context.Background()
		for _, s := range []string{"Bad-Name", "1abc", "pg_x", "a;drop", strings.Repeat("a", 64)} {
			if err := MigrateUp(ctx, u, s); err == nil {
				t.Errorf("MigrateUp(%q) succeeded, want an error", s)
			}
			if err := MigrateDown(ctx, u, s, 0); err == nil {
				t.Errorf("MigrateDown(%q) succeeded, want an error", s)
			}
			if _, _, err := MigrationVersion(ctx, u, s); err == nil {
				t.Errorf("MigrationVersion(%q) succeeded, want an error", s)
			}
		}
		conn := migConnect(t, u)
		var schemas []string
		rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace
			WHERE nspname NOT LIKE 'pg\_%' AND nspname NOT IN ('information_schema', 'public')`)
		if err != nil {
			t.Fatal(err)
		}
		schemas, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		if len(schemas) != 0 {
			t.Errorf("schemas created for invalid names: %v", schemas)
		}
	})

	t.Run("BackfillRegistrations", func(t *testing.T) {
		t.Parallel()
		migCheckBackfill(t, srv.emptyDB(t))
	})

	t.Run("Triggers", func(t *testing.T) {
		t.Parallel()
		migCheckTriggers(t, migConnect(t, srv.migratedDB(t)))
	})
}

// migCheckSchemaObjects checks that the named constraints, indexes and triggers
// the API and the stores rely on exist on the right tables.
func migCheckSchemaObjects(t *testing.T, conn *pgx.Conn) {
	ctx := context.Background()

	// Constraint names reported in 409/422 bodies, backed by either a table
	// constraint or a unique index.
	uniques := map[string]string{
		"unique_agent_cluster":                                    "agents",
		"unique_stack_name":                                       "stacks",
		"unique_generator_name":                                   "generators",
		"unique_template_version":                                 "stack_templates",
		"unique_agent_stack":                                      "agent_targets",
		"unique_stack_annotation":                                 "stack_annotations",
		"stack_labels_stack_id_label_key":                         "stack_labels",
		"agent_labels_agent_id_label_key":                         "agent_labels",
		"agent_annotations_agent_id_key_key":                      "agent_annotations",
		"template_labels_template_id_label_key":                   "template_labels",
		"template_annotations_template_id_key_key":                "template_annotations",
		"agent_generator_registrations_agent_id_generator_id_key": "agent_generator_registrations",
		"unique_template_stack":                                   "template_targets",
		"unique_agent_deployment_health":                          "deployment_health",
		"deployment_objects_sequence_id_key":                      "deployment_objects",
		"rendered_deployment_objects_deployment_object_id_key":    "rendered_deployment_objects",
		"work_order_targets_work_order_id_agent_id_key":           "work_order_targets",
		"work_order_labels_work_order_id_label_key":               "work_order_labels",
		"work_order_annotations_work_order_id_key_value_key":      "work_order_annotations",
		"idx_deployment_objects_stack_seq_live":                   "deployment_objects",
		"idx_agent_events_agent_object_live":                      "agent_events",
		"idx_agents_pak_hash":                                     "agents",
		"idx_generators_pak_hash":                                 "generators",
		"idx_work_orders_pending_type":                            "work_orders",
		"idx_webhook_deliveries_cleanup":                          "webhook_deliveries",
		"idx_audit_logs_actor":                                    "audit_logs",
		"idx_agr_generator_id":                                    "agent_generator_registrations",
		"idx_agent_pod_logs_stack_created":                        "agent_pod_logs",
		"idx_diagnostic_requests_agent_pending":                   "diagnostic_requests",
		"idx_rendered_deployment_objects_template":                "rendered_deployment_objects",
		"idx_work_order_annotations_key_value":                    "work_order_annotations",
		"idx_template_targets_stack":                              "template_targets",
		"idx_stack_templates_generator":                           "stack_templates",
		"idx_work_order_log_type_completed":                       "work_order_log",
		"idx_agent_k8s_events_stack_created":                      "agent_k8s_events",
		"idx_deployment_health_checked_at":                        "deployment_health",
		"idx_webhook_subscriptions_enabled":                       "webhook_subscriptions",
		"idx_admin_role_id":                                       "admin_role",
		"idx_agent_events_deleted_at":                             "agent_events",
		"idx_deployment_objects_is_deletion_marker":               "deployment_objects",
		"idx_stack_annotations_key":                               "stack_annotations",
		"idx_agent_targets_stack_id":                              "agent_targets",
		"idx_work_orders_last_error":                              "work_orders",
		"idx_diagnostic_results_request":                          "diagnostic_results",
		"idx_webhook_deliveries_subscription":                     "webhook_deliveries",
		"idx_agent_cluster_name":                                  "agents",
		"idx_stacks_generator_id":                                 "stacks",
		"idx_template_annotations_key":                            "template_annotations",
		"idx_template_labels_label":                               "template_labels",
		"idx_work_order_log_claimed_by":                           "work_order_log",
		"idx_generators_deleted_at":                               "generators",
		"idx_agent_labels_object":                                 "agent_labels",
		"idx_agent_annotations_key":                               "agent_annotations",
		"idx_stack_labels_label":                                  "stack_labels",
		"idx_audit_logs_cleanup":                                  "audit_logs",
		"idx_work_orders_stale_claims":                            "work_orders",
		"idx_webhook_deliveries_pending":                          "webhook_deliveries",
		"idx_webhook_deliveries_acquired_expired":                 "webhook_deliveries",
		"idx_webhook_deliveries_retry":                            "webhook_deliveries",
		"idx_agent_k8s_events_created":                            "agent_k8s_events",
		"idx_agent_pod_logs_created":                              "agent_pod_logs",
		"idx_diagnostic_requests_expires":                         "diagnostic_requests",
		"idx_diagnostic_requests_deployment":                      "diagnostic_requests",
		"idx_rendered_deployment_objects_deployment":              "rendered_deployment_objects",
		"idx_stack_templates_name":                                "stack_templates",
		"idx_stack_templates_deleted_at":                          "stack_templates",
		"idx_work_order_targets_order":                            "work_order_targets",
		"idx_work_order_labels_label":                             "work_order_labels",
		"idx_agr_agent_id":                                        "agent_generator_registrations",
		"idx_audit_logs_timestamp":                                "audit_logs",
		"idx_audit_logs_resource":                                 "audit_logs",
		"idx_audit_logs_action":                                   "audit_logs",
		"idx_work_order_log_type":                                 "work_order_log",
		"idx_work_order_log_success":                              "work_order_log",
		"idx_work_order_log_completed_at":                         "work_order_log",
		"idx_work_orders_retry":                                   "work_orders",
		"idx_work_orders_claimed_by":                              "work_orders",
		"idx_deployment_objects_stack_id":                         "deployment_objects",
		"idx_agent_events_agent_id":                               "agent_events",
	}
	for name, table := range uniques {
		var got string
		err := conn.QueryRow(ctx,
			`SELECT c.relname FROM pg_index i
			   JOIN pg_class x ON x.oid = i.indexrelid
			   JOIN pg_class c ON c.oid = i.indrelid
			   JOIN pg_namespace n ON n.oid = x.relnamespace
			  WHERE x.relname = $1 AND n.nspname = 'public'`, name).Scan(&got)
		if err != nil {
			t.Errorf("index %s: %v", name, err)
			continue
		}
		if got != table {
			t.Errorf("index %s is on %s, want %s", name, got, table)
		}
	}

	// Partial unique indexes: unique, with the live-rows predicate.
	for _, name := range []string{"unique_agent_cluster", "unique_stack_name", "unique_generator_name", "unique_template_version"} {
		var def string
		if err := conn.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1`, name).Scan(&def); err != nil {
			t.Fatalf("index %s: %v", name, err)
		}
		if !strings.HasPrefix(def, "CREATE UNIQUE INDEX") || !strings.Contains(def, "WHERE (deleted_at IS NULL)") {
			t.Errorf("index %s: %s", name, def)
		}
	}

	// Named foreign keys and check constraints.
	constraints := map[string]string{
		"fk_agent_labels_agent":            "agent_labels",
		"fk_agent_annotations_agent":       "agent_annotations",
		"fk_stack_labels_stack":            "stack_labels",
		"fk_stack_annotations_stack":       "stack_annotations",
		"fk_template_labels_template":      "template_labels",
		"fk_template_annotations_template": "template_annotations",
		"fk_template_targets_template":     "template_targets",
		"fk_template_targets_stack":        "template_targets",
		"fk_rendered_deployment_object":    "rendered_deployment_objects",
		"fk_rendered_template":             "rendered_deployment_objects",
		"fk_deployment_object":             "agent_events",
		"valid_retry_count":                "work_orders",
		"valid_max_retries":                "work_orders",
		"valid_backoff":                    "work_orders",
		"valid_claim_timeout":              "work_orders",
		"claimed_requires_agent":           "work_orders",
		"valid_retries_attempted":          "work_order_log",
		"valid_health_status":              "deployment_health",
		"valid_diagnostic_request_status":  "diagnostic_requests",
		"valid_delivery_status":            "webhook_deliveries",
		"valid_actor_type":                 "audit_logs",
		"stacks_generator_id_fkey":         "stacks",
	}
	for name, table := range constraints {
		var n int
		if err := conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			  WHERE c.conname = $1 AND r.relname = $2`, name, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("constraint %s on %s: found %d", name, table, n)
		}
	}
	// fk_agent / fk_stack exist on more than one table.
	for _, table := range []string{"agent_targets", "agent_events"} {
		var n int
		if err := conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			  WHERE c.conname = 'fk_agent' AND r.relname = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("fk_agent on %s: found %d", table, n)
		}
	}

	triggers := map[string]string{
		"update_agent_timestamp":                          "agents",
		"cascade_soft_delete_agents":                      "agents",
		"trigger_agent_hard_delete":                       "agents",
		"update_generators_timestamp":                     "generators",
		"cascade_soft_delete_generators":                  "generators",
		"trigger_cascade_soft_delete_generator_templates": "generators",
		"trigger_generator_hard_delete":                   "generators",
		"update_stack_timestamp":                          "stacks",
		"trigger_handle_stack_soft_delete":                "stacks",
		"trigger_stack_hard_delete":                       "stacks",
		"trigger_hard_delete_deployment_objects":          "stacks",
		"update_deployment_object_timestamp":              "deployment_objects",
		"prevent_deployment_object_update":                "deployment_objects",
		"prevent_deployment_object_delete":                "deployment_objects",
		"update_agent_event_timestamp":                    "agent_events",
		"update_admin_role_timestamp":                     "admin_role",
		"prevent_admin_role_delete":                       "admin_role",
		"update_stack_templates_timestamp":                "stack_templates",
		"trigger_stack_template_hard_delete":              "stack_templates",
		"update_work_orders_timestamp":                    "work_orders",
		"update_deployment_health_timestamp":              "deployment_health",
		"update_webhook_subscriptions_updated_at":         "webhook_subscriptions",
	}
	rows, err := conn.Query(ctx,
		`SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		  WHERE NOT t.tgisinternal`)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatal(err)
		}
		found[name] = table
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name, table := range triggers {
		if found[name] != table {
			t.Errorf("trigger %s: on %q, want %q", name, found[name], table)
		}
	}
	if len(found) != len(triggers) {
		t.Errorf("found %d triggers, want %d: %v", len(found), len(triggers), found)
	}

	wantFuncs := []string{
		"cascade_soft_delete_agents",
		"cascade_soft_delete_generator_templates",
		"cascade_soft_delete_generators",
		"handle_agent_hard_delete",
		"handle_generator_hard_delete",
		"handle_stack_hard_delete",
		"handle_stack_soft_delete",
		"handle_stack_template_hard_delete",
		"hard_delete_deployment_objects_on_stack_delete",
		"prevent_admin_role_delete",
		"prevent_deployment_object_changes",
		"soft_delete",
		"update_timestamp",
	}
	if got := migFunctions(t, conn, "public"); !slices.Equal(got, wantFuncs) {
		t.Errorf("functions:\n got %v\nwant %v", got, wantFuncs)
	}

	// Spot checks of column types, nullability and defaults.
	columns := []struct {
		table, column, typ string
		nullable           bool
		defaultContains    string
	}{
		{"agents", "id", "uuid", false, "gen_random_uuid()"},
		{"agents", "created_at", "timestamp with time zone", false, "CURRENT_TIMESTAMP"},
		{"agents", "deleted_at", "timestamp with time zone", true, ""},
		{"agents", "status", "character varying(50)", false, "'INACTIVE'"},
		{"agents", "pak_hash", "text", false, "''"},
		{"agents", "k8s_api_latency_ms", "integer", true, ""},
		{"generators", "pak_hash", "text", true, ""},
		{"generators", "is_system", "boolean", false, "false"},
		{"deployment_objects", "sequence_id", "bigint", false, "nextval("},
		{"deployment_objects", "is_deletion_marker", "boolean", false, "false"},
		{"stack_templates", "generator_id", "uuid", true, ""},
		{"stack_templates", "checksum", "character varying(64)", false, ""},
		{"work_orders", "claim_timeout_seconds", "integer", false, "3600"},
		{"work_order_log", "id", "uuid", false, ""},
		{"webhook_subscriptions", "event_types", "text[]", false, ""},
		{"webhook_subscriptions", "url_encrypted", "bytea", false, ""},
		{"audit_logs", "details", "jsonb", true, ""},
		{"app_initialization", "id", "integer", false, "nextval("},
		{"agent_generator_registrations", "registered_at", "timestamp with time zone", false, "now()"},
		{"diagnostic_requests", "status", "character varying(20)", false, "'pending'"},
	}
	for _, c := range columns {
		var typ string
		var notNull bool
		var def *string
		err := conn.QueryRow(ctx,
			`SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
			   FROM pg_attribute a
			   JOIN pg_class r ON r.oid = a.attrelid
			   JOIN pg_namespace n ON n.oid = r.relnamespace
			   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			  WHERE n.nspname = 'public' AND r.relname = $1 AND a.attname = $2`, c.table, c.column).Scan(&typ, &notNull, &def)
		if err != nil {
			t.Errorf("%s.%s: %v", c.table, c.column, err)
			continue
		}
		if typ != c.typ || notNull == c.nullable {
			t.Errorf("%s.%s: %s not null=%v; want %s not null=%v", c.table, c.column, typ, notNull, c.typ, !c.nullable)
		}
		switch {
		case c.defaultContains == "" && def != nil:
			t.Errorf("%s.%s: unexpected default %s", c.table, c.column, *def)
		case c.defaultContains != "" && (def == nil || !strings.Contains(*def, c.defaultContains)):
			t.Errorf("%s.%s: default %v, want one containing %s", c.table, c.column, def, c.defaultContains)
		}
	}
}

// migCheckBackfill migrates to the version before the registrations table,
// creates explicit targets, and checks the last migration registers the
// targeted agents with the generators owning the targeted stacks.
func migCheckBackfill(t *testing.T, u string) {
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMigrator(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	last := LatestMigrationVersion()
	if err := m.Migrate(last - 1); err != nil {
		t.Fatalf("migrate to %d: %v", last-1, err)
	}
	if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
		t.Fatalf("close migrator: %v %v", srcErr, dbErr)
	}

	conn := migConnect(t, u)
	g1 := migInsertGenerator(t, conn, "g1")
	g2 := migInsertGenerator(t, conn, "g2")
	g3 := migInsertGenerator(t, conn, "g3")
	s1a := migInsertStack(t, conn, g1, "s1a")
	s1b := migInsertStack(t, conn, g1, "s1b")
	s2 := migInsertStack(t, conn, g2, "s2")
	migInsertStack(t, conn, g3, "s3")
	a1 := migInsertAgent(t, conn, "a1", "c1")
	a2 := migInsertAgent(t, conn, "a2", "c1")
	migInsertAgent(t, conn, "a3", "c1")
	for _, tgt := range [][2]string{{a1, s1a}, {a1, s1b}, {a1, s2}, {a2, s2}} {
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, tgt[0], tgt[1])
	}

	if err := MigrateUp(ctx, u, ""); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	rows, err := conn.Query(ctx, `SELECT agent_id::text || '/' || generator_id::text FROM agent_generator_registrations ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a1 + "/" + g1, a1 + "/" + g2, a2 + "/" + g2}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("registrations:\n got %v\nwant %v", got, want)
	}
}

// migCheckTriggers checks the behaviour of the trigger functions and the partial
// unique indexes on a migrated database.
func migCheckTriggers(t *testing.T, conn *pgx.Conn) {
	ctx := context.Background()

	t.Run("StackSoftDeleteInsertsOneMarker", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-stack-soft")
		stack := migInsertStack(t, conn, gen, "stack-soft")
		other := migInsertStack(t, conn, gen, "stack-soft-other")
		o1 := migInsertObject(t, conn, stack, "a: 1")
		o2 := migInsertObject(t, conn, stack, "a: 2")
		otherObj := migInsertObject(t, conn, other, "b: 1")

		var deletedAt time.Time
		migQueryRow(t, conn, `UPDATE stacks SET deleted_at = now() - interval '1 minute' WHERE id = $1 RETURNING deleted_at`, []any{stack}, &deletedAt)

		for _, id := range []string{o1, o2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM deployment_objects WHERE id = $1`, []any{id}, &d)
			if d == nil || !d.Equal(deletedAt) {
				t.Errorf("object %s deleted_at = %v, want %v", id, d, deletedAt)
			}
		}
		var d *time.Time
		migQueryRow(t, conn, `SELECT deleted_at FROM deployment_objects WHERE id = $1`, []any{otherObj}, &d)
		if d != nil {
			t.Errorf("object of another stack was soft-deleted")
		}

		type marker struct {
			yaml, checksum string
			submitted      time.Time
			deleted        *time.Time
			seq            int64
		}
		readMarkers := func() []marker {
			rows, err := conn.Query(ctx, `SELECT yaml_content, yaml_checksum, submitted_at, deleted_at, sequence_id
				FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker`, stack)
			if err != nil {
				t.Fatal(err)
			}
			var out []marker
			for rows.Next() {
				var m marker
				if err := rows.Scan(&m.yaml, &m.checksum, &m.submitted, &m.deleted, &m.seq); err != nil {
					t.Fatal(err)
				}
				out = append(out, m)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		markers := readMarkers()
		if len(markers) != 1 {
			t.Fatalf("%d deletion markers, want 1", len(markers))
		}
		mk := markers[0]
		if mk.yaml != "" || mk.checksum != migMD5Empty || !mk.submitted.Equal(deletedAt) || mk.deleted != nil {
			t.Errorf("marker = %+v; want empty yaml, checksum %s, submitted_at %v, live", mk, migMD5Empty, deletedAt)
		}
		var maxSeq int64
		migQueryRow(t, conn, `SELECT max(sequence_id) FROM deployment_objects WHERE stack_id = $1`, []any{stack}, &maxSeq)
		if mk.seq != maxSeq {
			t.Errorf("marker sequence %d is not the stack's newest (%d)", mk.seq, maxSeq)
		}

		// Further updates of a deleted stack add no marker.
		migExec(t, conn, `UPDATE stacks SET description = 'x' WHERE id = $1`, stack)
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		if n := len(readMarkers()); n != 1 {
			t.Errorf("%d deletion markers after more updates, want 1", n)
		}
	})

	t.Run("DeploymentObjectsAreImmutable", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-immutable")
		stack := migInsertStack(t, conn, gen, "stack-immutable")
		obj := migInsertObject(t, conn, stack, "c: 1")

		for _, stmt := range []string{
			`UPDATE deployment_objects SET yaml_content = 'c: 2' WHERE id = $1`,
			`UPDATE deployment_objects SET yaml_checksum = 'x' WHERE id = $1`,
			`UPDATE deployment_objects SET is_deletion_marker = TRUE WHERE id = $1`,
		} {
			_, err := conn.Exec(ctx, stmt, obj)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "P0001" {
				t.Errorf("%s: err = %v, want a raised exception", stmt, err)
			}
		}
		var yaml string
		migQueryRow(t, conn, `SELECT yaml_content FROM deployment_objects WHERE id = $1`, []any{obj}, &yaml)
		if yaml != "c: 1" {
			t.Errorf("yaml_content changed to %q", yaml)
		}

		// Soft delete is allowed; a second change of a deleted object is not.
		migExec(t, conn, `UPDATE deployment_objects SET deleted_at = now() WHERE id = $1`, obj)
		if _, err := conn.Exec(ctx, `UPDATE deployment_objects SET deleted_at = NULL WHERE id = $1`, obj); err == nil {
			t.Error("un-deleting a deployment object succeeded")
		}

		// Deletion markers may be updated.
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		var marker string
		migQueryRow(t, conn, `SELECT id FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker`, []any{stack}, &marker)
		migExec(t, conn, `UPDATE deployment_objects SET submitted_at = now() WHERE id = $1`, marker)

		// Hard deletes are allowed.
		migExec(t, conn, `DELETE FROM deployment_objects WHERE id = $1`, obj)
	})

	t.Run("GeneratorSoftDeleteCascades", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-cascade")
		keep := migInsertGenerator(t, conn, "gen-keep")
		s1 := migInsertStack(t, conn, gen, "cascade-s1")
		s2 := migInsertStack(t, conn, gen, "cascade-s2")
		sKeep := migInsertStack(t, conn, keep, "cascade-keep")
		migInsertObject(t, conn, s1, "x: 1")
		migInsertObject(t, conn, s1, "x: 2")
		migInsertObject(t, conn, s2, "y: 1")
		keepObj := migInsertObject(t, conn, sKeep, "z: 1")
		t1 := migInsertTemplate(t, conn, &gen, "tpl-cascade", 1)
		t2 := migInsertTemplate(t, conn, &gen, "tpl-cascade", 2)
		tOld := migInsertTemplate(t, conn, &gen, "tpl-cascade-old", 1)
		var oldDeleted time.Time
		migQueryRow(t, conn, `UPDATE stack_templates SET deleted_at = now() - interval '1 day' WHERE id = $1 RETURNING deleted_at`, []any{tOld}, &oldDeleted)
		tKeep := migInsertTemplate(t, conn, &keep, "tpl-keep", 1)
		tSystem := migInsertTemplate(t, conn, nil, "tpl-system-cascade", 1)

		var genDeleted time.Time
		migQueryRow(t, conn, `UPDATE generators SET deleted_at = now() - interval '1 hour' WHERE id = $1 RETURNING deleted_at`, []any{gen}, &genDeleted)

		for _, s := range []string{s1, s2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM stacks WHERE id = $1`, []any{s}, &d)
			if d == nil || !d.Equal(genDeleted) {
				t.Errorf("stack %s deleted_at = %v, want %v", s, d, genDeleted)
			}
			var markers, live int
			migQueryRow(t, conn, `SELECT count(*) FILTER (WHERE is_deletion_marker), count(*) FILTER (WHERE deleted_at IS NULL)
				FROM deployment_objects WHERE stack_id = $1`, []any{s}, &markers, &live)
			if markers != 1 {
				t.Errorf("stack %s has %d deletion markers, want 1", s, markers)
			}
			if live != 0 {
				t.Errorf("stack %s has %d live objects after the generator was deleted", s, live)
			}
		}
		for _, tpl := range []string{t1, t2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM stack_templates WHERE id = $1`, []any{tpl}, &d)
			if d == nil || !d.Equal(genDeleted) {
				t.Errorf("template %s deleted_at = %v, want %v", tpl, d, genDeleted)
			}
		}
		var d *time.Time
		migQueryRow(t, conn, `SELECT deleted_at FROM stack_templates WHERE id = $1`, []any{tOld}, &d)
		if d == nil || !d.Equal(oldDeleted) {
			t.Errorf("already deleted template: deleted_at = %v, want unchanged %v", d, oldDeleted)
		}
		for _, q := range []struct{ sql, id string }{
			{`SELECT deleted_at FROM stacks WHERE id = $1`, sKeep},
			{`SELECT deleted_at FROM deployment_objects WHERE id = $1`, keepObj},
			{`SELECT deleted_at FROM stack_templates WHERE id = $1`, tKeep},
			{`SELECT deleted_at FROM stack_templates WHERE id = $1`, tSystem},
		} {
			var d *time.Time
			migQueryRow(t, conn, q.sql, []any{q.id}, &d)
			if d != nil {
				t.Errorf("%s (%s): soft-deleted by another generator's cascade", q.sql, q.id)
			}
		}
	})

	t.Run("AgentSoftDeleteCascadesToEvents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-agent-soft")
		stack := migInsertStack(t, conn, gen, "stack-agent-soft")
		obj := migInsertObject(t, conn, stack, "e: 1")
		a := migInsertAgent(t, conn, "agent-soft", "cl")
		b := migInsertAgent(t, conn, "agent-soft-other", "cl")
		for _, ag := range []string{a, a, b} {
			migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, ag, obj)
		}
		var deletedAt time.Time
		migQueryRow(t, conn, `UPDATE agents SET deleted_at = now() WHERE id = $1 RETURNING deleted_at`, []any{a}, &deletedAt)
		var matching, otherLive int
		migQueryRow(t, conn, `SELECT count(*) FROM agent_events WHERE agent_id = $1 AND deleted_at = $2`, []any{a, deletedAt}, &matching)
		migQueryRow(t, conn, `SELECT count(*) FROM agent_events WHERE agent_id = $1 AND deleted_at IS NULL`, []any{b}, &otherLive)
		if matching != 2 || otherLive != 1 {
			t.Errorf("events soft-deleted with the agent: %d (want 2); other agent's live events: %d (want 1)", matching, otherLive)
		}
	})

	t.Run("StackHardDeleteRemovesDependents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-hard")
		stack := migInsertStack(t, conn, gen, "stack-hard")
		obj := migInsertObject(t, conn, stack, "h: 1")
		agent := migInsertAgent(t, conn, "agent-hard", "cl")
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, agent, stack)
		migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, agent, obj)
		migExec(t, conn, `INSERT INTO deployment_health (agent_id, deployment_object_id, status, checked_at) VALUES ($1, $2, 'healthy', now())`, agent, obj)
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		migExec(t, conn, `DELETE FROM stacks WHERE id = $1`, stack)
		var n int
		migQueryRow(t, conn, `SELECT (SELECT count(*) FROM deployment_objects WHERE stack_id = $1)
			+ (SELECT count(*) FROM agent_targets WHERE stack_id = $1)
			+ (SELECT count(*) FROM agent_events WHERE deployment_object_id = $2)
			+ (SELECT count(*) FROM deployment_health WHERE deployment_object_id = $2)`, []any{stack, obj}, &n)
		if n != 0 {
			t.Errorf("%d dependent rows left after the stack was hard-deleted", n)
		}

		// A generator still owning a (soft-deleted) stack cannot be removed.
		s2 := migInsertStack(t, conn, gen, "stack-hard-2")
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, s2)
		_, err := conn.Exec(ctx, `DELETE FROM generators WHERE id = $1`, gen)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "stacks_generator_id_fkey" {
			t.Errorf("deleting a generator with stacks: %v, want FK violation stacks_generator_id_fkey", err)
		}
	})

	t.Run("AgentHardDeleteRemovesDependents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-agent-hard")
		stack := migInsertStack(t, conn, gen, "stack-agent-hard")
		obj := migInsertObject(t, conn, stack, "ah: 1")
		agent := migInsertAgent(t, conn, "agent-hard-del", "cl")
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, agent, stack)
		migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, agent, obj)
		migExec(t, conn, `INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'env')`, agent)
		migExec(t, conn, `INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)`, agent, gen)
		migExec(t, conn, `DELETE FROM agents WHERE id = $1`, agent)
		var n int
		migQueryRow(t, conn, `SELECT (SELECT count(*) FROM agent_targets WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_events WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_labels WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_generator_registrations WHERE agent_id = $1)`, []any{agent}, &n)
		if n != 0 {
			t.Errorf("%d dependent rows left after the agent was hard-deleted", n)
		}
	})

	t.Run("AdminRoleCannotBeDeleted", func(t *testing.T) {
		var id string
		migQueryRow(t, conn, `INSERT INTO admin_role (pak_hash) VALUES ('h') RETURNING id`, nil, &id)
		if _, err := conn.Exec(ctx, `DELETE FROM admin_role WHERE id = $1`, id); err == nil {
			t.Fatal("deleting the admin role succeeded")
		}
		var n int
		migQueryRow(t, conn, `SELECT count(*) FROM admin_role WHERE id = $1`, []any{id}, &n)
		if n != 1 {
			t.Fatal("admin role row is gone")
		}
	})

	t.Run("UpdatedAtIsMaintained", func(t *testing.T) {
		id := migInsertAgent(t, conn, "agent-ts", "cl")
		migExec(t, conn, `UPDATE agents SET updated_at = '2000-01-01T00:00:00Z' WHERE id = $1`, id)
		var updated time.Time
		migQueryRow(t, conn, `UPDATE agents SET status = 'ACTIVE' WHERE id = $1 RETURNING updated_at`, []any{id}, &updated)
		if time.Since(updated) > time.Hour {
			t.Errorf("updated_at = %v, not refreshed", updated)
		}
	})

	t.Run("PartialUniqueAgentCluster", func(t *testing.T) {
		first := migInsertAgent(t, conn, "dup-agent", "dup-cluster")
		_, err := conn.Exec(ctx, `INSERT INTO agents (name, cluster_name) VALUES ('dup-agent', 'dup-cluster')`)
		migAssertUnique(t, err, "unique_agent_cluster")
		// Same name on another cluster is fine.
		migInsertAgent(t, conn, "dup-agent", "other-cluster")
		// After a soft delete the name can be reused, once.
		migExec(t, conn, `UPDATE agents SET deleted_at = now() WHERE id = $1`, first)
		migInsertAgent(t, conn, "dup-agent", "dup-cluster")
		_, err = conn.Exec(ctx, `INSERT INTO agents (name, cluster_name) VALUES ('dup-agent', 'dup-cluster')`)
		migAssertUnique(t, err, "unique_agent_cluster")
	})

	t.Run("PartialUniqueStackAndGeneratorNames", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "dup-gen")
		_, err := conn.Exec(ctx, `INSERT INTO generators (name) VALUES ('dup-gen')`)
		migAssertUnique(t, err, "unique_generator_name")

		s := migInsertStack(t, conn, gen, "dup-stack")
		_, err = conn.Exec(ctx, `INSERT INTO stacks (name, generator_id) VALUES ('dup-stack', $1)`, gen)
		migAssertUnique(t, err, "unique_stack_name")
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, s)
		migInsertStack(t, conn, gen, "dup-stack")

		migExec(t, conn, `UPDATE generators SET deleted_at = now() WHERE id = $1`, gen)
		migInsertGenerator(t, conn, "dup-gen")
	})

	t.Run("UniqueTemplateVersionNullsNotDistinct", func(t *testing.T) {
		sys := migInsertTemplate(t, conn, nil, "dup-tpl", 1)
		_, err := conn.Exec(ctx, `INSERT INTO stack_templates (generator_id, name, version, template_content, parameters_schema, checksum)
			VALUES (NULL, 'dup-tpl', 1, 'x', '{}', 'c')`)
		migAssertUnique(t, err, "unique_template_version")
		migInsertTemplate(t, conn, nil, "dup-tpl", 2)
		gen := migInsertGenerator(t, conn, "gen-tpl")
		migInsertTemplate(t, conn, &gen, "dup-tpl", 1)
		_, err = conn.Exec(ctx, `INSERT INTO stack_templates (generator_id, name, version, template_content, parameters_schema, checksum)
			VALUES ($1, 'dup-tpl', 1, 'x', '{}', 'c')`, gen)
		migAssertUnique(t, err, "unique_template_version")
		migExec(t, conn, `UPDATE stack_templates SET deleted_at = now() WHERE id = $1`, sys)
		migInsertTemplate(t, conn, nil, "dup-tpl", 1)
	})

	t.Run("NamedConstraintViolations", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-named")
		stack := migInsertStack(t, conn, gen, "stack-named")
		agent := migInsertAgent(t, conn, "agent-named", "cl")
		tpl := migInsertTemplate(t, conn, &gen, "tpl-named", 1)
		cases := []struct {
			insert     string
			args       []any
			constraint string
		}{
			{`INSERT INTO stack_labels (stack_id, label) VALUES ($1, 'l')`, []any{stack}, "stack_labels_stack_id_label_key"},
			{`INSERT INTO stack_annotations (stack_id, key, value) VALUES ($1, 'k', 'v')`, []any{stack}, "unique_stack_annotation"},
			{`INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'l')`, []any{agent}, "agent_labels_agent_id_label_key"},
			{`INSERT INTO agent_annotations (agent_id, key, value) VALUES ($1, 'k', 'v')`, []any{agent}, "agent_annotations_agent_id_key_key"},
			{`INSERT INTO template_labels (template_id, label) VALUES ($1, 'l')`, []any{tpl}, "template_labels_template_id_label_key"},
			{`INSERT INTO template_annotations (template_id, key, value) VALUES ($1, 'k', 'v')`, []any{tpl}, "template_annotations_template_id_key_key"},
			{`INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, []any{agent, stack}, "unique_agent_stack"},
			{`INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)`, []any{agent, gen}, "agent_generator_registrations_agent_id_generator_id_key"},
		}
		for _, c := range cases {
			migExec(t, conn, c.insert, c.args...)
			_, err := conn.Exec(ctx, c.insert, c.args...)
			migAssertUnique(t, err, c.constraint)
		}

		_, err := conn.Exec(ctx, `INSERT INTO work_orders (work_type, yaml_content, status) VALUES ('build', 'x', 'CLAIMED')`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != "claimed_requires_agent" {
			t.Errorf("claimed work order without agent: %v, want check violation claimed_requires_agent", err)
		}
		_, err = conn.Exec(ctx, `INSERT INTO stack_labels (stack_id, label) VALUES (gen_random_uuid(), 'l')`)
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "fk_stack_labels_stack" {
			t.Errorf("label of a missing stack: %v, want FK violation fk_stack_labels_stack", err)
		}
	})
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
