// Package dbtest gives every test its own real, fully migrated PostgreSQL
// database.
//
// The first URL call in a test binary prepares a template database holding
// the current migrations; each URL call then clones it, which takes a few
// milliseconds, and drops the clone when the test ends. Databases use the
// America/Sao_Paulo time zone rather than UTC, so code that silently depends
// on the server's zone shows up in tests.
//
// The server comes from BROKKR_TEST_DATABASE_URL when that is set (a
// postgres:// URL of a role allowed to create databases). Otherwise the test
// binary starts a throw-away server of its own from the machine's
// PostgreSQL binaries and removes it when the tests are done. Without either
// the tests fail; they are never skipped.
//
// A package using dbtest must route its TestMain through Main:
//
//	func TestMain(m *testing.M) { dbtest.Main(m) }
//
// dbtest imports package db, so tests inside package db must be written as
// the external test package db_test to use it.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pgserver"
)

// EnvURL names the environment variable that points the tests at an
// existing server instead of a throw-away one.
const EnvURL = "BROKKR_TEST_DATABASE_URL"

// TimeZone is the time zone every test database is set to.
const TimeZone = "America/Sao_Paulo"

const (
	templatePrefix = "brokkr_template_"
	testDBPrefix   = "brokkr_test_"
	// scratchPrefix names the temporary directory of a throw-away server.
	scratchPrefix = "brokkr-dbtest-"
	// ownerFile, inside the scratch directory, records the test binary's
	// pid so later runs can clear directories left by killed ones.
	ownerFile = "owner.pid"
	// maxSocketDir leaves room for the socket file name within the Unix
	// socket path limit.
	maxSocketDir = 80
	setupTimeout = 3 * time.Minute
	opTimeout    = time.Minute
)

var (
	// mainActive is set by Main; URL refuses to run without it, because
	// only Main can shut the server down and drop the template.
	mainActive atomic.Bool

	setupOnce sync.Once
	shared    *env
	setupErr  error

	// cloneMu serialises CREATE DATABASE ... TEMPLATE: cloning fails if
	// anything else is connected to the template at that moment.
	cloneMu sync.Mutex
)

// env is the state shared by all tests of one binary.
type env struct {
	base       *url.URL         // the server's maintenance database
	admin      *pgxpool.Pool    // connected to base
	server     *pgserver.Server // nil when EnvURL is used
	scratchDir string           // temp dir of our own server
	template   string           // name of the migrated template database
}

// Main runs the tests of a package and then releases what dbtest set up: it
// stops the throw-away server and removes its files, or, on a server given
// by BROKKR_TEST_DATABASE_URL, drops the template database. It exits the
// process with the tests' status. Call it from TestMain.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit: it returns the tests' status, for a TestMain that also
// sets up something else (see agent/internal/kubetest.RunWith).
func Run(m *testing.M) int {
	mainActive.Store(true)
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintf(os.Stderr, "dbtest: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// URL returns the connection URL of a database that belongs to this test
// alone, already migrated to the latest version. The database is dropped
// when the test and its subtests have finished, even if connections to it
// are still open. URL fails the test if no server is available.
func URL(t testing.TB) string {
	t.Helper()
	if !mainActive.Load() {
		t.Fatal("dbtest: URL needs the package's TestMain to call dbtest.Main(m), " +
			"which stops the test database server when the tests are done: " +
			"add `func TestMain(m *testing.M) { dbtest.Main(m) }`")
	}
	e, err := setup()
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	name, err := randomName(testDBPrefix)
	if err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := e.createTestDB(ctx, name); err != nil {
		t.Fatalf("dbtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		defer cancel()
		if err := e.dropDB(ctx, name); err != nil {
			t.Errorf("dbtest: %v", err)
		}
	})
	return e.urlFor(name)
}

// setup prepares the shared environment once per test binary.
func setup() (*env, error) {
	setupOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		shared, setupErr = newEnv(ctx)
	})
	return shared, setupErr
}

// newEnv finds or starts a server and builds the template database.
func newEnv(ctx context.Context) (*env, error) {
	e := &env{}
	if raw := os.Getenv(EnvURL); raw != "" {
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, fmt.Errorf("%s must be a postgres:// URL, got %q", EnvURL, raw)
		}
		e.base = u
	} else if err := e.startServer(ctx); err != nil {
		return nil, err
	}

	pool, err := pgxpool.New(ctx, e.base.String())
	if err == nil {
		err = pool.Ping(ctx)
	}
	if err != nil {
		e.close(ctx)
		return nil, fmt.Errorf("connect to test database server %s: %w", e.base.Redacted(), err)
	}
	e.admin = pool

	if err := e.buildTemplate(ctx); err != nil {
		e.close(ctx)
		return nil, err
	}
	return e, nil
}

// startServer starts a throw-away server in a fresh temporary directory.
func (e *env) startServer(ctx context.Context) error {
	binDir, err := pgserver.FindBinDir()
	if err != nil {
		return fmt.Errorf("no test database: set %s to a server's URL, or %w", EnvURL, err)
	}
	sweepScratchDirs()
	dir, err := os.MkdirTemp("", scratchPrefix)
	if err != nil {
		return fmt.Errorf("create scratch directory: %w", err)
	}
	e.scratchDir = dir
	// Search permission only, so that the server account can reach the
	// cluster directory inside when the tests run as root.
	if err := os.Chmod(dir, 0o711); err != nil {
		e.close(ctx)
		return fmt.Errorf("chmod scratch directory: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		e.close(ctx)
		return fmt.Errorf("record scratch directory owner: %w", err)
	}
	// Keep the socket inside the scratch directory too, so one removal
	// takes everything, unless the path would be too long for a socket.
	sockDir := filepath.Join(dir, "sock")
	if len(sockDir) > maxSocketDir {
		sockDir = ""
	}
	srv, err := pgserver.Start(ctx, pgserver.Options{
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: sockDir,
		BinDir:    binDir,
		LogFile:   filepath.Join(dir, "server.log"),
		Ephemeral: true,
	})
	if err != nil {
		e.close(ctx)
		return fmt.Errorf("start test database server: %w", err)
	}
	e.server = srv
	u, err := url.Parse(srv.URL("postgres"))
	if err != nil {
		e.close(ctx)
		return fmt.Errorf("parse server URL: %w", err)
	}
	e.base = u
	return nil
}

// buildTemplate creates the template database and migrates it. Afterwards
// nobody may connect to it, so cloning never trips over a stray session.
func (e *env) buildTemplate(ctx context.Context) error {
	name, err := randomName(templatePrefix)
	if err != nil {
		return err
	}
	if _, err := e.admin.Exec(ctx, "CREATE DATABASE "+ident(name)); err != nil {
		return fmt.Errorf("create template database: %w", err)
	}
	e.template = name
	if err := db.MigrateUp(ctx, e.urlFor(name), ""); err != nil {
		return fmt.Errorf("migrate template database %s: %w", name, err)
	}
	if _, err := e.admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"); err != nil {
		return fmt.Errorf("mark template database: %w", err)
	}
	// Connections that outlived the migration (there should be none) would
	// make every clone fail; end them now.
	if _, err := e.admin.Exec(ctx,
		"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name); err != nil {
		return fmt.Errorf("disconnect from template database: %w", err)
	}
	return nil
}

// createTestDB clones the template into a new database named name.
func (e *env) createTestDB(ctx context.Context, name string) error {
	cloneMu.Lock()
	_, err := e.admin.Exec(ctx, "CREATE DATABASE "+ident(name)+" TEMPLATE "+ident(e.template))
	cloneMu.Unlock()
	if err != nil {
		return fmt.Errorf("create test database from template %s: %w", e.template, err)
	}
	if _, err := e.admin.Exec(ctx, "ALTER DATABASE "+ident(name)+" SET timezone TO '"+TimeZone+"'"); err != nil {
		return errors.Join(fmt.Errorf("set time zone of test database: %w", err), e.dropDB(ctx, name))
	}
	return nil
}

// dropDB drops a database, disconnecting whoever still uses it.
func (e *env) dropDB(ctx context.Context, name string) error {
	if _, err := e.admin.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// urlFor returns the URL of database name on the shared server.
func (e *env) urlFor(name string) string {
	u := *e.base
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// teardown releases the shared environment, if it was ever set up.
func teardown() error {
	if shared == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	var errs []error
	// Our own server goes away as a whole; on a shared one, clean up.
	if shared.server == nil && shared.template != "" {
		if _, err := shared.admin.Exec(ctx, "ALTER DATABASE "+ident(shared.template)+" WITH IS_TEMPLATE false"); err != nil {
			errs = append(errs, fmt.Errorf("unmark template database: %w", err))
		} else if err := shared.dropDB(ctx, shared.template); err != nil {
			errs = append(errs, err)
		}
	}
	errs = append(errs, shared.close(ctx))
	shared = nil
	return errors.Join(errs...)
}

// close disconnects, stops our server and removes its files.
func (e *env) close(ctx context.Context) error {
	var errs []error
	if e.admin != nil {
		e.admin.Close()
	}
	if e.server != nil {
		if err := e.server.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop test database server: %w", err))
		}
	}
	if e.scratchDir != "" {
		if err := os.RemoveAll(e.scratchDir); err != nil {
			errs = append(errs, fmt.Errorf("remove scratch directory: %w", err))
		}
	}
	return errors.Join(errs...)
}

// sweepScratchDirs removes scratch directories of test binaries that were
// killed before they could clean up. A directory is left alone while its
// owner lives or while a server still runs in it (postmaster.pid present).
func sweepScratchDirs() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), scratchPrefix+"*"))
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, ownerFile))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || processAlive(pid) {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		_ = os.RemoveAll(dir)
	}
}

// processAlive reports whether a process with this pid exists.
func processAlive(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone)
}

// randomName returns prefix followed by 16 random hex digits.
func randomName(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random database name: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}

// ident quotes a database name for use in SQL.
func ident(name string) string { return pgx.Identifier{name}.Sanitize() }
