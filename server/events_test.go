package server_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
)

type recorder struct {
	mu     sync.Mutex
	events []events.Event
}

func (r *recorder) record(ev events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, ev)
}

func (r *recorder) ofType(typ string) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, ev := range r.events {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

func TestWritesEmitEvents(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)

	g := e.createGenerator("ci")
	a := e.createAgent("a1", "c1", g.gen.ID)
	s := e.createStack("web", g.gen.ID, g.pak)
	e.must(201, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/targets", pak: g.pak,
		body: map[string]any{"agent_id": a.agent.ID, "stack_id": s.ID}})
	obj := e.createObject(s.ID, g.pak, cmYAML)
	msg := "applied"
	e.must(201, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/events", pak: a.pak,
		body: client.NewAgentEvent{AgentID: a.agent.ID, DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS", Message: &msg}})
	e.must(201, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/events", pak: a.pak,
		body: client.NewAgentEvent{AgentID: a.agent.ID, DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "FAILURE"}})
	e.must(204, req{method: "DELETE", path: "/api/v1/stacks/" + s.ID.String(), pak: g.pak})
	e.must(204, req{method: "DELETE", path: "/api/v1/agents/" + a.agent.ID.String(), pak: e.admin})
	e.must(204, req{method: "DELETE", path: "/api/v1/agents/" + a.agent.ID.String(), pak: e.admin}) // already gone: no event

	checks := []struct {
		typ   string
		count int
		data  map[string]any
	}{
		{events.AgentRegistered, 1, map[string]any{"agent_id": a.agent.ID, "name": "a1", "cluster_name": "c1", "status": "INACTIVE"}},
		{events.StackCreated, 1, map[string]any{"stack_id": s.ID, "name": "web"}},
		{events.DeploymentCreated, 1, map[string]any{"deployment_object_id": obj.ID, "stack_id": s.ID, "sequence_id": obj.SequenceID}},
		{events.DeploymentApplied, 1, map[string]any{"agent_id": a.agent.ID, "deployment_object_id": obj.ID, "status": "SUCCESS"}},
		{events.DeploymentFailed, 1, map[string]any{"agent_id": a.agent.ID, "status": "FAILURE"}},
		{events.StackDeleted, 1, map[string]any{"stack_id": s.ID}},
		{events.AgentDeregistered, 1, map[string]any{"agent_id": a.agent.ID}},
		{events.NoticeTargetChanged, 1, nil},
		{events.NoticeStackChanged, 1, nil},
	}
	for _, c := range checks {
		got := rec.ofType(c.typ)
		if len(got) != c.count {
			t.Errorf("%s: %d events, want %d", c.typ, len(got), c.count)
			continue
		}
		for k, want := range c.data {
			if v := got[0].Data[k]; v != want && !equalPtr(v, want) {
				t.Errorf("%s: data[%s] = %v (%T), want %v", c.typ, k, v, v, want)
			}
		}
	}
}

func equalPtr(v, want any) bool {
	switch p := v.(type) {
	case *string:
		return p != nil && *p == want
	}
	return false
}

// TestFailingEventHookLeavesNothingBehind: a write whose event cannot be recorded (e.g. its
// webhook deliveries) is rolled back whole.
func TestFailingEventHookLeavesNothingBehind(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("ci")
	e.srv.Bus().AddTxHook(func(ctx context.Context, q db.Queryer, ev events.Event) error {
		if ev.Type == events.StackCreated {
			return errors.New("delivery store unavailable")
		}
		return nil
	})
	e.expectError(500, "internal_error", req{method: "POST", path: "/api/v1/stacks", pak: g.pak,
		body: map[string]any{"name": "web", "generator_id": g.gen.ID}})
	var stacks []client.Stack
	e.must(200, req{method: "GET", path: "/api/v1/stacks", pak: g.pak}).decode(t, &stacks)
	if len(stacks) != 0 {
		t.Fatalf("stack written despite failed event: %+v", stacks)
	}
}
