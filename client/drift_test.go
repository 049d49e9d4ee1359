package client_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// TestDriftAndDependencies: an agent reads its stacks' settings, reports waiting and drift
// as agent events, and the owner reads the stack's dependencies and current drift.
func TestDriftAndDependencies(t *testing.T) {
	b := newBroker(t)
	c := ctx(t)
	admin := b.client(b.admin)
	gen := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "g"}))(t)
	gc := b.client(gen.PAK)
	base := must(gc.Stacks().Create(c, client.CreateStackRequest{Name: "base", GeneratorID: gen.Generator.ID}))(t)
	app := must(gc.Stacks().Create(c, client.CreateStackRequest{Name: "app", GeneratorID: gen.Generator.ID}))(t)
	must(gc.Stacks().AddAnnotation(c, app.ID, client.AnnotationDependsOn, "base"))(t)
	must(gc.Stacks().AddAnnotation(c, app.ID, client.AnnotationDriftPolicy, client.DriftPolicyIgnore))(t)
	if _, err := gc.Stacks().AddAnnotation(c, base.ID, client.AnnotationDependsOn, "app"); !client.HasCode(err, "dependency_cycle") {
		t.Fatalf("cycle: %v", err)
	}
	obj := must(gc.Stacks().CreateDeploymentObject(c, app.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n", false))(t)
	ag := must(admin.Agents().Create(c, client.CreateAgentRequest{Name: "a", ClusterName: "c", GeneratorIDs: []uuid.UUID{gen.Generator.ID}}))(t)
	must(admin.Agents().AddTarget(c, ag.Agent.ID, app.ID))(t)
	ac := b.client(ag.InitialPAK)

	set := must(ac.Agents().StackSettings(c, ag.Agent.ID))(t)
	if len(set) != 1 || set[0].StackID != app.ID || set[0].StackName != "app" || set[0].DriftPolicy != client.DriftPolicyIgnore ||
		!slices.Equal(set[0].DependsOn, []uuid.UUID{base.ID}) {
		t.Fatalf("settings %+v", set)
	}

	report := func(typ, status string, v any) {
		t.Helper()
		msg, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		must(ac.Agents().CreateEvent(c, ag.Agent.ID, client.NewAgentEvent{DeploymentObjectID: obj.ID, EventType: typ, Status: status, Message: ptr(string(msg))}))(t)
	}
	wait := []client.DependencyWait{{StackID: base.ID, StackName: "base", Reason: "latest object not applied"}}
	report(client.EventTypeDependency, client.DependencyWaiting, client.DependencyReport{WaitingFor: wait})
	deps := must(gc.Stacks().Dependencies(c, app.ID))(t)
	if !slices.Equal(deps.DependsOn, []client.StackRef{{ID: base.ID, Name: "base"}}) || len(deps.Waiting) != 1 ||
		deps.Waiting[0].AgentID != ag.Agent.ID || !slices.Equal(deps.Waiting[0].WaitingFor, wait) {
		t.Fatalf("dependencies %+v", deps)
	}

	report(client.EventTypeDeploy, "SUCCESS", "applied")
	drifted := []client.DriftedObject{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "x", Paths: []string{"data.k"}}}
	report(client.EventTypeDrift, client.DriftDrifted, client.DriftReport{Objects: drifted})
	drift := must(gc.Stacks().Drift(c, app.ID))(t)
	if len(drift) != 1 || drift[0].AgentName != "a" || drift[0].Status != client.DriftDrifted || drift[0].DeploymentObjectID != obj.ID ||
		len(drift[0].Objects) != 1 || !slices.Equal(drift[0].Objects[0].Paths, []string{"data.k"}) {
		t.Fatalf("drift %+v", drift)
	}
	if deps := must(gc.Stacks().Dependencies(c, app.ID))(t); len(deps.Waiting) != 0 {
		t.Fatalf("waiting after applying: %+v", deps.Waiting)
	}
}
