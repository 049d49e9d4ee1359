package tui_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/brokertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// terminal is brokkrctl tui running in a tmux session of its own.
type terminal struct {
	t       *testing.T
	session string
	socket  string
}

// startTerminal builds brokkrctl and runs `brokkrctl tui` against the broker in a detached
// tmux session of width×height cells.
func startTerminal(t *testing.T, b *brokertest.Broker, width, height int, args ...string) *terminal {
	t.Helper()
	tmux, err := exec.LookPath("tmux")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tmux is not installed (.ci/run installs it)")
		}
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "brokkrctl")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/brokkr/brokkr/cmd/brokkrctl").CombinedOutput(); err != nil {
		t.Fatalf("build brokkrctl: %v\n%s", err, out)
	}
	term := &terminal{t: t, session: "tui", socket: filepath.Join(dir, "tmux.sock")}
	cmdline := fmt.Sprintf("env -i PATH=%q HOME=%q XDG_CONFIG_HOME=%q TERM=xterm-256color NO_COLOR=1 BROKKR_BROKER_URL=%q BROKKR_PAK=%q %q tui --refresh 1s %s",
		os.Getenv("PATH"), dir, dir, b.URL, b.AdminPAK, bin, strings.Join(args, " "))
	out, err := exec.Command(tmux, "-S", term.socket, "-f", "/dev/null", "new-session", "-d", "-s", term.session,
		"-x", fmt.Sprint(width), "-y", fmt.Sprint(height), cmdline).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command(tmux, "-S", term.socket, "kill-server").Run() })
	return term
}

// screen captures the visible screen as text.
func (term *terminal) screen() string {
	out, err := exec.Command("tmux", "-S", term.socket, "capture-pane", "-p", "-t", term.session).Output()
	if err != nil {
		term.t.Fatalf("capture-pane: %v", err)
	}
	return string(out)
}

// keys sends keys as tmux names them ("Enter", "Escape", "Tab", or literal text).
func (term *terminal) keys(keys ...string) {
	term.t.Helper()
	for _, k := range keys {
		if out, err := exec.Command("tmux", "-S", term.socket, "send-keys", "-t", term.session, k).CombinedOutput(); err != nil {
			term.t.Fatalf("send-keys %q: %v\n%s", k, err, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitFor waits until the screen contains every text, and returns it.
func (term *terminal) waitFor(texts ...string) string {
	term.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		s := term.screen()
		missing := ""
		for _, x := range texts {
			if !strings.Contains(s, x) {
				missing = x
				break
			}
		}
		if missing == "" {
			return s
		}
		if time.Now().After(deadline) {
			term.t.Fatalf("the screen never showed %q; it shows:\n%s", missing, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// capture saves the screen as a documentation capture when BROKKR_TUI_CAPTURES names a
// directory (see docs/tui.md).
func (term *terminal) capture(name, screen string) {
	if dir := os.Getenv("BROKKR_TUI_CAPTURES"); dir != "" {
		lines := strings.Split(strings.TrimRight(screen, "\n"), "\n")
		for i := range lines {
			lines[i] = strings.TrimRight(lines[i], " ")
		}
		_ = os.WriteFile(filepath.Join(dir, name+".txt"), []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}

var _ = context.Background
