package cli_test

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/client"
)

func TestResourceCommands(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	e.name(gen.Generator.ID, "gen-ci")
	st, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	e.name(st.ID, "stack-web")
	first, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: blue\n", false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(first.ID, "object-1")
	second, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n", false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(second.ID, "object-2")
	agent, _ := e.agent("edge")
	if _, err := e.api.Generators().Register(ctx, gen.Generator.ID, &agent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.api.Agents().AddTarget(ctx, agent.ID, st.ID); err != nil {
		t.Fatal(err)
	}

	t.Run("golden", func(t *testing.T) {
		e := *e
		e.t = t
		e.golden("agent_list_tty", e.run(true, "agent", "list"))
		e.golden("agent_list_notty", e.run(false, "agents", "list"))
		e.golden("agent_list_generator_name", e.run(false, "agent", "list", "--generator", "ci", "-o", "name"))
		e.golden("agent_get_by_name_yaml", e.run(false, "agent", "get", "edge/cluster-edge", "-o", "yaml"))
		e.golden("agent_target_state_tty", e.run(true, "agent", "target-state", agent.ID.String()))
		e.golden("stack_list_wide_tty", e.run(true, "stack", "list", "-o", "wide"))
		e.golden("stack_objects_tty", e.run(true, "stack", "objects", "web"))
		e.golden("stack_objects_notty", e.run(false, "stack", "history", st.ID.String()))
		e.golden("stack_diff", e.run(false, "stack", "diff", "web"))
		e.golden("stack_diff_objects", e.run(false, "stack", "diff", second.ID.String(), first.ID.String()))
		e.golden("stack_get_not_found", e.run(false, "stack", "get", "nope"))
		e.golden("generator_list_tty", e.run(true, "generator", "list"))
		e.golden("object_get_yaml", e.run(false, "do", "get", second.ID.String(), "-o", "yaml"))
	})

	t.Run("generator create prints the PAK once", func(t *testing.T) {
		e := *e
		e.t = t
		r := e.run(false, "generator", "create", "--name", "deploy")
		if r.code != 0 || !regexp.MustCompile(`^brokkr_BR\S+\n$`).MatchString(r.stdout) || !strings.Contains(r.stderr, "shown only this once") {
			t.Fatalf("create: %+v", r)
		}
		r = e.run(false, "generator", "rotate-pak", "deploy", "-o", "json")
		var res client.GeneratorPAKResponse
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || !strings.HasPrefix(res.PAK, "brokkr_BR") || res.Generator.Name != "deploy" {
			t.Fatalf("rotate-pak -o json: %+v", r)
		}
	})

	t.Run("apply as admin needs --generator", func(t *testing.T) {
		e := *e
		e.t = t
		env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
		manifest := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: green\n"
		r := e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "not-there")
		if r.code != 1 || !strings.Contains(r.stderr, "--generator is required with an admin PAK to create stack \"not-there\"") {
			t.Fatalf("apply creating a stack without --generator: %+v", r)
		}
		r = e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "web", "--generator", "ci", "-o", "json")
		var res struct {
			Result           string                  `json:"result"`
			Stack            client.Stack            `json:"stack"`
			DeploymentObject client.DeploymentObject `json:"deployment_object"`
		}
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Result != "unchanged" || res.DeploymentObject.ID != second.ID || res.Stack.ID != st.ID {
			t.Fatalf("apply of the latest content: %+v", r)
		}
		// The stack exists now: an admin PAK applies to it without naming its generator.
		r = e.runWith(runOpts{env: env, stdin: manifest}, "stack", "apply", "-f", "-", "--stack", "web", "-o", "json")
		if r.code != 0 || json.Unmarshal([]byte(r.stdout), &res) != nil || res.Result != "unchanged" || res.Stack.ID != st.ID {
			t.Fatalf("admin apply to an existing stack without --generator: %+v", r)
		}
		other, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "other"})
		if err != nil {
			t.Fatal(err)
		}
		r = e.runWith(runOpts{env: map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": other.PAK}, stdin: manifest},
			"stack", "apply", "-f", "-", "--stack", "web", "--generator", "ci")
		if r.code != 1 || !strings.Contains(r.stderr, "not the generator of this PAK") {
			t.Fatalf("apply with a foreign --generator: %+v", r)
		}
	})

	t.Run("delete confirmation", func(t *testing.T) {
		e := *e
		e.t = t
		r := e.run(false, "stack", "delete", "web")
		if r.code != 2 || !strings.Contains(r.stderr, "--yes is required") {
			t.Fatalf("non-TTY delete without --yes: %+v", r)
		}
		env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
		r = e.runWith(runOpts{tty: true, env: env, stdin: "n\n"}, "agent", "delete", "edge/cluster-edge")
		if r.code != 2 {
			t.Fatalf("declined delete: %+v", r)
		}
		if _, err := e.api.Agents().Get(ctx, agent.ID); err != nil {
			t.Fatalf("declined delete removed the agent: %v", err)
		}
	})
}
