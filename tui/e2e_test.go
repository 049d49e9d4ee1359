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

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
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
func startTerminal(t *testing.T, b *servertest.Broker, width, height int, args ...string) *terminal {
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

// TestDashboardEndToEnd drives brokkrctl tui in a real terminal against a real broker on
// real PostgreSQL: it shows the seeded fleet, filters agents, opens a detail, requests
// diagnostics (played by the agent here) and sees the result, and quits.
func TestDashboardEndToEnd(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	edge1 := b.CreateAgent(t, "edge-1", "eu-west", true)
	edge2 := b.CreateAgent(t, "edge-2", "us-east", true)
	b.CreateAgent(t, "lab-1", "lab", false)
	web := b.CreateStack(t, "web", edge1.ID)
	api := b.CreateStack(t, "api", edge2.ID)
	obj := b.Post(t, web.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, namespace: shop}\ndata: {greeting: hello}\n", false)
	b.Post(t, api.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: api, namespace: shop}\n", false)
	msg := "applied 1 object(s)"
	if _, err := edge1.Client.Agents().CreateEvent(ctx, edge1.ID, client.NewAgentEvent{AgentID: edge1.ID, DeploymentObjectID: obj.ID,
		EventType: "DEPLOY", Status: "SUCCESS", Message: &msg}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom",
		YAMLContent: "apiVersion: batch/v1\nkind: Job\nmetadata: {name: migrate}\n", Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{edge1.ID}}}); err != nil {
		t.Fatal(err)
	}

	term := startTerminal(t, b, 120, 40)
	term.capture("overview", term.waitFor("1 Overview", "edge-1", "lab-1", "INACTIVE", "pending 1"))

	// Agents: filter, then open a detail.
	term.keys("2")
	term.capture("agents", term.waitFor("edge-1", "edge-2", "lab-1", "eu-west"))
	term.keys("/", "edge-2", "Enter")
	s := term.waitFor("edge-2", "us-east")
	if strings.Contains(s, "lab-1") || strings.Contains(s, "eu-west") {
		t.Fatalf("the filter did not hide the other agents:\n%s", s)
	}
	term.keys("Enter")
	term.capture("agent-detail", term.waitFor("edge-2", "api"))
	term.keys("Escape", "Escape")

	term.keys("3")
	term.capture("stacks", term.waitFor("web", "api"))
	term.keys("4")
	term.capture("work-orders", term.waitFor("custom", "PENDING"))

	// Diagnostics: pick edge-1 and its object, request, play the agent, see the result.
	term.keys("5")
	term.waitFor("pick an agent", "edge-1")
	term.keys("/", "edge-1", "Enter", "Enter")
	term.waitFor("web")
	term.keys("Enter")
	var req client.DiagnosticRequest
	deadline := time.Now().Add(15 * time.Second)
	for {
		pending, err := edge1.Client.Diagnostics().Pending(ctx, edge1.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 1 {
			req = pending[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no diagnostic request reached the broker; the screen shows:\n%s", term.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if req.DeploymentObjectID != obj.ID {
		t.Fatalf("diagnostics requested for %s, want %s", req.DeploymentObjectID, obj.ID)
	}
	if _, err := edge1.Client.Diagnostics().Claim(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	logs := `{"web-7d9c5b-x2k4p/web":"listening on :8080"}`
	if _, err := edge1.Client.Diagnostics().SubmitResult(ctx, req.ID, client.SubmitDiagnosticResult{
		PodStatuses: `[{"name":"web-7d9c5b-x2k4p","namespace":"shop","phase":"Running","conditions":[],"containers":[{"name":"web","ready":true,"restart_count":2,"state":"Running","state_reason":null,"state_message":null}]}]`,
		Events:      `[{"event_type":"Warning","reason":"BackOff","message":"Back-off restarting failed container","involved_object":"web-7d9c5b-x2k4p","involved_object_kind":"Pod","first_timestamp":null,"last_timestamp":null,"count":3}]`,
		LogTails:    &logs, CollectedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	term.capture("diagnostics", term.waitFor("web-7d9c5b-x2k4p", "Running"))
	term.keys("e")
	term.waitFor("BackOff")
	term.keys("l")
	term.waitFor("listening on :8080")

	term.keys("6")
	term.waitFor("Webhooks")
	term.keys("7")
	term.capture("audit", term.waitFor("agent.created"))
	term.keys("8")
	term.waitFor("0 rollouts", "no rollout under way")
	term.keys("?")
	term.capture("help", term.waitFor("Everywhere", "go to view"))
	term.keys("Escape", "q")
	deadline = time.Now().Add(10 * time.Second)
	for exec.Command("tmux", "-S", term.socket, "has-session", "-t", term.session).Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not end the dashboard:\n%s", term.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
