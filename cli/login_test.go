package cli_test

import (
	"os"
	"strings"
	"testing"
)

func TestLoginAndConfigCommands(t *testing.T) {
	e := newEnv(t)
	agent, agentPAK := e.agent("edge")
	none := runOpts{env: map[string]string{}}

	r := e.runWith(none, "workorder", "list")
	if r.code != 4 || !strings.Contains(r.stderr, "no broker configured") {
		t.Fatalf("before login: %+v", r)
	}
	e.golden("login_bad_pak", e.runWith(none, "login", "--broker-url", e.url, "--pak", "brokkr_BRxxxxxxxx_notavalidkeyatallreally"))
	e.golden("login_admin", e.runWith(none, "login", "--broker-url", e.url, "--pak", e.admin, "--context", "main"))
	st, err := os.Stat(e.cfg)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("config file: %v, %v", st, err)
	}
	// The saved context is enough to use the broker.
	if r := e.runWith(none, "workorder", "list", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("list with saved context: %+v", r)
	}
	e.golden("login_agent_stdin", e.runWith(runOpts{env: map[string]string{"BROKKR_BROKER_URL": e.url}, stdin: agentPAK + "\n"}, "login", "--with-token", "--context", "edge"))
	t.Setenv("BROKKR_TEST_ADMIN_PAK", e.admin)
	e.golden("login_pak_command", e.runWith(none, "login", "--broker-url", e.url, "--pak-command", "printenv BROKKR_TEST_ADMIN_PAK", "--context", "cmd"))
	if r := e.runWith(none, "workorder", "list"); r.code != 0 {
		t.Fatalf("list through pak_command: %+v", r)
	}
	if r := e.runWith(runOpts{env: map[string]string{}}, "login", "--broker-url", e.url); r.code != 2 {
		t.Fatalf("login without PAK: %+v", r)
	}

	e.golden("config_get_contexts_tty", e.runWith(runOpts{tty: true, env: map[string]string{}}, "config", "get-contexts"))
	e.golden("config_get_contexts_notty", e.runWith(none, "config", "get-contexts"))
	e.golden("config_get_contexts_json", e.runWith(none, "config", "get-contexts", "-o", "json"))
	r = e.runWith(none, "config", "view")
	if strings.Contains(r.stdout, e.admin) || strings.Contains(r.stdout, agentPAK) {
		t.Fatalf("config view shows a PAK: %s", r.stdout)
	}
	e.golden("config_view", r)
	e.golden("config_current_context", e.runWith(none, "config", "current-context"))
	e.golden("config_use_context", e.runWith(none, "config", "use-context", "main"))
	e.golden("config_use_context_unknown", e.runWith(none, "config", "use-context", "nope"))
	if r := e.runWith(runOpts{env: map[string]string{"BROKKR_CONTEXT": "edge"}}, "config", "current-context"); strings.TrimSpace(r.stdout) != "edge" {
		t.Fatalf("BROKKR_CONTEXT: %+v", r)
	}
	// The agent's context is used with --context: the agent may not list work orders.
	if r := e.runWith(none, "--context", "edge", "workorder", "list"); r.code != 1 || !strings.Contains(r.stderr, "HTTP 403") {
		t.Fatalf("agent context: %+v", r)
	}
	_ = agent

	e.golden("version_check", e.runWith(none, "version", "--check"))
	if r := e.runWith(runOpts{env: map[string]string{}}, "--broker-url", "http://127.0.0.1:1", "version", "--check"); r.code != 1 || !strings.Contains(r.stdout, "unreachable") {
		t.Fatalf("version --check unreachable: %+v", r)
	}
	if r := e.runWith(none, "version"); r.code != 0 || !strings.HasPrefix(r.stdout, "brokkrctl ") || strings.Contains(r.stdout, "broker") {
		t.Fatalf("version: %+v", r)
	}

	e.golden("logout_current", e.runWith(none, "logout"))
	e.golden("logout_named", e.runWith(none, "logout", "--context", "edge"))
	e.golden("config_get_contexts_after_logout", e.runWith(none, "config", "get-contexts"))
	if r := e.runWith(none, "config", "current-context"); r.code != 1 {
		t.Fatalf("current-context after logout: %+v", r)
	}
}

func TestCompletionScripts(t *testing.T) {
	e := newEnv(t)
	for _, sh := range []string{"bash", "zsh", "fish", "powershell"} {
		r := e.run(false, "completion", sh)
		if r.code != 0 || !strings.Contains(r.stdout, "brokkrctl") {
			t.Fatalf("%s: %+v", sh, r)
		}
	}
	if r := e.run(false, "completion", "tcsh"); r.code != 2 {
		t.Fatalf("tcsh: %+v", r)
	}
	// Dynamic completion asks the broker.
	agent, _ := e.agent("edge")
	r := e.run(false, "__complete", "workorder", "create", "--agent", "")
	if r.code != 0 || !strings.Contains(r.stdout, agent.ID.String()+"\tedge (cluster-edge)") {
		t.Fatalf("agent completion: %+v", r)
	}
	// An unreachable broker yields no candidates and no error.
	r = e.runWith(runOpts{env: map[string]string{"BROKKR_BROKER_URL": "http://127.0.0.1:1", "BROKKR_PAK": e.admin}}, "__complete", "workorder", "get", "")
	if r.code != 0 || strings.Contains(r.stdout, "-") && !strings.HasPrefix(strings.TrimSpace(r.stdout), ":") {
		t.Fatalf("completion with broker down: %+v", r)
	}
}
