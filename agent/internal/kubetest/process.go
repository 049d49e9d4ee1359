package kubetest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Process is a program started with its output in a log file: a cluster component, or a
// program a test or the demo runs beside the cluster.
type Process struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // the log file's path
	done chan struct{}
	err  error
}

// StartProcess runs path with args in a process group of its own, its output in
// DIR/NAME.log. env nil means this process's environment. The program gets deathSignal when
// this process dies (PR_SET_PDEATHSIG), so a killed run leaves nothing behind.
func StartProcess(dir, name string, env []string, deathSignal syscall.Signal, path string, args ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	// The program lives as long as its owner, not as long as any request context.
	cmd := exec.CommandContext(context.Background(), path, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: deathSignal, Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &Process{Name: name, Cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// Alive reports whether the program is still running.
func (p *Process) Alive() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Done is closed when the program has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the program ended (once Done is closed).
func (p *Process) Err() error { return p.err }

// Tail returns the last lines of the program's log, for error messages.
func (p *Process) Tail() string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 25 {
		lines = lines[len(lines)-25:]
	}
	return strings.Join(lines, "\n")
}
