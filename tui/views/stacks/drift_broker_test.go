package stacks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/ui"
)

// TestDriftAgainstBroker shows a stack's drift and a stack waiting for it, as an agent
// reports them, in the list, the agents pane and the drift pane; drift reports never pass for
// the outcome of an apply.
func TestDriftAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := b.CreateAgent(t, "edge-1", "eu-west", true)
	db := b.CreateStack(t, "db", a.ID)
	web, err := b.Admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "web", GeneratorID: db.GeneratorID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Agents().AddTarget(ctx, a.ID, web.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Stacks().AddAnnotation(ctx, web.ID, client.AnnotationDependsOn, "db"); err != nil {
		t.Fatal(err)
	}
	dbObj := b.Post(t, db.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: db\n  namespace: data\ndata:\n  size: small\n", false)
	webObj := b.Post(t, web.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	event := func(obj uuid.UUID, typ, status string, msg any) {
		t.Helper()
		ev := client.NewAgentEvent{DeploymentObjectID: obj, EventType: typ, Status: status}
		if msg != nil {
			raw, err := json.Marshal(msg)
			if err != nil {
				t.Fatal(err)
			}
			ev.Message = new(string)
			*ev.Message = string(raw)
		}
		if _, err := a.Client.Agents().CreateEvent(ctx, a.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	event(dbObj.ID, client.EventTypeDeploy, "SUCCESS", nil)
	event(dbObj.ID, client.EventTypeDrift, client.DriftDrifted, client.DriftReport{Objects: []client.DriftedObject{
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: "data", Name: "db", Paths: []string{"data.size"}}}})
	event(webObj.ID, client.EventTypeDependency, client.DependencyWaiting, client.DependencyReport{WaitingFor: []client.DependencyWait{
		{StackID: db.ID, StackName: "db", Reason: "not healthy: degraded"}}})

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Hour, Ctx: ctx}
	v := New(env).(*Model)
	h := newHarness(t, v)
	v.Render(120, 30)
	h.run(v.Init())
	h.until("the list and its row details", func() bool {
		_, ok1 := v.extras[db.ID]
		_, ok2 := v.extras[web.ID]
		return v.loaded && ok1 && ok2
	})
	if ex := v.extras[db.ID]; ex.Drifted != 1 || ex.Waiting != 0 || ex.Err != nil {
		t.Errorf("db row details %+v", ex)
	}
	if ex := v.extras[web.ID]; ex.Drifted != 0 || ex.Waiting != 1 || ex.Err != nil {
		t.Errorf("web row details %+v", ex)
	}

	// Open db (it sorts first): its agent applied it; the drift report is no apply outcome.
	h.press("enter", "a")
	d := v.detail
	h.until("the detail and its agents", func() bool { return d.objLoaded && d.agentsOK && d.driftOK })
	if len(d.agents) != 1 || d.agents[0].Latest == nil || d.agents[0].Latest.Status != "SUCCESS" {
		t.Fatalf("agents %+v", d.agents)
	}
	out := ui.Plain(v.Render(120, 30))
	for _, want := range []string{"drift on 1 agent", "SUCCESS", "drifted: 1 object"} {
		if !strings.Contains(out, want) {
			t.Errorf("agents pane lacks %q:\n%s", want, out)
		}
	}
	h.press("d")
	out = ui.Plain(v.Render(120, 30))
	for _, want := range []string{"depends on no stack", "edge-1", "DRIFTED", "data/ConfigMap/db", "data.size"} {
		if !strings.Contains(out, want) {
			t.Errorf("drift pane lacks %q:\n%s", want, out)
		}
	}

	// web waits for db on edge-1.
	h.press("esc", "j", "enter", "d")
	d = v.detail
	if d == nil || d.stack.ID != web.ID {
		t.Fatalf("opened %+v", d)
	}
	h.until("the detail of web", func() bool { return d.objLoaded && d.driftOK && d.deps != nil })
	out = ui.Plain(v.Render(120, 30))
	for _, want := range []string{"waiting on 1 agent", "depends on db", "waiting edge-1 for db (not healthy: degraded)", "no drift"} {
		if !strings.Contains(out, want) {
			t.Errorf("drift pane of web lacks %q:\n%s", want, out)
		}
	}
}
