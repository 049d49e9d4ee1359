package agents_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/agents"
)

// TestDriftAgainstBroker shows the drift and the waiting stacks an agent reports in the list
// and in the agent's detail.
func TestDriftAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	eu := b.CreateAgent(t, "edge-eu-1", "eu-west", true)
	b.CreateAgent(t, "edge-us-1", "us-east", true)
	db := b.CreateStack(t, "db", eu.ID)
	web, err := b.Admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: db.GeneratorID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Agents().AddTarget(ctx, eu.ID, web.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Stacks().AddAnnotation(ctx, web.ID, client.AnnotationDependsOn, "db"); err != nil {
		t.Fatal(err)
	}
	dbObj := b.Post(t, db.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: data\ndata:\n  size: small\n", false)
	webObj := b.Post(t, web.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	report := func(obj uuid.UUID, typ, status string, msg any) {
		t.Helper()
		raw, err := json.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		if _, err := eu.Client.Agents().CreateEvent(ctx, eu.ID, client.NewAgentEvent{DeploymentObjectID: obj, EventType: typ, Status: status, Message: &text}); err != nil {
			t.Fatal(err)
		}
	}
	report(dbObj.ID, client.EventTypeDrift, client.DriftCorrected, client.DriftReport{Objects: []client.DriftedObject{
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "data", Name: "db", Paths: []string{"data.size"}}}})
	report(webObj.ID, client.EventTypeDependency, client.DependencyWaiting, client.DependencyReport{WaitingFor: []client.DependencyWait{
		{StackID: db.ID, StackName: "db", Reason: "latest object not applied"}}})

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), Ctx: ctx, RefreshEvery: 10 * time.Millisecond}
	v := agents.New(env)
	d := &viewtest.Driver{T: t, View: v, Reachable: true, Feed: viewtest.Types(agents.LoadedMsg{}, agents.DetailMsg{})}
	render := func() string { return ui.Plain(v.Render(120, 60)) }

	d.Run(v.Init())
	contains(t, render(), "DRIFT WAIT",
		"edge-eu-1                  eu-west            ACTIVE   never     -           1     1",
		"edge-us-1                  us-east            ACTIVE   never     -           -     -")

	d.Run(d.Key("enter"))
	contains(t, render(), "Drift and dependencies (2)", "db  CORRECTED", "data/ConfigMap/db: data.size",
		"web  waiting for db (latest object not applied)")
}
