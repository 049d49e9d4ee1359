package db

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// migAllTables is every table of the schema (migrations table excluded).
var migAllTables = []string{
	"admin_role",
	"agent_annotations",
	"agent_deployments",
	"agent_events",
	"agent_generator_registrations",
	"agent_k8s_events",
	"agent_labels",
	"agent_pod_logs",
	"agent_targets",
	"agents",
	"app_initialization",
	"apply_windows",
	"audit_logs",
	"deployment_health",
	"deployment_objects",
	"diagnostic_requests",
	"diagnostic_results",
	"generators",
	"read_only_paks",
	"rendered_deployment_objects",
	"rollout_agents",
	"rollout_policies",
	"rollouts",
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

func TestLatestMigrationVersion(t *testing.T) {
	if got := LatestMigrationVersion(); got != 18 {
		t.Fatalf("LatestMigrationVersion() = %d, want 18", got)
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
		for _, gone := range []string{"rollouts", "apply_windows", "agent_deployments"} {
			if slices.Contains(migTables(t, conn, "public"), gone) {
				t.Fatalf("%s still exists after one step down", gone)
			}
		}
		if err := MigrateDown(ctx, u, "", 1); err != nil {
			t.Fatalf("MigrateDown(1): %v", err)
		}
		if slices.Contains(migTables(t, conn, "public"), "read_only_paks") {
			t.Fatal("read_only_paks still exists after two steps down")
		}
		if err := MigrateDown(ctx, u, "", 1); err != nil {
			t.Fatalf("MigrateDown(1): %v", err)
		}
		if fs := migFunctions(t, conn, "public"); slices.Contains(fs, "notify_target_state_all") {
			t.Fatal("the target-state notification functions still exist after three steps down")
		}
		if err := MigrateDown(ctx, u, "", 1); err != nil {
			t.Fatalf("MigrateDown(1): %v", err)
		}
		if slices.Contains(migTables(t, conn, "public"), "agent_generator_registrations") {
			t.Fatal("agent_generator_registrations still exists after four steps down")
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

	t.Run("BackfillAgentDeployments", func(t *testing.T) {
		t.Parallel()
		migCheckAgentDeployments(t, srv.emptyDB(t))
	})

	t.Run("Triggers", func(t *testing.T) {
		t.Parallel()
		migCheckTriggers(t, migConnect(t, srv.migratedDB(t)))
	})
	t.Run("TargetStateNotifications", func(t *testing.T) {
		t.Parallel()
		migCheckTargetStateNotify(t, migConnect(t, srv.migratedDB(t)))
	})
}
