// Package pgserver runs a PostgreSQL server from the machine's own
// binaries: it creates a cluster when the data directory holds none, starts
// the server on the loopback interface with trust authentication, and stops
// it again.
//
// It serves two purposes. Tests start throw-away clusters (Options.Ephemeral)
// tuned for speed over durability. The broker, when no database URL is
// configured, keeps a persistent cluster in its data directory; if an
// earlier broker process died and left that server running, Start adopts it
// instead of failing.
//
// When the calling process runs as root, the server programs run as the
// unprivileged "postgres" account, because PostgreSQL refuses to run as
// root; directories and files created for the server are handed to that
// account.
package pgserver

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokkr/brokkr/internal/logx"
)

// Options configure a server.
type Options struct {
	// DataDir is the cluster directory. initdb runs when it holds no
	// cluster (no PG_VERSION file); missing parent directories are created.
	DataDir string
	// Port is the TCP port on 127.0.0.1; 0 picks a free one.
	Port int
	// SocketDir is where the Unix-domain socket goes. Empty means a private
	// temporary directory that only the server account can enter. Socket
	// paths are limited to about 100 bytes, so keep it short.
	SocketDir string
	// BinDir holds initdb, pg_ctl and postgres; empty means FindBinDir().
	BinDir string
	// Logger receives progress messages; nil discards them.
	Logger *slog.Logger
	// LogFile receives the server's own output (appended). Empty means a
	// file next to the data directory: <DataDir>.log.
	LogFile string
	// Ephemeral marks a throw-away cluster: initdb skips fsync and the
	// server runs with fsync, synchronous_commit and full_page_writes off.
	// A crash can corrupt such a cluster. Ephemeral servers are also
	// stopped by the kernel if this process dies (Linux).
	Ephemeral bool
	// MaxConnections is the server's max_connections; 0 means 200.
	MaxConnections int
	// StartTimeout bounds the wait for the server to accept connections
	// (crash recovery of a large persistent cluster can take a while);
	// 0 means 60 seconds.
	StartTimeout time.Duration
}

// Server is a running PostgreSQL server, either started by this process or
// adopted from an earlier one that used the same data directory.
type Server struct {
	binDir          string
	dataDir         string
	socketDir       string
	removeSocketDir bool
	port            int
	id              *identity
	log             *slog.Logger
	logPath         string

	// proc is the postmaster when we started it; nil when adopted.
	proc *os.Process
	// exited is closed once proc has exited; exitErr is then its status.
	exited  chan struct{}
	exitErr error

	mu      sync.Mutex
	stopped bool
	stopErr error
}

// errPortInUse marks a start that failed because the TCP port was taken.
var errPortInUse = errors.New("port already in use")

const (
	defaultMaxConnections = 200
	defaultStartTimeout   = 60 * time.Second
	// superuser is the role initdb creates; local connections trust it.
	superuser = "postgres"
	// maxSocketPath is the usable length of a Unix socket path (sun_path is
	// 108 bytes on Linux, 104 on the BSDs; keep the smaller minus the NUL).
	maxSocketPath = 103
	// socketFileName is the longest socket file name PostgreSQL creates.
	socketFileName = "/.s.PGSQL.65535"
)

// Start makes sure a server runs on o.DataDir and returns it once it
// accepts connections on 127.0.0.1. A cluster is created first if the
// directory holds none. If a postmaster from an earlier process still runs
// on the directory, Start adopts it (Server.Adopted reports this) and uses
// the port it listens on, whatever o.Port says.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("start postgres: no data directory given")
	}
	logger := logx.OrDiscard(o.Logger)
	binDir := o.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	}
	id, err := serverIdentity()
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	dataDir, err := prepareDataDir(o.DataDir, id)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	timeout := o.StartTimeout
	if timeout <= 0 {
		timeout = defaultStartTimeout
	}
	s := &Server{binDir: binDir, dataDir: dataDir, id: id, log: logger.With("data_dir", dataDir)}

	if adopted, err := s.adopt(ctx, o.Port, timeout); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	} else if adopted {
		return s, nil
	}

	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := s.initdb(ctx, o.Ephemeral); err != nil {
			return nil, fmt.Errorf("start postgres: %w", err)
		}
	} else if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	s.logPath = o.LogFile
	if s.logPath == "" {
		s.logPath = dataDir + ".log"
	}
	logFile, err := openLog(s.logPath, id)
	if err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	// The child keeps its own descriptor; ours is not needed after launch.
	defer logFile.Close()

	if err := s.makeSocketDir(o.SocketDir); err != nil {
		return nil, fmt.Errorf("start postgres: %w", err)
	}

	maxConns := o.MaxConnections
	if maxConns <= 0 {
		maxConns = defaultMaxConnections
	}
	// With a picked port another process may grab it between our probe and
	// the server's bind; try a few fresh ports before giving up.
	for attempt := 1; ; attempt++ {
		port := o.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				break
			}
		}
		err = s.launch(ctx, port, maxConns, o.Ephemeral, logFile, timeout)
		if err == nil {
			return s, nil
		}
		if o.Port != 0 || !errors.Is(err, errPortInUse) || attempt == 5 {
			break
		}
		s.log.Debug("postgres port taken, retrying", "port", port)
	}
	s.cleanupSocketDir()
	return nil, fmt.Errorf("start postgres: %w", err)
}

// URL returns a connection URL for database dbname over TCP on 127.0.0.1 as
// the superuser, e.g. postgres://postgres@127.0.0.1:5432/app?sslmode=disable.
func (s *Server) URL(dbname string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", superuser, s.port, url.PathEscape(dbname))
}

// Port returns the TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// DataDir returns the absolute, symlink-free cluster directory.
func (s *Server) DataDir() string { return s.dataDir }

// Adopted reports whether Start found the server already running (left by
// an earlier process) rather than starting it.
func (s *Server) Adopted() bool { return s.proc == nil }

// LogFile returns the server log path; empty for an adopted server, whose
// output goes wherever its starter sent it.
func (s *Server) LogFile() string { return s.logPath }

// Stop shuts the server down with a fast shutdown (open transactions are
// rolled back, data is checkpointed) and waits for it to exit. If ctx ends
// first the server is told to exit immediately instead, and the next start
// runs crash recovery. Adopted servers are stopped too: the data directory
// belongs to whoever holds the Server. Stop is safe to call more than once;
// later calls return the first call's result.
func (s *Server) Stop(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	if s.proc != nil {
		s.stopErr = s.stopChild(ctx)
	} else {
		s.stopErr = s.stopAdopted(ctx)
	}
	s.cleanupSocketDir()
	if s.stopErr == nil {
		s.log.Info("postgres stopped")
	}
	return s.stopErr
}

// stopChild shuts down a postmaster we started.
func (s *Server) stopChild(ctx context.Context) error {
	select {
	case <-s.exited:
		s.log.Warn("postgres had already exited", logx.Err(s.exitErr))
		return nil
	default:
	}
	if err := s.proc.Signal(sigFastShutdown); err != nil {
		return fmt.Errorf("stop postgres: signal pid %d: %w", s.proc.Pid, err)
	}
	select {
	case <-s.exited:
		return nil
	case <-ctx.Done():
	}
	// Out of time: immediate shutdown, and as a last resort kill it.
	_ = s.proc.Signal(sigImmediateShutdown)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.proc.Kill()
		<-s.exited
	}
	return fmt.Errorf("stop postgres: fast shutdown did not finish (%w); used immediate shutdown", ctx.Err())
}

// stopAdopted shuts down a postmaster started by another process, through
// pg_ctl, which signals the pid in postmaster.pid and waits for it to go.
func (s *Server) stopAdopted(ctx context.Context) error {
	pf, err := readPIDFile(s.dataDir)
	if err != nil || !processAlive(pf.pid) {
		return nil // already gone
	}
	wait := 60
	if deadline, ok := ctx.Deadline(); ok {
		wait = max(1, int(time.Until(deadline).Seconds()))
	}
	out, err := s.command(ctx, "pg_ctl", "stop", "-D", s.dataDir, "-m", "fast", "-w", "-t", strconv.Itoa(wait)).CombinedOutput()
	if err != nil {
		if pf, perr := readPIDFile(s.dataDir); perr != nil || !processAlive(pf.pid) {
			return nil // it went away on its own meanwhile
		}
		return fmt.Errorf("stop postgres: pg_ctl stop: %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// adopt checks for a postmaster left running on the data directory by an
// earlier process. It returns true when that server answers and now belongs
// to s. A postmaster that is shutting down is waited out (false, nil); one
// that stays unreachable is an error, since starting a second server on the
// same directory cannot work.
func (s *Server) adopt(ctx context.Context, wantPort int, timeout time.Duration) (bool, error) {
	pf, err := readPIDFile(s.dataDir)
	if err != nil || !processAlive(pf.pid) {
		// No pid file, or a stale one: postgres clears a stale lock itself.
		return false, nil
	}
	s.log.Info("found running postgres on data directory", "pid", pf.pid, "status", pf.status)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var lastErr error
	for {
		pf, err := readPIDFile(s.dataDir)
		if err != nil || !processAlive(pf.pid) {
			s.log.Info("earlier postgres exited; starting a new one")
			return false, nil
		}
		if pf.port != 0 {
			s.port = pf.port
			if lastErr = s.probe(ctx); lastErr == nil {
				if wantPort != 0 && wantPort != pf.port {
					s.log.Warn("adopted postgres listens on a different port than configured",
						"port", pf.port, "configured_port", wantPort)
				}
				s.socketDir = pf.socketDir
				s.log.Info("adopted running postgres", "pid", pf.pid, "port", pf.port)
				return true, nil
			}
		}
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return false, fmt.Errorf("data directory %s is in use by postgres pid %d, which does not accept connections on 127.0.0.1:%d (%w): stop it or choose another data directory",
				s.dataDir, pf.pid, pf.port, lastErr)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
