package pgserver

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/brokkr/brokkr/internal/logx"
)

// initdb creates a cluster in the (empty) data directory.
func (s *Server) initdb(ctx context.Context, ephemeral bool) error {
	args := []string{"-D", s.dataDir, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C"}
	if ephemeral {
		args = append(args, "--no-sync")
	}
	s.log.Info("creating postgres cluster", "ephemeral", ephemeral)
	out, err := s.command(ctx, "initdb", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb as %s: %w:\n%s", s.id, err, tail(string(out), 30))
	}
	s.log.Debug("initdb finished", "output", string(out))
	return nil
}

// launch starts the postmaster as our child and waits until it accepts
// connections.
func (s *Server) launch(ctx context.Context, port, maxConns int, ephemeral bool, logFile *os.File, timeout time.Duration) error {
	args := []string{
		"-D", s.dataDir,
		"-p", strconv.Itoa(port),
		"-k", s.socketDir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=" + strconv.Itoa(maxConns),
	}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	// Remember where this attempt's output starts, to quote it on failure.
	logStart, err := logFile.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("seek server log: %w", err)
	}
	cmd := s.command(context.Background(), "postgres", args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = s.id.sysProcAttr(ephemeral)

	s.port = port
	s.exited = make(chan struct{})
	started := make(chan error, 1)
	go func() {
		// The parent-death signal fires when the *thread* that forked the
		// child exits, and the Go runtime may retire threads. Pin this
		// goroutine to its thread for the child's whole life; the thread
		// is retired only once the child is gone.
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.exitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("run postgres as %s: %w", s.id, err)
	}
	s.proc = cmd.Process
	s.log.Info("starting postgres", "pid", cmd.Process.Pid, "port", port, "log", s.logPath)

	if err := s.waitReady(ctx, timeout); err != nil {
		select {
		case <-s.exited:
		default:
			_ = s.proc.Signal(sigImmediateShutdown)
			<-s.exited
		}
		s.proc = nil
		output := readLogFrom(s.logPath, logStart)
		if strings.Contains(output, "could not bind") || strings.Contains(output, "Address already in use") {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return fmt.Errorf("postgres on port %d: %w; server log %s:\n%s", port, err, s.logPath, tail(output, 30))
	}
	s.log.Info("postgres ready", "port", port)
	return nil
}

// waitReady polls until our child accepts connections, exits, or time runs out.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		// Probing only once the postmaster reports "ready" in its pid file
		// spares the log a "starting up" error per attempt. Servers older
		// than PostgreSQL 10 write no status; those are simply probed.
		pf, err := readPIDFile(s.dataDir)
		if err == nil && pf.pid == s.proc.Pid && (pf.status == "ready" || pf.status == "") {
			err := s.probe(ctx)
			if err == nil {
				return nil
			}
			s.log.Debug("postgres not answering yet", logx.Err(err))
		}
		select {
		case <-s.exited:
			return fmt.Errorf("exited during startup: %w", s.exitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s: %w", timeout, ctx.Err())
		case <-tick.C:
		}
	}
}

// probe connects over TCP and makes sure the server answering on our port
// really serves our data directory, not some other cluster that happens to
// listen there.
func (s *Server) probe(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	var dir string
	if err := conn.QueryRow(ctx, "SHOW data_directory").Scan(&dir); err != nil {
		return fmt.Errorf("query data_directory: %w", err)
	}
	if filepath.Clean(dir) != s.dataDir {
		return fmt.Errorf("port %d is served by another cluster (%s)", s.port, dir)
	}
	return nil
}

// command prepares one of the server programs to run as the server account,
// in the data directory, without PG* variables from our environment (PGDATA,
// PGPORT and friends would override what we pass).
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.binDir, name), args...)
	cmd.Dir = s.dataDir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = s.id.sysProcAttr(false)
	return cmd
}
