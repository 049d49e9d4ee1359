// Package faults tests the broker under faults with real processes: brokkr-broker replicas
// killed with SIGKILL, and PostgreSQL restarted under load. Each test starts a PostgreSQL
// server of its own (so it may restart it) from the machine's binaries.
package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/internal/pgserver"
	"github.com/brokkr/brokkr/internal/syncbuf"
	"github.com/jackc/pgx/v5"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "brokkr-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/brokkr-broker")
	build.Dir = filepath.Join("..", "..")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "faults: build brokkr-broker: %v\n", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// database is a PostgreSQL server of the test's own, with one database for the broker.
type database struct {
	t       *testing.T
	dataDir string
	port    int
	srv     *pgserver.Server
	URL     string
}

func startDatabase(t *testing.T) *database {
	t.Helper()
	if _, err := pgserver.FindBinDir(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL server binaries: %v", err)
		}
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
	d := &database{t: t, dataDir: filepath.Join(shortTempDir(t), "pg")}
	d.start()
	t.Cleanup(func() { _ = d.srv.Stop(context.Background()) })
	conn, err := pgx.Connect(context.Background(), d.srv.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(context.Background(), "CREATE DATABASE brokkr"); err != nil {
		t.Fatal(err)
	}
	d.URL = d.srv.URL("brokkr")
	return d
}

func (d *database) start() {
	d.t.Helper()
	srv, err := pgserver.Start(context.Background(), pgserver.Options{DataDir: d.dataDir, Port: d.port, Ephemeral: true, MaxConnections: 300})
	if err != nil {
		d.t.Fatal(err)
	}
	d.srv, d.port = srv, srv.Port()
}

// restart stops the server (fast shutdown, terminating every session) and starts it again on
// the same port, like `pg_ctl restart -m fast`.
func (d *database) restart() {
	d.t.Helper()
	if err := d.srv.Stop(context.Background()); err != nil {
		d.t.Fatal(err)
	}
	d.start()
}

// shortTempDir is a temporary directory with a short path (PostgreSQL's socket path is
// limited to about 100 bytes).
func shortTempDir(t *testing.T) string {
	dir, err := os.MkdirTemp("", "bf-")
	if err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(dir, 0o755) // the server may run as the postgres user
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// replica is a brokkr-broker process.
type replica struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	URL  string
	done chan struct{}
	logs *syncbuf.Buffer
}

// cluster is several replicas on one database, with the same admin PAK and webhook key.
type cluster struct {
	t        *testing.T
	db       *database
	adminPAK string
	env      []string
}

func newCluster(t *testing.T, db *database, extraEnv ...string) *cluster {
	t.Helper()
	adminKey, adminHash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	home := t.TempDir()
	env := append(os.Environ(),
		"HOME="+home,
		"BROKKR__BROKER__PAK_HASH="+adminHash,
		"BROKKR__BROKER__ADMIN_KEY_FILE="+filepath.Join(home, "admin-pak"),
		"BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY="+hex.EncodeToString(key),
		"BROKKR__BROKER__WORK_ORDER_MAINTENANCE_INTERVAL_SECONDS=1",
		"BROKKR__BROKER__WEBHOOK_DELIVERY_INTERVAL_SECONDS=1",
		"BROKKR__BROKER__WEBHOOK_CLAIM_TTL_SECONDS=3",
	)
	return &cluster{t: t, db: db, adminPAK: adminKey, env: append(env, extraEnv...)}
}

// start runs a replica listening on addr ("127.0.0.1:0" for any port) and waits until it is
// ready.
func (c *cluster) start(name, addr string) *replica {
	t := c.t
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	cmd := exec.Command(filepath.Join(binDir, "brokkr-broker"), "serve", "--listen", addr,
		"--database-url", c.db.URL, "--log-level", "warn")
	cmd.Env = c.env
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r := &replica{t: t, name: name, cmd: cmd, URL: "http://" + addr, done: make(chan struct{}), logs: &syncbuf.Buffer{Limit: 1 << 20}}
	cmd.Stdout, cmd.Stderr = r.logs, r.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
		if t.Failed() {
			t.Logf("replica %s output:\n%s", name, r.logs.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for !r.ready() {
		select {
		case <-r.done:
			t.Fatalf("replica %s exited:\n%s", name, r.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica %s not ready:\n%s", name, r.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return r
}

func (r *replica) ready() bool {
	res, err := http.Get(r.URL + "/readyz") //nolint:noctx // test probe
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// kill ends the replica with SIGKILL and waits until it is gone.
func (r *replica) kill() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		r.t.Fatal(err)
	}
	<-r.done
}

// client returns a client of the replica with the key, retrying nothing itself (the tests
// decide what to retry).
func (r *replica) client(key string) *client.Client {
	r.t.Helper()
	c, err := client.New(r.URL, client.WithPAK(key), client.WithRetry(client.RetryPolicy{MaxAttempts: 1}),
		client.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		r.t.Fatal(err)
	}
	return c
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
