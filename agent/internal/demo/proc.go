package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
)

// proc is a program the demo runs (the broker, an agent), its output in a log file.
type proc struct{ *kubetest.Process }

// startProc runs path with args and env, its output in DIR/NAME.log. The program gets a
// process group of its own, so that a Ctrl-C in the terminal reaches the demo alone (which
// stops everything in order), and SIGTERM when the demo dies.
func startProc(dir, name string, env []string, path string, args ...string) (*proc, error) {
	p, err := kubetest.StartProcess(dir, name, env, syscall.SIGTERM, path, args...)
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

// stop asks the program to stop (SIGTERM) and waits up to grace for it; then it kills its
// process group.
func (p *proc) stop(grace time.Duration) error {
	if !p.Alive() {
		return nil
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done():
		return nil
	case <-time.After(grace):
	}
	_ = syscall.Kill(-p.Cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		return fmt.Errorf("%s (pid %d) did not exit", p.Name, p.Cmd.Process.Pid)
	}
	return fmt.Errorf("%s did not stop within %s and was killed", p.Name, grace)
}

// status describes how the program ended.
func (p *proc) status() string {
	if p.Err() == nil {
		return "exit status 0"
	}
	return p.Err().Error()
}

// childEnv is the demo's environment without brokkr settings (a configuration file or
// database URL of the user's must not reach the demo's programs), plus extra.
func childEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "BROKKR__") || strings.HasPrefix(kv, "BROKKR_CONFIG_FILE=") ||
			strings.HasPrefix(kv, "BROKKR_GENERATOR_IDS=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// stopPostgres stops a PostgreSQL still running on dataDir (its broker normally stops it; a
// broker that had to be killed leaves it behind): fast shutdown, then immediate shutdown.
func stopPostgres(dataDir string) error {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil // not running
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return nil
	}
	// A stale file's pid may belong to another program by now.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err != nil || !strings.Contains(string(cmdline), dataDir) {
		return nil
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGQUIT} {
		if err := syscall.Kill(pid, sig); errors.Is(err, syscall.ESRCH) {
			return nil
		}
		for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
			if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
				return nil
			}
		}
	}
	return fmt.Errorf("PostgreSQL (pid %d) on %s did not stop", pid, dataDir)
}
