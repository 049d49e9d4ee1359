package pgserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// scratchDir returns a fresh directory the server account can traverse
// (t.TempDir's directories are private to the test user, which shuts out
// the postgres account when the tests run as root).
func scratchDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pgserver-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o711); err != nil {
		t.Fatal(err)
	}
	return dir
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// start starts a server and registers its shutdown with the test.
func start(t *testing.T, o Options) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			t.Errorf("Stop in cleanup: %v", err)
		}
	})
	return s
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func show(t *testing.T, conn *pgx.Conn, setting string) string {
	t.Helper()
	var v string
	if err := conn.QueryRow(context.Background(), "SHOW "+setting).Scan(&v); err != nil {
		t.Fatalf("SHOW %s: %v", setting, err)
	}
	return v
}

func TestEphemeralServer(t *testing.T) {
	dataDir := filepath.Join(scratchDir(t), "cluster")
	s := start(t, Options{DataDir: dataDir, Ephemeral: true})

	if s.Port() <= 0 || s.Adopted() {
		t.Fatalf("Port() = %d, Adopted() = %v; want a picked port on a started server", s.Port(), s.Adopted())
	}
	if s.DataDir() != dataDir {
		t.Errorf("DataDir() = %q, want %q", s.DataDir(), dataDir)
	}
	wantURL := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.Port())
	if got := s.URL("postgres"); got != wantURL {
		t.Errorf("URL() = %q, want %q", got, wantURL)
	}

	conn := connect(t, s.URL("postgres"))
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	for setting, want := range map[string]string{
		"fsync":              "off",
		"synchronous_commit": "off",
		"full_page_writes":   "off",
		"max_connections":    "200",
		"listen_addresses":   "127.0.0.1",
		"server_encoding":    "UTF8",
		"lc_collate":         "C",
	} {
		if got := show(t, conn, setting); got != want {
			t.Errorf("SHOW %s = %q, want %q", setting, got, want)
		}
	}
	if os.Geteuid() == 0 {
		var user string
		if err := conn.QueryRow(context.Background(),
			"SELECT pg_read_file('/proc/self/status')").Scan(&user); err != nil {
			t.Fatalf("read backend status: %v", err)
		}
		if strings.Contains(user, "\nUid:\t0\t") {
			t.Errorf("server runs as root:\n%s", user)
		}
	}
	socketDir := s.socketDir
	if _, err := os.Stat(filepath.Join(socketDir, fmt.Sprintf(".s.PGSQL.%d", s.Port()))); err != nil {
		t.Errorf("unix socket missing: %v", err)
	}
	conn.Close(context.Background())

	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := pgx.Connect(ctx, s.URL("postgres")); err == nil {
		c.Close(ctx)
		t.Fatal("server still accepts connections after Stop")
	}
	if _, err := os.Stat(socketDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private socket directory left behind: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("postmaster.pid left behind after a clean stop: %v", err)
	}
	if _, err := os.Stat(dataDir + ".log"); err != nil {
		t.Errorf("default server log: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dataDir := filepath.Join(scratchDir(t), "nested", "cluster")
	ctx := context.Background()

	s := start(t, Options{DataDir: dataDir})
	conn := connect(t, s.URL("postgres"))
	if got := show(t, conn, "fsync"); got != "on" {
		t.Errorf("persistent cluster has fsync = %q, want on", got)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')"); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}

	s2 := start(t, Options{DataDir: dataDir})
	if s2.Adopted() {
		t.Fatal("second Start adopted a server although the first one was stopped")
	}
	var v string
	if err := connect(t, s2.URL("postgres")).QueryRow(ctx, "SELECT v FROM kept").Scan(&v); err != nil || v != "still here" {
		t.Fatalf("after restart: v = %q, err = %v", v, err)
	}
}

func TestAdoptRunningServer(t *testing.T) {
	dataDir := filepath.Join(scratchDir(t), "cluster")
	ctx := context.Background()

	first := start(t, Options{DataDir: dataDir})
	// A second Start on the same directory, as after a broker crash that
	// left its server running, must reuse that server, not start another.
	second := start(t, Options{DataDir: dataDir, Port: first.Port() + 1})
	if !second.Adopted() {
		t.Fatal("second Start did not adopt the running server")
	}
	if second.Port() != first.Port() {
		t.Fatalf("adopted port %d, want %d", second.Port(), first.Port())
	}
	if _, err := connect(t, second.URL("postgres")).Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}

	// Stopping through the adopter stops the one server.
	if err := second.Stop(ctx); err != nil {
		t.Fatalf("Stop adopted: %v", err)
	}
	select {
	case <-first.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("postmaster still running after the adopter stopped it")
	}
	if err := first.Stop(ctx); err != nil {
		t.Fatalf("Stop of an already stopped server: %v", err)
	}
}

func TestStalePIDFile(t *testing.T) {
	dataDir := filepath.Join(scratchDir(t), "cluster")
	ctx := context.Background()

	s := start(t, Options{DataDir: dataDir, Ephemeral: true})
	port := s.Port()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// Leave a lock file behind that names a process which no longer runs,
	// as a crash or power loss does.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fmt.Sprintf("%d\n%s\n1700000000\n%d\n/tmp\n127.0.0.1\n  1234  5678\nready   \n",
		dead.Process.Pid, dataDir, port)
	pidPath := filepath.Join(dataDir, "postmaster.pid")
	if err := os.WriteFile(pidPath, []byte(stale), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.id.chown(pidPath); err != nil { // as the server would have left it
		t.Fatal(err)
	}
	s2 := start(t, Options{DataDir: dataDir, Ephemeral: true})
	if s2.Adopted() {
		t.Fatal("adopted a server from a stale postmaster.pid")
	}
	if _, err := connect(t, s2.URL("postgres")).Exec(ctx, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableDataDir(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs as root, so that this test runs")
		}
		t.Skip("only root hands the server to another account")
	}
	private, err := os.MkdirTemp("", "pgserver-private-") // mode 0700, owned by root
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(private) })

	_, err = Start(context.Background(), Options{DataDir: filepath.Join(private, "cluster"), Ephemeral: true})
	if err == nil || !strings.Contains(err.Error(), "not reachable by user postgres") || !strings.Contains(err.Error(), private) {
		t.Fatalf("Start under a private root directory: err = %v, want a clear reachability error", err)
	}
}

func TestFindBinDirNothingInstalled(t *testing.T) {
	noPath := func(string) (string, error) { return "", exec.ErrNotFound }
	root := t.TempDir()
	_, err := findBinDir(noPath, root)
	if err == nil {
		t.Fatal("findBinDir found binaries on an empty machine")
	}
	for _, want := range []string{"initdb, pg_ctl", root + "/*/bin", "apt-get install postgresql"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

// fakeInstall creates dir holding executables with the given names.
func fakeInstall(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFindBinDirPicksNewestComplete(t *testing.T) {
	noPath := func(string) (string, error) { return "", exec.ErrNotFound }
	root := t.TempDir()
	fakeInstall(t, filepath.Join(root, "9.6", "bin"), "initdb", "pg_ctl", "postgres")
	fakeInstall(t, filepath.Join(root, "10", "bin"), "initdb", "pg_ctl", "postgres")
	fakeInstall(t, filepath.Join(root, "16", "bin"), "pg_ctl") // client-only leftovers

	got, err := findBinDir(noPath, root)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(root, "10", "bin"); got != want {
		t.Fatalf("findBinDir = %q, want %q (newest complete install, compared numerically)", got, want)
	}
}

func TestFindBinDirFollowsPathSymlink(t *testing.T) {
	base := t.TempDir()
	real := filepath.Join(base, "pg", "bin")
	fakeInstall(t, real, "initdb", "pg_ctl", "postgres")
	onPath := filepath.Join(base, "usr-local-bin")
	if err := os.MkdirAll(onPath, 0o755); err != nil {
		t.Fatal(err)
	}
	// Only initdb is linked onto PATH; the rest lives in the real directory.
	if err := os.Symlink(filepath.Join(real, "initdb"), filepath.Join(onPath, "initdb")); err != nil {
		t.Fatal(err)
	}
	lookPath := func(name string) (string, error) {
		p := filepath.Join(onPath, name)
		if _, err := os.Stat(p); err != nil {
			return "", exec.ErrNotFound
		}
		return p, nil
	}
	got, err := findBinDir(lookPath, filepath.Join(base, "empty-root"))
	if err != nil {
		t.Fatal(err)
	}
	if got != real {
		t.Fatalf("findBinDir = %q, want the symlink target directory %q", got, real)
	}
}

func TestFindBinDirOnThisMachine(t *testing.T) {
	dir, err := FindBinDir()
	if err != nil {
		t.Fatalf("the server tests need PostgreSQL: %v", err)
	}
	if !hasServerBinaries(dir) {
		t.Fatalf("FindBinDir = %q, which lacks the server programs", dir)
	}
}

// TestEphemeralServerDiesWithOwner kills a process that owns an ephemeral
// server without letting it stop the server, and expects the server to shut
// itself down rather than linger.
func TestEphemeralServerDiesWithOwner(t *testing.T) {
	if runtime.GOOS != "linux" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI runs on Linux, so that this test runs")
		}
		t.Skip("parent-death signals are Linux-only")
	}
	dataDir := filepath.Join(scratchDir(t), "cluster")
	owner := exec.Command(os.Args[0], "-test.run=^TestHelperOwner$")
	owner.Env = append(os.Environ(), "PGSERVER_TEST_OWNER_DATADIR="+dataDir)
	owner.Stderr = os.Stderr
	out, err := owner.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := owner.Start(); err != nil {
		t.Fatal(err)
	}
	// The owner prints the postmaster's pid and its private socket
	// directory (which nobody removes when the owner is killed) once the
	// server is ready.
	var pid int
	var socketDir string
	if _, err := fmt.Fscan(out, &pid, &socketDir); err != nil {
		_ = owner.Process.Kill()
		t.Fatalf("read postmaster pid from owner: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(socketDir) })
	if !processAlive(pid) {
		t.Fatalf("postmaster %d not running while its owner lives", pid)
	}
	if err := owner.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = owner.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for processAlive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGQUIT)
			t.Fatalf("postmaster %d outlived its killed owner", pid)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestHelperOwner is the owner process of TestEphemeralServerDiesWithOwner;
// it does nothing in a normal test run.
func TestHelperOwner(t *testing.T) {
	dataDir := os.Getenv("PGSERVER_TEST_OWNER_DATADIR")
	if dataDir == "" {
		return
	}
	s, err := Start(context.Background(), Options{DataDir: dataDir, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println(s.proc.Pid, s.socketDir)
	select {} // wait to be killed
}
