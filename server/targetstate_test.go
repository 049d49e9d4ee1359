package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// targetState fetches an agent's target state with its own key; query is "" or "?mode=...".
func (e *env) targetState(a agentFixture, query string) []client.DeploymentObject {
	e.t.Helper()
	var out []client.DeploymentObject
	e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "target-state") + query, pak: a.pak}).decode(e.t, &out)
	for i := 1; i < len(out); i++ {
		if out[i].SequenceID >= out[i-1].SequenceID {
			e.t.Fatalf("target state not sorted by sequence_id descending: %d then %d", out[i-1].SequenceID, out[i].SequenceID)
		}
	}
	return out
}

// associated lists the stacks associated with an agent, checking they come sorted by id.
func (e *env) associated(a agentFixture) []uuid.UUID {
	e.t.Helper()
	var out []client.Stack
	e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "stacks"), pak: a.pak}).decode(e.t, &out)
	ids := stackIDs(out)
	if !slices.IsSortedFunc(ids, func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) }) {
		e.t.Fatalf("associated stacks not sorted by id: %v", ids)
	}
	return ids
}

func objectIDs(objs []client.DeploymentObject) []uuid.UUID {
	out := make([]uuid.UUID, len(objs))
	for i, o := range objs {
		out[i] = o.ID
	}
	return out
}

// wantObjects fails unless got holds exactly want, in this order.
func wantObjects(t testing.TB, got []client.DeploymentObject, want ...client.DeploymentObject) {
	t.Helper()
	if !slices.Equal(objectIDs(got), objectIDs(want)) {
		var g, w []string
		for _, o := range got {
			g = append(g, fmt.Sprintf("%s(seq %d)", o.ID, o.SequenceID))
		}
		for _, o := range want {
			w = append(w, fmt.Sprintf("%s(seq %d)", o.ID, o.SequenceID))
		}
		t.Fatalf("target state %v, want %v", g, w)
	}
}

func (e *env) addAgentLabel(a uuid.UUID, label string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: v1path("agents", a, "labels"), pak: e.admin, body: map[string]any{"agent_id": a, "label": label}})
}

func (e *env) addAgentAnnotation(a uuid.UUID, key, value string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: v1path("agents", a, "annotations"), pak: e.admin, body: map[string]any{"agent_id": a, "key": key, "value": value}})
}

func (e *env) addStackLabel(s uuid.UUID, label string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: v1path("stacks", s, "labels"), pak: e.admin, body: quoted(label), contentType: "application/json"})
}

func (e *env) addStackAnnotation(s uuid.UUID, key, value string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: v1path("stacks", s, "annotations"), pak: e.admin, body: map[string]any{"stack_id": s, "key": key, "value": value}})
}

func (e *env) addTarget(a, s uuid.UUID) client.AgentTarget {
	e.t.Helper()
	var t client.AgentTarget
	e.must(201, req{method: "POST", path: v1path("agents", a, "targets"), pak: e.admin, body: map[string]any{"agent_id": a, "stack_id": s}}).decode(e.t, &t)
	return t
}

func (e *env) reportEvent(a agentFixture, obj uuid.UUID, status string) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: v1path("agents", a.agent.ID, "events"), pak: a.pak, body: map[string]any{
		"agent_id": a.agent.ID, "deployment_object_id": obj, "event_type": "DEPLOY", "status": status}})
}

func TestAgentTargets(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	g2 := e.createGenerator("g2")
	s := e.createStack("s", g.gen.ID, g.pak)
	s2 := e.createStack("s2", g2.gen.ID, g2.pak)
	gone := e.createStack("gone", g.gen.ID, g.pak)
	e.must(204, req{method: "DELETE", path: v1path("stacks", gone.ID), pak: e.admin})
	a := e.createAgent("a", "c")
	other := e.createAgent("other", "c", g.gen.ID)
	targets := v1path("agents", a.agent.ID, "targets")
	body := func(agent, stack uuid.UUID) map[string]any {
		return map[string]any{"agent_id": agent, "stack_id": stack}
	}

	// Targeting needs the agent registered with the stack's generator, even for the admin.
	e.expectError(403, "agent_not_registered", req{method: "POST", path: targets, pak: e.admin, body: body(a.agent.ID, s.ID)})
	e.expectError(403, "agent_not_registered", req{method: "POST", path: targets, pak: g.pak, body: body(a.agent.ID, s.ID)})
	e.register(a.agent.ID, g.gen.ID)
	e.register(a.agent.ID, g2.gen.ID)

	r := e.must(201, req{method: "POST", path: targets, pak: g.pak, body: body(a.agent.ID, s.ID)})
	var tg client.AgentTarget
	r.decode(t, &tg)
	if tg.AgentID != a.agent.ID || tg.StackID != s.ID || tg.ID == uuid.Nil {
		t.Fatalf("target: %+v", tg)
	}
	t2 := e.addTarget(a.agent.ID, s2.ID)
	e.addTarget(other.agent.ID, s.ID)

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{name: "duplicate", body: body(a.agent.ID, s.ID), status: 409, code: "unique_violation"},
		{name: "unknown stack", body: body(a.agent.ID, uuid.New()), status: 404, code: "stack_not_found"},
		{name: "deleted stack", body: body(a.agent.ID, gone.ID), status: 404, code: "stack_not_found"},
		{name: "agent id mismatch", body: body(other.agent.ID, s.ID), status: 400, code: "agent_id_mismatch"},
		{name: "missing stack", body: map[string]any{"agent_id": a.agent.ID}, field: "stack_id"},
		{name: "missing agent", body: map[string]any{"stack_id": s.ID}, field: "agent_id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			r := req{method: "POST", path: targets, pak: e.admin, body: tc.body}
			switch {
			case tc.field != "":
				e.expectField(tc.field, r)
			case tc.status == 409:
				e.expectConstraint("unique_agent_stack", r)
			default:
				e.expectError(tc.status, tc.code, r)
			}
		})
	}

	var list []client.AgentTarget
	e.must(200, req{method: "GET", path: targets, pak: a.pak}).decode(t, &list)
	if len(list) != 2 || !sameIDs([]uuid.UUID{list[0].ID, list[1].ID}, []uuid.UUID{tg.ID, t2.ID}) {
		t.Fatalf("targets: %+v", list)
	}

	e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID, "targets", s2.ID), pak: e.admin})
	e.expectError(404, "agent_target_not_found", req{method: "DELETE", path: v1path("agents", a.agent.ID, "targets", s2.ID), pak: e.admin})
	e.expectError(404, "stack_not_found", req{method: "DELETE", path: v1path("agents", a.agent.ID, "targets", uuid.New()), pak: e.admin})
	e.addTarget(a.agent.ID, s2.ID)

	// Deregistering from a generator drops the agent's targets on that generator's stacks
	// only, and only the agent's own.
	e.must(204, req{method: "DELETE", path: v1path("generators", g.gen.ID, "register"), pak: e.admin, body: map[string]any{"agent_id": a.agent.ID}})
	list = nil
	e.must(200, req{method: "GET", path: targets, pak: a.pak}).decode(t, &list)
	if len(list) != 1 || list[0].StackID != s2.ID {
		t.Fatalf("targets after deregistering from g: %+v", list)
	}
	list = nil
	e.must(200, req{method: "GET", path: v1path("agents", other.agent.ID, "targets"), pak: e.admin}).decode(t, &list)
	if len(list) != 1 || list[0].StackID != s.ID {
		t.Fatalf("other agent's targets: %+v", list)
	}
	// Registering again does not bring the target back.
	e.register(a.agent.ID, g.gen.ID)
	if got := e.associated(a); !sameIDs(got, []uuid.UUID{s2.ID}) {
		t.Fatalf("associated after re-registering: %v", got)
	}
}

func TestTargetStateMatching(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	g2 := e.createGenerator("g2")
	a := e.createAgent("a", "c", g.gen.ID)
	bystander := e.createAgent("b", "c", g.gen.ID, g2.gen.ID)
	e.addAgentLabel(a.agent.ID, "env:prod")
	e.addAgentLabel(a.agent.ID, "tier:web")
	e.addAgentAnnotation(a.agent.ID, "region", "eu")
	e.addAgentAnnotation(a.agent.ID, "zone", "a")

	stack := func(name string, gen generatorFixture) client.Stack { return e.createStack(name, gen.gen.ID, gen.pak) }
	explicit := stack("explicit", g)
	byLabel := stack("by-label", g)
	byAnnotation := stack("by-annotation", g)
	wrongValue := stack("wrong-value", g)
	wrongKey := stack("wrong-key", g)
	keyAsLabel := stack("key-as-label", g)
	otherLabel := stack("other-label", g)
	empty := stack("empty", g)
	unregistered := stack("unregistered", g2)
	both := stack("both", g) // matched explicitly, by two labels and by two annotations at once

	e.addTarget(a.agent.ID, explicit.ID)
	e.addTarget(a.agent.ID, both.ID)
	e.addStackLabel(byLabel.ID, "env:prod")
	e.addStackAnnotation(byAnnotation.ID, "region", "eu")
	e.addStackAnnotation(wrongValue.ID, "region", "us")
	e.addStackAnnotation(wrongKey.ID, "area", "eu")
	e.addStackLabel(keyAsLabel.ID, "region")
	e.addStackLabel(otherLabel.ID, "env:dev")
	e.addStackLabel(empty.ID, "env:prod")
	e.addStackLabel(unregistered.ID, "env:prod")
	e.addStackLabel(both.ID, "env:prod")
	e.addStackLabel(both.ID, "tier:web")
	e.addStackAnnotation(both.ID, "region", "eu")
	e.addStackAnnotation(both.ID, "zone", "a")

	// Objects are posted out of stack order, so sequence order differs from creation order.
	obj := func(s client.Stack, gen generatorFixture, n int) client.DeploymentObject {
		return e.createObject(s.ID, gen.pak, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s-%d\n", s.Name, n))
	}
	byAnnotation1 := obj(byAnnotation, g, 1)
	explicit1 := obj(explicit, g, 1)
	byLabel1 := obj(byLabel, g, 1)
	for _, s := range []client.Stack{wrongValue, wrongKey, keyAsLabel, otherLabel} {
		obj(s, g, 1)
	}
	unregistered1 := obj(unregistered, g2, 1)
	explicit2 := obj(explicit, g, 2)
	both1 := obj(both, g, 1)
	byLabel2 := obj(byLabel, g, 2)

	t.Run("served stacks", func(t *testing.T) {
		e := e.withT(t)
		if got, want := e.associated(a), []uuid.UUID{explicit.ID, byLabel.ID, byAnnotation.ID, empty.ID, both.ID}; !sameIDs(got, want) || len(got) != len(want) {
			t.Fatalf("associated stacks %v, want %v", got, want)
		}
		// Latest object per stack, newest first, each stack once.
		wantObjects(t, e.targetState(a, ""), byLabel2, both1, explicit2, byAnnotation1)
		wantObjects(t, e.targetState(a, "?mode=full"), byLabel2, both1, explicit2, byAnnotation1)
		wantObjects(t, e.targetState(a, "?mode=incremental"), byLabel2, both1, explicit2, byAnnotation1)
		// The admin sees the same.
		var admin []client.DeploymentObject
		e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "target-state"), pak: e.admin}).decode(t, &admin)
		wantObjects(t, admin, byLabel2, both1, explicit2, byAnnotation1)
		var stacks []client.Stack
		e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "stacks"), pak: e.admin}).decode(t, &stacks)
		if len(stacks) != 5 {
			t.Fatalf("admin view of associated stacks: %d", len(stacks))
		}
		// Agents without labels, annotations or targets get nothing.
		if got := e.targetState(bystander, ""); len(got) != 0 {
			t.Fatalf("bystander served %d objects", len(got))
		}
		if got := e.associated(bystander); len(got) != 0 {
			t.Fatalf("bystander associated with %v", got)
		}
		_ = explicit1
		_ = byLabel1
	})

	t.Run("label matches need a registration", func(t *testing.T) {
		e := e.withT(t)
		e.register(a.agent.ID, g2.gen.ID)
		wantObjects(t, e.targetState(a, ""), byLabel2, both1, explicit2, unregistered1, byAnnotation1)
		if got := e.associated(a); !slices.Contains(got, unregistered.ID) {
			t.Fatalf("registered stack not associated: %v", got)
		}
		e.must(204, req{method: "DELETE", path: v1path("generators", g2.gen.ID, "register"), pak: a.pak, body: map[string]any{}})
		wantObjects(t, e.targetState(a, ""), byLabel2, both1, explicit2, byAnnotation1)
		// Deregistering from g drops label, annotation and explicit matches on g's stacks.
		e.must(204, req{method: "DELETE", path: v1path("generators", g.gen.ID, "register"), pak: a.pak, body: map[string]any{}})
		if got := e.targetState(a, "?mode=full"); len(got) != 0 {
			t.Fatalf("deregistered agent served %v", objectIDs(got))
		}
		if got := e.associated(a); len(got) != 0 {
			t.Fatalf("deregistered agent associated with %v", got)
		}
		e.register(a.agent.ID, g.gen.ID)
		wantObjects(t, e.targetState(a, ""), byLabel2, both1, byAnnotation1)
	})

	t.Run("labels and annotations can be removed", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("stacks", byLabel.ID, "labels", "env:prod"), pak: e.admin})
		e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID, "annotations", "region"), pak: e.admin})
		// both still matches through tier:web and zone=a.
		wantObjects(t, e.targetState(a, ""), both1)
	})
}

func TestTargetStateObjects(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	a := e.createAgent("a", "c", g.gen.ID)
	b := e.createAgent("b", "c", g.gen.ID)
	s1 := e.createStack("s1", g.gen.ID, g.pak)
	s2 := e.createStack("s2", g.gen.ID, g.pak)
	s3 := e.createStack("s3", g.gen.ID, g.pak)
	for _, s := range []uuid.UUID{s1.ID, s2.ID, s3.ID} {
		e.addTarget(a.agent.ID, s)
		e.addTarget(b.agent.ID, s)
	}
	o1 := e.createObject(s1.ID, g.pak, cmYAML)
	o2 := e.createObject(s2.ID, g.pak, cmYAML)
	o3 := e.createObject(s3.ID, g.pak, cmYAML)
	wantObjects(t, e.targetState(a, ""), o3, o2, o1)

	t.Run("incremental drops reported objects", func(t *testing.T) {
		e := e.withT(t)
		e.reportEvent(a, o1.ID, "SUCCESS")
		e.reportEvent(a, o2.ID, "FAILURE") // any status counts
		wantObjects(t, e.targetState(a, ""), o3)
		wantObjects(t, e.targetState(a, "?mode=other"), o3)
		wantObjects(t, e.targetState(a, "?mode=full"), o3, o2, o1)
		// Another agent's reports do not matter.
		wantObjects(t, e.targetState(b, ""), o3, o2, o1)
		// A newer object on a reported stack is served again.
		o1b := e.createObject(s1.ID, g.pak, cmYAML+"# v2\n")
		wantObjects(t, e.targetState(a, ""), o1b, o3)
		wantObjects(t, e.targetState(a, "?mode=full"), o1b, o3, o2)
		o1 = o1b
	})

	t.Run("deleted stacks are not served", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("stacks", s2.ID), pak: g.pak})
		wantObjects(t, e.targetState(b, "?mode=full"), o1, o3)
		if got := e.associated(b); !sameIDs(got, []uuid.UUID{s1.ID, s3.ID}) {
			t.Fatalf("associated after stack delete: %v", got)
		}
		// The stack's deletion marker exists and is live; it is not served because the
		// stack is gone.
		var markers int
		if err := e.db.GetContext(t.Context(), &markers, `SELECT count(*) FROM deployment_objects
			WHERE stack_id = $1 AND is_deletion_marker AND deleted_at IS NULL`, s2.ID); err != nil {
			t.Fatal(err)
		}
		if markers != 1 {
			t.Fatalf("stack delete left %d live markers, want 1", markers)
		}
	})

	t.Run("an explicit deletion marker is served", func(t *testing.T) {
		e := e.withT(t)
		var marker client.DeploymentObject
		e.must(201, req{method: "POST", path: v1path("stacks", s3.ID, "deployment-objects"), pak: g.pak,
			body: map[string]any{"yaml_content": "", "is_deletion_marker": true}}).decode(t, &marker)
		got := e.targetState(b, "")
		wantObjects(t, got, marker, o1)
		if !got[0].IsDeletionMarker || got[0].YAMLContent != "" {
			t.Fatalf("served marker: %+v", got[0])
		}
	})

	t.Run("stacks without objects contribute nothing", func(t *testing.T) {
		e := e.withT(t)
		s4 := e.createStack("s4", g.gen.ID, g.pak)
		e.addTarget(b.agent.ID, s4.ID)
		if got := e.associated(b); !slices.Contains(got, s4.ID) {
			t.Fatalf("s4 not associated: %v", got)
		}
		if got := e.targetState(b, "?mode=full"); len(got) != 2 {
			t.Fatalf("served %d objects, want 2", len(got))
		}
	})

	t.Run("deleting the generator removes everything", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("generators", g.gen.ID), pak: e.admin})
		if got := e.targetState(b, "?mode=full"); len(got) != 0 {
			t.Fatalf("served %v after generator delete", objectIDs(got))
		}
		if got := e.associated(b); len(got) != 0 {
			t.Fatalf("associated %v after generator delete", got)
		}
	})
}

func TestAgentRegistrationsAndUnknownAgents(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	gone := e.createAgent("gone", "c")
	e.must(204, req{method: "DELETE", path: v1path("agents", gone.agent.ID), pak: e.admin})

	// A new agent is registered with the system generator, and nothing else.
	sys := e.systemGeneratorID(a.agent.ID)
	var regs []client.AgentGeneratorRegistration
	r := e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "registrations"), pak: a.pak})
	r.decode(t, &regs)
	if len(regs) != 1 || regs[0].GeneratorID != sys || regs[0].AgentID != a.agent.ID {
		t.Fatalf("registrations: %+v", regs)
	}
	var raw []map[string]any
	r.decode(t, &raw)
	requireUTC(t, raw[0], "registered_at")

	// Empty results are JSON arrays, not null.
	for _, p := range []string{"target-state", "stacks", "targets", "events", "labels", "annotations"} {
		r := e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, p), pak: a.pak})
		if strings.TrimSpace(string(r.body)) != "[]" {
			t.Errorf("GET %s of a fresh agent: %s", p, r.body)
		}
	}

	for _, id := range []uuid.UUID{uuid.New(), gone.agent.ID} {
		for _, p := range []string{"target-state", "stacks", "registrations"} {
			e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", id, p), pak: e.admin})
		}
	}
}
