package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func TestWorkOrderCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	agent, _ := e.agent("edge")

	dir := t.TempDir()
	jobYAML := filepath.Join(dir, "job.yaml")
	if err := os.WriteFile(jobYAML, []byte("apiVersion: batch/v1\nkind: Job\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// Two orders through the CLI: flags, then a request file on stdin.
	r := e.run(false, "workorder", "create", "--type", "build", "--yaml-file", jobYAML, "--agent", agent.ID.String(), "-o", "json")
	if r.code != 0 {
		t.Fatalf("create: %+v", r)
	}
	var first client.WorkOrder
	if err := json.Unmarshal([]byte(r.stdout), &first); err != nil {
		t.Fatalf("create -o json: %v\n%s", err, r.stdout)
	}
	e.name(first.ID, "wo-build")
	e.golden("workorder_create_json", r)

	file := "work_type: custom\nyaml_content: |\n  kind: ConfigMap\nmax_retries: 1\ntargeting:\n  labels: [gpu]\n  annotations: {region: eu}\n"
	r = e.runWith(runOpts{env: map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}, stdin: file}, "wo", "create", "-f", "-", "-o", "name")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "workorder/") {
		t.Fatalf("create -f -: %+v", r)
	}
	second := uuid.MustParse(strings.TrimSpace(strings.TrimPrefix(r.stdout, "workorder/")))
	e.name(second, "wo-custom")
	e.golden("workorder_create_file_name", r)
	got, err := e.api.WorkOrders().Get(ctx, second)
	if err != nil || got.WorkType != "custom" || got.MaxRetries != 1 || got.YAMLContent != "kind: ConfigMap\n" {
		t.Fatalf("order created from the file: %+v, %v", got, err)
	}

	// Claim the build order so the table shows a claim.
	if _, err := e.api.WorkOrders().Claim(ctx, first.ID, agent.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("list", func(t *testing.T) {
		e := *e
		e.t = t
		for _, c := range []struct {
			name string
			tty  bool
			args []string
		}{
			{"workorder_list_tty", true, nil},
			{"workorder_list_notty", false, nil},
			{"workorder_list_wide_tty", true, []string{"-o", "wide"}},
			{"workorder_list_json", false, []string{"-o", "json"}},
			{"workorder_list_yaml", false, []string{"-o", "yaml"}},
			{"workorder_list_name", false, []string{"-o", "name"}},
			{"workorder_list_claimed_notty", false, []string{"--status", "claimed"}},
			{"workorder_list_type_tty", true, []string{"--type", "custom"}},
			{"workorder_list_empty_tty", true, []string{"--type", "nothing"}},
		} {
			e.golden(c.name, e.run(c.tty, append([]string{"workorder", "list"}, c.args...)...))
		}
	})

	t.Run("get", func(t *testing.T) {
		e := *e
		e.t = t
		e.golden("workorder_get_tty", e.run(true, "wo", "get", first.ID.String()))
		e.golden("workorder_get_notty", e.run(false, "wo", "get", first.ID.String()))
		e.golden("workorder_get_yaml", e.run(false, "wo", "get", second.String(), "-o", "yaml"))
		e.golden("workorder_get_not_found", e.run(false, "wo", "get", uuid.NewString()))
	})

	t.Run("watch", func(t *testing.T) {
		e := *e
		e.t = t
		wctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel()
		env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
		r := e.runWith(runOpts{ctx: wctx, env: env}, "wo", "list", "--watch", "--interval", "100ms", "--type", "custom")
		if r.code != 0 {
			t.Fatalf("watch: %+v", r)
		}
		// Not a terminal: the unchanged list is printed once.
		if n := strings.Count(r.stdout, "\n"); n != 1 {
			t.Fatalf("non-TTY watch printed %d lines, want 1:\n%s", n, r.stdout)
		}
		wctx2, cancel2 := context.WithTimeout(ctx, 700*time.Millisecond)
		defer cancel2()
		r = e.runWith(runOpts{ctx: wctx2, env: env, tty: true}, "wo", "list", "--watch", "--interval", "100ms", "--type", "custom")
		if r.code != 0 || strings.Count(r.stdout, "\x1b[H\x1b[2J") < 3 || strings.Count(r.stdout, "ID ") < 3 {
			t.Fatalf("TTY watch did not redraw: %+v", r)
		}
	})

	t.Run("log", func(t *testing.T) {
		e := *e
		e.t = t
		msg := "built"
		if _, err := e.api.WorkOrders().Complete(ctx, first.ID, client.CompleteWorkOrderRequest{Success: true, Message: &msg}); err != nil {
			t.Fatal(err)
		}
		e.golden("workorder_log_tty", e.run(true, "wo", "log"))
		e.golden("workorder_log_notty", e.run(false, "wo", "log", "--success", "--agent", agent.ID.String(), "--limit", "5"))
		e.golden("workorder_log_failed_tty", e.run(true, "wo", "log", "--success=false"))
		e.golden("workorder_log_get_json", e.run(false, "wo", "log", "get", first.ID.String(), "-o", "json"))
		e.golden("workorder_get_completed_tty", e.run(true, "wo", "get", first.ID.String()))
	})

	t.Run("delete", func(t *testing.T) {
		e := *e
		e.t = t
		e.golden("workorder_delete_notty_without_yes", e.run(false, "wo", "delete", second.String()))
		env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
		e.golden("workorder_delete_tty_declined", e.runWith(runOpts{tty: true, env: env, stdin: "n\n"}, "wo", "delete", second.String()))
		if _, err := e.api.WorkOrders().Get(ctx, second); err != nil {
			t.Fatalf("declined delete removed the order: %v", err)
		}
		e.golden("workorder_delete_tty_confirmed", e.runWith(runOpts{tty: true, env: env, stdin: "y\n"}, "wo", "delete", second.String()))
		if _, err := e.api.WorkOrders().Get(ctx, second); !client.IsNotFound(err) {
			t.Fatalf("order still there after delete: %v", err)
		}
		e.golden("workorder_delete_missing_yes", e.run(false, "wo", "delete", second.String(), "--yes"))
	})
}

func TestExitCodes(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		code       int
		stderr     string
		stdoutNone bool
	}{
		{name: "unknown flag", args: []string{"workorder", "list", "--bogus"}, code: 2, stderr: "unknown flag: --bogus", stdoutNone: true},
		{name: "unknown command", args: []string{"bogus"}, code: 2, stderr: `unknown command "bogus"`},
		{name: "unknown verb", args: []string{"workorder", "bogus"}, code: 2, stderr: `unknown command "bogus" for "brokkrctl workorder"`},
		{name: "bad output format", args: []string{"workorder", "list", "-o", "xml"}, code: 2, stderr: `invalid output format "xml"`},
		{name: "bad id", args: []string{"workorder", "get", "nope"}, code: 2, stderr: "not a UUID"},
		{name: "401", env: map[string]string{"BROKKR_PAK": "brokkr_BRxxxxxxxx_notavalidkeyatallreally"}, args: []string{"workorder", "list"}, code: 4, stderr: "hint: run brokkrctl login or set BROKKR_PAK", stdoutNone: true},
		{name: "no broker", env: map[string]string{"BROKKR_BROKER_URL": ""}, args: []string{"workorder", "list"}, code: 4, stderr: "no broker configured"},
		{name: "404", args: []string{"workorder", "get", uuid.NewString()}, code: 1, stderr: "work order not found", stdoutNone: true},
		{name: "403", args: []string{"workorder", "list"}, code: 1, stderr: "HTTP 403", stdoutNone: true},
	}
	_, agentPAK := e.agent("worker")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
			if tt.name == "403" {
				env["BROKKR_PAK"] = agentPAK
			}
			for k, v := range tt.env {
				env[k] = v
			}
			r := e.runWith(runOpts{env: env}, tt.args...)
			if int(r.code) != tt.code {
				t.Fatalf("exit %d, want %d: %+v", r.code, tt.code, r)
			}
			if !strings.Contains(r.stderr, tt.stderr) {
				t.Fatalf("stderr %q does not contain %q", r.stderr, tt.stderr)
			}
			if tt.stdoutNone && r.stdout != "" {
				t.Fatalf("stdout not empty: %q", r.stdout)
			}
			if strings.Count(r.stderr, "error:") != 1 {
				t.Fatalf("error not printed exactly once: %q", r.stderr)
			}
		})
	}
}
