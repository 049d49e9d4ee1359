package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// windowFleet is two broker replicas on one controlled clock, a stack and agents targeting
// it. Writes go through the first, target state is read from both.
type windowFleet struct {
	e, r2  *env // the replicas on the controlled clock
	clock  *roClock
	gen    generatorFixture
	stack  client.Stack
	agents map[string]agentFixture
}

func newWindowFleet(t *testing.T, start time.Time, agents map[string][]string) *windowFleet {
	t.Helper()
	base := cachedEnv(t)
	clock := &roClock{now: start}
	withClock := func(o *server.Options) { o.Clock = clock.Now }
	e, r2 := base.replicaWith(withClock), base.replicaWith(withClock)
	startReplica(t, e.srv)
	startReplica(t, r2.srv)
	f := &windowFleet{e: e, r2: r2, clock: clock, agents: map[string]agentFixture{}}
	f.gen = e.createGenerator("win-gen")
	f.stack = e.createStack("win", f.gen.gen.ID, f.gen.pak)
	for name, labels := range agents {
		a := e.createAgent(name, "c-"+name, f.gen.gen.ID)
		for _, l := range labels {
			e.addAgentLabel(a.agent.ID, l)
		}
		e.must(201, req{method: "POST", path: v1path("agents", a.agent.ID, "targets"), pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "stack_id": f.stack.ID}})
		f.agents[name] = a
	}
	return f
}

func startReplica(t *testing.T, srv *server.Server) {
	t.Helper()
	start(t, srv)
	waitFor(t, "the replica's listener", srv.ListeningForTest)
}

func (f *windowFleet) post(content string, urgent bool) client.DeploymentObject {
	f.e.t.Helper()
	yaml := strings.Replace(cmYAML, "k: v", "k: "+content, 1)
	var out client.DeploymentObject
	f.e.must(201, req{method: "POST", path: v1path("stacks", f.stack.ID, "deployment-objects"), pak: f.gen.pak,
		body: map[string]any{"yaml_content": yaml, "urgent": urgent}}).decode(f.e.t, &out)
	return out
}

func (f *windowFleet) applied(agent string, obj client.DeploymentObject) {
	f.e.t.Helper()
	a := f.agents[agent]
	f.e.must(201, req{method: "POST", path: v1path("agents", a.agent.ID, "events"), pak: a.pak, body: map[string]any{
		"agent_id": a.agent.ID, "deployment_object_id": obj.ID, "event_type": "DEPLOY", "status": "SUCCESS", "message": "ok"}})
}

func (f *windowFleet) window(body map[string]any) client.ApplyWindow {
	f.e.t.Helper()
	var out client.ApplyWindow
	f.e.must(201, req{method: "POST", path: "/api/v1/apply-windows", pak: f.e.admin, body: body}).decode(f.e.t, &out)
	return out
}

// receives fails unless the agent's target state is want (nothing when want is nil) on both
// replicas, and returns the answer's Brokkr-Hold header (the same on both).
func (f *windowFleet) receives(agent string, want *client.DeploymentObject) string {
	f.e.t.Helper()
	a := f.agents[agent]
	var holds []string
	for _, r := range []*env{f.e, f.r2} {
		r.srv.SyncTargetState(context.Background()) // the other replica's writes
		got := r.poll(a, "?mode=full", "")
		var objs []client.DeploymentObject
		got.decode(f.e.t, &objs)
		if want == nil {
			wantObjects(f.e.t, objs)
		} else {
			wantObjects(f.e.t, objs, *want)
		}
		holds = append(holds, strings.Join(got.header.Values("Brokkr-Hold"), ", "))
	}
	if holds[0] != holds[1] {
		f.e.t.Fatalf("the replicas tell different holds: %q and %q", holds[0], holds[1])
	}
	return holds[0]
}

// TestDenyWindowHoldsNewObjects: while a deny window is open, the agents it selects keep the
// object they applied and are told what holds the new one until when; an urgent object
// passes; the window's closing (time alone, no write) releases the held object.
func TestDenyWindowHoldsNewObjects(t *testing.T) {
	monday9 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	f := newWindowFleet(t, monday9, map[string][]string{"prod-1": {"env=prod"}, "dev-1": {"env=dev"}})
	v1 := f.post("one", false)
	f.applied("prod-1", v1)
	f.applied("dev-1", v1)
	win := f.window(map[string]any{"name": "freeze", "schedule": "0 8 * * *", "duration": "4h", "kind": "deny",
		"selector": map[string]any{"labels": []string{"env=prod"}}})
	if !win.Open || win.NextCloseAt == nil || !win.NextCloseAt.Equal(monday9.Add(3*time.Hour)) {
		t.Fatalf("window at 09:00: %+v, want open until 12:00", win)
	}

	v2 := f.post("two", false)
	hold := f.receives("prod-1", &v1)
	wantHold := f.stack.ID.String() + "; object=" + v2.ID.String() + `; reason=window; window="freeze"; until=2026-12-07T12:00:00Z`
	if hold != wantHold {
		t.Fatalf("Brokkr-Hold = %q, want %q", hold, wantHold)
	}
	if hold := f.receives("dev-1", &v2); hold != "" {
		t.Fatalf("an agent the window does not select is held: %q", hold)
	}
	var holds []client.Hold
	f.e.must(200, req{method: "GET", path: v1path("agents", f.agents["prod-1"].agent.ID, "holds"), pak: f.e.admin}).decode(t, &holds)
	if len(holds) != 1 || holds[0].Reason != client.HoldWindow || holds[0].WindowName != "freeze" || holds[0].WindowID == nil ||
		*holds[0].WindowID != win.ID || holds[0].ServingObjectID == nil || *holds[0].ServingObjectID != v1.ID ||
		holds[0].Until == nil || !holds[0].Until.Equal(monday9.Add(3*time.Hour)) || holds[0].Wave != nil {
		t.Fatalf("agent holds = %+v", holds)
	}

	// Held from memory until the window closes; at 12:00 the same answer is out of date.
	f.clock.set(monday9.Add(2*time.Hour + 59*time.Minute))
	f.receives("prod-1", &v1)
	f.clock.set(monday9.Add(3 * time.Hour))
	if hold := f.receives("prod-1", &v2); hold != "" {
		t.Fatalf("after the window closed: %q", hold)
	}
	f.applied("prod-1", v2)

	// The next day's freeze holds v3, and an urgent v4 passes through it.
	f.clock.set(monday9.Add(24 * time.Hour))
	v3 := f.post("three", false)
	f.receives("prod-1", &v2)
	v4 := f.post("four", true)
	if !v4.Urgent || v3.Urgent {
		t.Fatalf("urgent flags: v3 %v, v4 %v", v3.Urgent, v4.Urgent)
	}
	if hold := f.receives("prod-1", &v4); hold != "" {
		t.Fatalf("urgent object held: %q", hold)
	}
	f.applied("prod-1", v4)
	v5 := f.post("five", false)
	f.receives("prod-1", &v4)

	// Deleting the window releases at once.
	f.e.must(204, req{method: "DELETE", path: v1path("apply-windows", win.ID), pak: f.e.admin})
	f.receives("prod-1", &v5)
}

// TestAllowWindowHoldsOutsideItsOpenings: an agent an allow window selects receives new
// objects only while it is open; a stack it never applied waits for the opening too.
func TestAllowWindowHoldsOutsideItsOpenings(t *testing.T) {
	monday9 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC) // 10:00 in Oslo
	f := newWindowFleet(t, monday9, map[string][]string{"eu-1": {"region=eu"}})
	f.window(map[string]any{"name": "nights", "schedule": "0 22 * * 1-5", "duration": "2h", "time_zone": "Europe/Oslo",
		"kind": "allow", "selector": map[string]any{"labels": []string{"region=eu"}}, "stack_ids": []uuid.UUID{f.stack.ID}})
	v1 := f.post("one", false)
	hold := f.receives("eu-1", nil)
	if !strings.Contains(hold, "object="+v1.ID.String()+`; reason=window; window="nights"; until=2026-12-07T21:00:00Z`) {
		t.Fatalf("a first object outside the allow window: hold %q, want it held until 22:00 Oslo", hold)
	}
	f.clock.set(time.Date(2026, 12, 7, 21, 30, 0, 0, time.UTC))
	f.receives("eu-1", &v1)
	f.applied("eu-1", v1)
	f.clock.set(time.Date(2026, 12, 7, 23, 0, 0, 0, time.UTC))
	v2 := f.post("two", false)
	hold = f.receives("eu-1", &v1)
	if !strings.Contains(hold, "until=2026-12-08T21:00:00Z") {
		t.Fatalf("after the opening: hold %q, want until the next evening", hold)
	}
	f.clock.set(time.Date(2026, 12, 8, 21, 0, 0, 0, time.UTC))
	f.receives("eu-1", &v2)
}
