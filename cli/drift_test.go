package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// report posts an agent event carrying msg as its JSON message.
func report(t *testing.T, ac *client.Client, agent, object uuid.UUID, typ, status string, msg any) {
	t.Helper()
	ev := client.NewAgentEvent{AgentID: agent, DeploymentObjectID: object, EventType: typ, Status: status}
	if msg != nil {
		raw, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		s := string(raw)
		ev.Message = &s
	}
	if _, err := ac.Agents().CreateEvent(context.Background(), agent, ev); err != nil {
		t.Fatalf("%s %s event: %v", typ, status, err)
	}
}

func TestStackDriftAndDependencies(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	gen, err := e.api.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	objects := map[string]client.DeploymentObject{}
	stacks := map[string]client.Stack{}
	agent, pak := e.agent("edge")
	if _, err := e.api.Generators().Register(ctx, gen.Generator.ID, &agent.ID); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"db", "web"} {
		st, err := e.api.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: gen.Generator.ID})
		if err != nil {
			t.Fatal(err)
		}
		e.name(st.ID, "stack-"+name)
		obj, err := e.api.Stacks().CreateDeploymentObject(ctx, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: "+name+"\n  namespace: apps\ndata:\n  k: v\n", false)
		if err != nil {
			t.Fatal(err)
		}
		e.name(obj.ID, "object-"+name)
		if _, err := e.api.Agents().AddTarget(ctx, agent.ID, st.ID); err != nil {
			t.Fatal(err)
		}
		stacks[name], objects[name] = st, obj
	}
	if _, err := e.api.Stacks().AddAnnotation(ctx, stacks["web"].ID, client.AnnotationDependsOn, "db"); err != nil {
		t.Fatalf("depends-on annotation: %v", err)
	}
	ac := e.agentClient(pak)

	// web waits for db; db is applied and drifted.
	report(t, ac, agent.ID, objects["web"].ID, client.EventTypeDependency, client.DependencyWaiting, client.DependencyReport{
		WaitingFor: []client.DependencyWait{{StackID: stacks["db"].ID, StackName: "db", Reason: "latest object not applied"}}})
	report(t, ac, agent.ID, objects["db"].ID, client.EventTypeDeploy, "SUCCESS", nil)
	drifted := client.DriftedObject{APIVersion: "v1", Kind: "ConfigMap", Namespace: "apps", Name: "db", Paths: []string{"data.k"}}
	report(t, ac, agent.ID, objects["db"].ID, client.EventTypeDrift, client.DriftDrifted, client.DriftReport{Objects: []client.DriftedObject{drifted}})

	e.golden("stack_drift_tty", e.run(true, "stack", "drift", "db"))
	e.golden("stack_drift_wide_notty", e.run(false, "stack", "drift", "db", "-o", "wide"))
	r := e.run(false, "stack", "drift", "db", "-o", "json")
	var drifts []client.StackDrift
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &drifts) != nil || len(drifts) != 1 || drifts[0].AgentID != agent.ID ||
		drifts[0].Status != client.DriftDrifted || len(drifts[0].Objects) != 1 || strings.Join(drifts[0].Objects[0].Paths, ",") != "data.k" {
		t.Fatalf("stack drift -o json: %+v", r)
	}
	if r := e.run(false, "stack", "drift", "db", "-o", "yaml"); r.code != 0 || !strings.Contains(r.stdout, "- data.k") || !strings.Contains(r.stdout, "status: DRIFTED") {
		t.Fatalf("stack drift -o yaml: %+v", r)
	}
	e.golden("stack_get_waiting_tty", e.run(true, "stack", "get", "web"))
	r = e.run(false, "stack", "get", "web", "-o", "json")
	var detail struct {
		client.Stack
		Dependencies *client.StackDependencies `json:"dependencies"`
	}
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &detail) != nil || detail.ID != stacks["web"].ID || detail.Dependencies == nil ||
		len(detail.Dependencies.DependsOn) != 1 || detail.Dependencies.DependsOn[0].Name != "db" ||
		len(detail.Dependencies.Waiting) != 1 || detail.Dependencies.Waiting[0].WaitingFor[0].Reason != "latest object not applied" {
		t.Fatalf("stack get -o json: %+v", r)
	}

	// An unknown dependency is refused when it is written.
	if r := e.run(false, "stack", "annotation", "add", "web", client.AnnotationDependsOn+"=nope"); r.code != cmdutil.ExitError || !strings.Contains(r.stderr, "unknown_dependency") {
		t.Fatalf("unknown dependency: %+v", r)
	}

	// Once the drift clears and web is applied, nothing is listed and the exit code stays 0.
	report(t, ac, agent.ID, objects["db"].ID, client.EventTypeDrift, client.DriftCleared, client.DriftReport{Objects: []client.DriftedObject{}})
	report(t, ac, agent.ID, objects["web"].ID, client.EventTypeDeploy, "SUCCESS", nil)
	e.golden("stack_drift_cleared_tty", e.run(true, "stack", "drift", "db"))
	e.golden("stack_get_applied_tty", e.run(true, "stack", "get", "web"))
	if r := e.run(false, "stack", "drift", "db", "-o", "json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("stack drift -o json without drift: %+v", r)
	}
}
