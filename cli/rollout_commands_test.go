package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
)

// brokerClock is the clock a test broker goes by, set by the test.
type brokerClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *brokerClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// newClockEnv is newEnv on a broker going by clk; brokkrctl's clock runs 2 h ahead of it, so
// ages in tables are stable.
func newClockEnv(t *testing.T, clk *brokerClock) *env {
	t.Helper()
	b := servertest.New(t, servertest.Options{Clock: clk.now, MaxConnections: 5})
	return &env{t: t, url: b.URL, admin: b.AdminPAK, api: b.Admin, cfg: filepath.Join(t.TempDir(), "brokkr", "config.yaml"),
		names: map[string]string{}, offset: time.Until(clk.now().Add(2 * time.Hour))}
}

// labelledStack creates a generator "ci" and its stack name carrying label, and returns the
// generator's id and the stack.
func (e *env) labelledStack(name, label string) (uuid.UUID, client.Stack) {
	e.t.Helper()
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		e.t.Fatal(err)
	}
	st, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: gen.Generator.ID})
	if err != nil {
		e.t.Fatal(err)
	}
	e.name(st.ID, "stack-"+name)
	if _, err := e.api.Stacks().AddLabel(ctx, st.ID, label); err != nil {
		e.t.Fatal(err)
	}
	return gen.Generator.ID, st
}

// fleetAgent creates an agent registered with gen, carrying labels, and returns it with a
// client holding its key.
func (e *env) fleetAgent(gen uuid.UUID, name string, labels ...string) (client.Agent, *client.Client) {
	e.t.Helper()
	ctx := context.Background()
	a, pak := e.agent(name)
	if _, err := e.api.Generators().Register(ctx, gen, &a.ID); err != nil {
		e.t.Fatal(err)
	}
	for _, l := range labels {
		if _, err := e.api.Agents().AddLabel(ctx, a.ID, l); err != nil {
			e.t.Fatal(err)
		}
	}
	return a, e.agentClient(pak)
}

// deployed reports, as the agent, that it applied the object.
func deployed(t *testing.T, c *client.Client, agent uuid.UUID, obj uuid.UUID) {
	t.Helper()
	if _, err := c.Agents().CreateEvent(context.Background(), agent, client.NewAgentEvent{AgentID: agent, DeploymentObjectID: obj,
		EventType: client.EventTypeDeploy, Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
}

// decode reads a command's JSON output, failing the test when it did not succeed.
func decode[T any](t *testing.T, r result) T {
	t.Helper()
	var v T
	if r.code != 0 {
		t.Fatalf("command failed: %+v", r)
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("decode %q: %v", r.stdout, err)
	}
	return v
}

// rolloutOf reads the stack's latest rollout through the API, waiting up to 10 s for it to
// reach status.
func (e *env) rolloutOf(stack uuid.UUID, status string) client.Rollout {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, err := e.api.Stacks().Rollout(context.Background(), stack)
		if err == nil && r.Status == status {
			return r
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("rollout of stack %s: %+v, %v; want status %s", stack, r, err, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// configMap is a manifest of one ConfigMap whose content differs by color.
func configMap(color string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  color: %s\n", color)
}

// TestRolloutCommands drives a progressive rollout from brokkrctl against a real broker: the
// policy set from flags and from a file, status, holds, promote, pause, resume, abort and the
// history, checking what each prints and what the broker did.
func TestRolloutCommands(t *testing.T) {
	clk := &brokerClock{t: time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)}
	e := newClockEnv(t, clk)
	ctx := context.Background()
	gen, st := e.labelledStack("web", "web")
	canary, canaryC := e.fleetAgent(gen, "canary", "web", "canary")
	edge1, edge1C := e.fleetAgent(gen, "edge-1", "web")
	edge2, edge2C := e.fleetAgent(gen, "edge-2", "web")
	v1, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, configMap("blue"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(v1.ID, "object-1")

	// The policy, from flags.
	pol := decode[client.RolloutPolicy](t, e.run(false, "stack", "rollout", "policy", "set", "web",
		"--wave", "canary=canary", "--pause", "manual", "--failure-threshold", "1", "-o", "json"))
	stored, err := e.api.Stacks().RolloutPolicy(ctx, st.ID)
	if err != nil || pol.StackID != st.ID || len(stored.Waves) != 1 || stored.Waves[0].Name != "canary" ||
		stored.Waves[0].Selector.Labels[0] != "canary" || stored.Pause != client.PauseManual || stored.FailureThreshold != "1" {
		t.Fatalf("stored policy %+v, %v", stored, err)
	}
	e.golden("rollout_policy_get_notty", e.run(false, "stack", "rollout", "policy", "get", "web"))
	if r := e.run(false, "stack", "rollout", "policy", "set", "web", "--wave", "canary=canary", "--gate", "ready"); r.code != cmdutil.ExitUsage {
		t.Fatalf("bad gate: %+v", r)
	}
	if r := e.run(false, "stack", "rollout", "status", "web"); r.code != 1 || !strings.Contains(r.stderr, "rollout_not_found") {
		t.Fatalf("status without a rollout: %+v", r)
	}

	// A new object starts a rollout: the canary gets it, the edges are held back.
	v2, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, configMap("green"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(v2.ID, "object-2")
	first := e.rolloutOf(st.ID, client.RolloutProgressing)
	e.name(first.ID, "rollout-1")
	e.golden("rollout_status_tty", e.run(true, "stack", "rollout", "status", "web"))
	e.golden("rollout_status_wide_notty", e.run(false, "stack", "rollout", "status", "web", "-o", "wide"))
	got := decode[client.Rollout](t, e.run(false, "stack", "rollout", "status", st.ID.String(), "-o", "json"))
	if got.ID != first.ID || got.CurrentWave != 0 || len(got.Waves) != 2 || got.Waves[0].Released != 1 || got.Waves[1].Agents != 2 {
		t.Fatalf("status -o json: %+v", got)
	}
	e.golden("stack_holds_rollout_tty", e.run(true, "stack", "holds", "web"))
	e.golden("stack_get_held_notty", e.run(false, "stack", "get", "web"))
	holds := decode[[]client.Hold](t, e.run(false, "agent", "holds", "edge-1/cluster-edge-1", "-o", "json"))
	if len(holds) != 1 || holds[0].AgentID != edge1.ID || holds[0].DeploymentObjectID != v2.ID || holds[0].Reason != client.HoldRollout ||
		holds[0].ServingObjectID == nil || *holds[0].ServingObjectID != v1.ID {
		t.Fatalf("agent holds: %+v", holds)
	}

	// The canary applies it; the manual pause waits for promote.
	deployed(t, canaryC, canary.ID, v2.ID)
	e.rolloutOf(st.ID, client.RolloutWaiting)
	if r := e.run(false, "stack", "rollout", "status", "web"); !strings.Contains(r.stdout, "Next wave at:  on promote\n") {
		t.Fatalf("waiting status: %+v", r)
	}
	e.golden("rollout_promote_notty", e.run(false, "stack", "rollout", "promote", "web"))
	if r := e.rolloutOf(st.ID, client.RolloutProgressing); r.CurrentWave != 1 || r.Waves[1].Released != 2 {
		t.Fatalf("after promote: %+v", r)
	}
	if hs, err := e.api.Stacks().Holds(ctx, st.ID); err != nil || len(hs) != 0 {
		t.Fatalf("holds after promote: %+v, %v", hs, err)
	}
	if r := e.run(true, "stack", "holds", "web"); r.code != 0 || r.stdout != "" || r.stderr != "No held objects found.\n" {
		t.Fatalf("stack holds without holds: %+v", r)
	}

	// Pause and resume; an action that does not apply is refused by the broker.
	if r := e.run(false, "stack", "rollout", "pause", "web"); r.code != 0 || !strings.Contains(r.stderr, "Paused the rollout of stack web: paused") {
		t.Fatalf("pause: %+v", r)
	}
	e.rolloutOf(st.ID, client.RolloutPaused)
	if r := e.run(false, "stack", "rollout", "promote", "web"); r.code != 1 || !strings.Contains(r.stderr, "invalid_rollout_state") {
		t.Fatalf("promote while paused: %+v", r)
	}
	if r := e.run(false, "stack", "rollout", "resume", "web", "-o", "name"); r.code != 0 || r.stdout != "rollout/"+first.ID.String()+"\n" {
		t.Fatalf("resume -o name: %+v", r)
	}
	e.rolloutOf(st.ID, client.RolloutProgressing)

	// Abort asks first.
	if r := e.run(false, "stack", "rollout", "abort", "web"); r.code != cmdutil.ExitUsage || !strings.Contains(r.stderr, "--yes is required") {
		t.Fatalf("abort without --yes: %+v", r)
	}
	env := map[string]string{"BROKKR_BROKER_URL": e.url, "BROKKR_PAK": e.admin}
	if r := e.runWith(runOpts{tty: true, env: env, stdin: "n\n"}, "stack", "rollout", "abort", "web"); r.code != cmdutil.ExitCancel ||
		!strings.Contains(r.stderr, "Abort the rollout of stack web?") {
		t.Fatalf("declined abort: %+v", r)
	}
	e.rolloutOf(st.ID, client.RolloutProgressing)
	// Watching after an abort the user asked for is no failure: it prints the aborted rollout
	// once and exits 0.
	if r := e.runWith(runOpts{tty: true, env: env, stdin: "y\n"}, "stack", "rollout", "abort", "web", "--watch", "--interval", "100ms"); r.code != 0 ||
		!strings.Contains(r.stdout, "Status:        aborted\n") {
		t.Fatalf("confirmed abort --watch: %+v", r)
	}
	e.rolloutOf(st.ID, client.RolloutAborted)
	r := e.run(false, "stack", "rollout", "status", "web", "--watch", "--interval", "100ms")
	if r.code != 1 || !strings.Contains(r.stdout, "Status:        aborted\n") || !strings.Contains(r.stderr, "was aborted") {
		t.Fatalf("watch of an aborted rollout: %+v", r)
	}

	// --watch follows a rollout to its end.
	v3, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, configMap("red"), false)
	if err != nil {
		t.Fatal(err)
	}
	e.name(v3.ID, "object-3")
	e.rolloutOf(st.ID, client.RolloutProgressing)
	w := e.start("stack", "rollout", "status", "web", "--watch", "--interval", "100ms")
	w.waitFor(t, "the watch to show the canary wave", nil, func(out string) bool { return strings.Contains(out, "Current wave:  0 (canary) of 2") })
	deployed(t, canaryC, canary.ID, v3.ID)
	e.rolloutOf(st.ID, client.RolloutWaiting)
	pw := e.start("stack", "rollout", "promote", "web", "--watch", "--interval", "100ms")
	pw.waitFor(t, "promote --watch to show the last wave", nil, func(out string) bool { return strings.Contains(out, "Current wave:  1 (remaining) of 2") })
	deployed(t, edge1C, edge1.ID, v3.ID)
	deployed(t, edge2C, edge2.ID, v3.ID)
	e.rolloutOf(st.ID, client.RolloutCompleted)
	for what, w := range map[string]*running{"status --watch": w, "promote --watch": pw} {
		select {
		case code := <-w.done:
			w.done <- code
			if code != 0 || !strings.Contains(w.out.String(), "Status:        completed\n") {
				t.Fatalf("%s ended with %d:\n%s\n%s", what, code, w.out, w.errOut)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not end after the rollout completed:\n%s", what, w.out)
		}
	}

	// The history, newest first.
	list := decode[[]client.Rollout](t, e.run(false, "stack", "rollout", "list", "web", "-o", "json"))
	if len(list) != 2 || list[0].DeploymentObjectID != v3.ID || list[0].Status != client.RolloutCompleted ||
		list[1].ID != first.ID || list[1].Status != client.RolloutAborted {
		t.Fatalf("rollout list: %+v", list)
	}
	e.name(list[0].ID, "rollout-2")
	e.golden("rollout_list_notty", e.run(false, "stack", "rollout", "history", "web"))

	// A policy printed as YAML is set on another stack; deleting asks first.
	other, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: "api", GeneratorID: gen})
	if err != nil {
		t.Fatal(err)
	}
	yml := e.run(false, "stack", "rollout", "policy", "get", "web", "-o", "yaml")
	if r := e.runWith(runOpts{env: env, stdin: yml.stdout}, "stack", "rollout", "policy", "set", "api", "-f", "-"); r.code != 0 {
		t.Fatalf("policy set -f -: %+v", r)
	}
	copied, err := e.api.Stacks().RolloutPolicy(ctx, other.ID)
	if err != nil || copied.StackID != other.ID || len(copied.Waves) != 1 || copied.Waves[0].Name != "canary" || copied.Pause != client.PauseManual {
		t.Fatalf("copied policy %+v, %v", copied, err)
	}
	if r := e.run(false, "stack", "rollout", "policy", "delete", "web"); r.code != cmdutil.ExitUsage {
		t.Fatalf("policy delete without --yes: %+v", r)
	}
	if r := e.run(false, "stack", "rollout", "policy", "delete", "web", "--yes"); r.code != 0 {
		t.Fatalf("policy delete: %+v", r)
	}
	if _, err := e.api.Stacks().RolloutPolicy(ctx, st.ID); !client.IsNotFound(err) {
		t.Fatalf("policy after delete: %v", err)
	}
}
