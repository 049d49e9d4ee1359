package dbtest_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatalf("connect %s: %v", dbURL, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestDatabasesAreSeparateAndMigrated(t *testing.T) {
	ctx := context.Background()
	urlA, urlB := dbtest.URL(t), dbtest.URL(t)
	if urlA == urlB {
		t.Fatalf("two URL calls returned the same database %s", urlA)
	}
	a, b := connect(t, urlA), connect(t, urlB)

	for _, tc := range []struct {
		url  string
		conn *pgx.Conn
	}{{urlA, a}, {urlB, b}} {
		var current string
		if err := tc.conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil {
			t.Fatal(err)
		}
		if want := dbName(t, tc.url); current != want || !strings.HasPrefix(current, "brokkr_test_") {
			t.Errorf("connected to %q, want %q", current, want)
		}
		version, dirty, err := db.MigrationVersion(ctx, tc.url, "")
		if err != nil {
			t.Fatal(err)
		}
		if version != db.LatestMigrationVersion() || dirty {
			t.Errorf("%s: migration version %d (dirty %v), want %d", current, version, dirty, db.LatestMigrationVersion())
		}
	}

	if _, err := a.Exec(ctx, "INSERT INTO agents (name, cluster_name) VALUES ('only-in-a', 'c1')"); err != nil {
		t.Fatalf("insert into agents: %v", err)
	}
	count := func(conn *pgx.Conn) int {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM agents WHERE name = 'only-in-a'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(a); n != 1 {
		t.Errorf("database A sees %d rows of its own insert, want 1", n)
	}
	if n := count(b); n != 0 {
		t.Errorf("database B sees %d rows written to A, want 0", n)
	}
}

func TestTimeZoneIsNotUTC(t *testing.T) {
	conn := connect(t, dbtest.URL(t))
	var tz string
	if err := conn.QueryRow(context.Background(), "SHOW timezone").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	if tz != dbtest.TimeZone {
		t.Fatalf("timezone = %q, want %q", tz, dbtest.TimeZone)
	}
}

func TestDatabaseDroppedAfterTest(t *testing.T) {
	observer := connect(t, dbtest.URL(t))
	ctx := context.Background()
	exists := func(name string) bool {
		var ok bool
		if err := observer.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}

	var name string
	t.Run("owner", func(t *testing.T) {
		u := dbtest.URL(t)
		name = dbName(t, u)
		if !exists(name) {
			t.Fatalf("database %s does not exist during its test", name)
		}
		// A connection the test forgot to close must not keep the
		// database alive. pgx.Connect is used without its own cleanup.
		if _, err := pgx.Connect(ctx, u); err != nil {
			t.Fatal(err)
		}
	})
	if name == "" || exists(name) {
		t.Fatalf("database %q still exists after its test finished", name)
	}
}

func TestTemplateIsLockedDown(t *testing.T) {
	conn := connect(t, dbtest.URL(t))
	rows, err := conn.Query(context.Background(),
		"SELECT datname, datistemplate, datallowconn FROM pg_database WHERE datname LIKE 'brokkr\\_template\\_%'")
	if err != nil {
		t.Fatal(err)
	}
	type tmpl struct {
		name               string
		isTemplate, allows bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (tmpl, error) {
		var x tmpl
		return x, r.Scan(&x.name, &x.isTemplate, &x.allows)
	})
	if err != nil {
		t.Fatal(err)
	}
	// A shared server may hold the templates of other test binaries
	// running at the same time; each must be locked down.
	if len(got) == 0 {
		t.Fatal("no brokkr_template_ database found")
	}
	for _, x := range got {
		if !x.isTemplate || x.allows {
			t.Errorf("%s: datistemplate=%v datallowconn=%v, want true/false", x.name, x.isTemplate, x.allows)
		}
	}
}

func TestParallelCreation(t *testing.T) {
	seen := make(chan string, 8)
	t.Run("group", func(t *testing.T) {
		for i := range cap(seen) {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				u := dbtest.URL(t)
				var n int
				if err := connect(t, u).QueryRow(context.Background(), "SELECT count(*) FROM agents").Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n != 0 {
					t.Errorf("fresh database has %d agents", n)
				}
				seen <- dbName(t, u)
			})
		}
	})
	close(seen)
	names := map[string]bool{}
	for n := range seen {
		if names[n] {
			t.Errorf("database %s handed out twice", n)
		}
		names[n] = true
	}
	if len(names) != cap(seen) {
		t.Errorf("got %d distinct databases, want %d", len(names), cap(seen))
	}
}
