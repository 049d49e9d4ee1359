package server_test

import (
	"encoding/json"
	"net/url"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// reportTyped posts an agent event of any type with a JSON message.
func (e *env) reportTyped(a agentFixture, obj uuid.UUID, typ, status string, message any) {
	e.t.Helper()
	msg, err := json.Marshal(message)
	if err != nil {
		e.t.Fatal(err)
	}
	e.must(201, req{method: "POST", path: v1path("agents", a.agent.ID, "events"), pak: a.pak, body: map[string]any{
		"agent_id": a.agent.ID, "deployment_object_id": obj, "event_type": typ, "status": status, "message": string(msg)}})
}

func (e *env) annotate(s uuid.UUID, key, pak, value string) resp {
	e.t.Helper()
	return e.do(req{method: "POST", path: v1path("stacks", s, "annotations"), pak: pak, body: map[string]any{"stack_id": s, "key": key, "value": value}})
}

func TestStackSettingsAnnotationsValidation(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	other := e.createGenerator("other")
	a := e.createStack("a", g.gen.ID, g.pak)
	b := e.createStack("b", g.gen.ID, g.pak)
	c := e.createStack("c", g.gen.ID, g.pak)
	foreign := e.createStack("foreign", other.gen.ID, other.pak)
	expect := func(status int, code string, s uuid.UUID, key, value string) resp {
		t.Helper()
		r := e.annotate(s, key, g.pak, value)
		if r.status != status || (code != "" && r.code() != code) {
			t.Fatalf("%s=%q on %s: %d %s, want %d %s", key, value, s, r.status, r.body, status, code)
		}
		return r
	}
	details := func(r resp, key string) []string {
		t.Helper()
		var body struct {
			Details map[string][]string `json:"details"`
		}
		r.decode(t, &body)
		return body.Details[key]
	}

	expect(400, "invalid_drift_policy", a.ID, client.AnnotationDriftPolicy, "fix")
	for i, p := range []string{"report", "correct", "ignore"} {
		expect(201, "", []uuid.UUID{a.ID, b.ID, c.ID}[i], client.AnnotationDriftPolicy, p)
	}

	r := expect(400, "unknown_dependency", a.ID, client.AnnotationDependsOn, "b, nope")
	if got := details(r, "unknown"); !slices.Equal(got, []string{"nope"}) {
		t.Fatalf("unknown %v", got)
	}
	r = expect(400, "unknown_dependency", a.ID, client.AnnotationDependsOn, uuid.NewString())
	if len(details(r, "unknown")) != 1 {
		t.Fatalf("unknown id: %s", r.body)
	}
	// Another generator's stack is unknown here, by name and by id.
	expect(400, "unknown_dependency", a.ID, client.AnnotationDependsOn, "foreign")
	expect(400, "unknown_dependency", a.ID, client.AnnotationDependsOn, foreign.ID.String())
	r = expect(400, "dependency_cycle", a.ID, client.AnnotationDependsOn, "a")
	if got := details(r, "cycle"); !slices.Equal(got, []string{"a", "a"}) {
		t.Fatalf("self cycle %v", got)
	}

	// a → b (by name), b → c (by id); c → a closes the cycle.
	expect(201, "", a.ID, client.AnnotationDependsOn, " b ")
	expect(201, "", b.ID, client.AnnotationDependsOn, c.ID.String())
	r = expect(400, "dependency_cycle", c.ID, client.AnnotationDependsOn, "a")
	if got := details(r, "cycle"); !slices.Equal(got, []string{"c", "a", "b", "c"}) {
		t.Fatalf("cycle %v", got)
	}
	// Once a no longer depends on b, c may depend on a.
	e.must(204, req{method: "DELETE", path: v1path("stacks", a.ID, "annotations", url.PathEscape(client.AnnotationDependsOn)), pak: g.pak})
	expect(201, "", c.ID, client.AnnotationDependsOn, "a")
	// Other annotations are not checked.
	expect(201, "", a.ID, "brokkr.io/other", "x, y")
}

func TestAgentStackSettings(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	db := e.createStack("db", g.gen.ID, g.pak)
	cache := e.createStack("cache", g.gen.ID, g.pak)
	web := e.createStack("web", g.gen.ID, g.pak)
	ag := e.createAgent("a", "c", g.gen.ID)
	stranger := e.createAgent("b", "c")
	e.addTarget(ag.agent.ID, web.ID)
	e.addTarget(ag.agent.ID, db.ID)
	e.addStackAnnotation(web.ID, client.AnnotationDependsOn, "db,"+cache.ID.String())
	e.addStackAnnotation(web.ID, client.AnnotationDriftPolicy, "correct")
	// A value written before validation existed (or by plain SQL) reads as report.
	e.whExec(`INSERT INTO stack_annotations (stack_id, key, value) VALUES ($1, $2, 'bogus')`, db.ID, client.AnnotationDriftPolicy)

	var got []client.StackSettings
	e.must(200, req{method: "GET", path: v1path("agents", ag.agent.ID, "stack-settings"), pak: ag.pak}).decode(t, &got)
	byName := map[string]client.StackSettings{}
	for _, s := range got {
		byName[s.StackName] = s
	}
	if len(got) != 2 {
		t.Fatalf("settings %+v, want web and db", got)
	}
	if w := byName["web"]; w.StackID != web.ID || w.DriftPolicy != "correct" || !slices.Equal(w.DependsOn, []uuid.UUID{db.ID, cache.ID}) {
		t.Fatalf("web %+v", w)
	}
	if d := byName["db"]; d.StackID != db.ID || d.DriftPolicy != "report" || d.DependsOn == nil || len(d.DependsOn) != 0 {
		t.Fatalf("db %+v", d)
	}
	e.must(200, req{method: "GET", path: v1path("agents", ag.agent.ID, "stack-settings"), pak: e.admin})
	e.must(403, req{method: "GET", path: v1path("agents", ag.agent.ID, "stack-settings"), pak: stranger.pak})
	e.expectError(404, "agent_not_found", req{method: "GET", path: v1path("agents", uuid.New(), "stack-settings"), pak: e.admin})
}

func TestDriftAndDependencyEvents(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	other := e.createGenerator("other")
	base := e.createStack("base", g.gen.ID, g.pak)
	st := e.createStack("app", g.gen.ID, g.pak)
	e.addStackAnnotation(st.ID, client.AnnotationDependsOn, "base")
	obj := e.createObject(st.ID, g.pak, cmYAML)
	a := e.createAgent("a", "c", g.gen.ID)
	b := e.createAgent("b", "c", g.gen.ID)
	e.addTarget(a.agent.ID, st.ID)
	e.addTarget(b.agent.ID, st.ID)
	sub := e.createWebhook(map[string]any{"name": "drift", "url": "http://127.0.0.1:1/x", "event_types": []string{"deployment.drifted", "deployment.applied", "deployment.failed"}})
	deliveries := func() []string {
		t.Helper()
		var types []string
		for _, d := range e.listDeliveries(sub.ID, "") {
			types = append(types, d.EventType)
		}
		slices.Sort(types)
		return types
	}
	pending := func(ag agentFixture) int64 {
		t.Helper()
		r, ok := e.fleetRecord(ag.agent.ID, "")
		if !ok {
			t.Fatal("agent not in the fleet")
		}
		return r.PendingObjectCount
	}
	deps := func() client.StackDependencies {
		t.Helper()
		var out client.StackDependencies
		e.must(200, req{method: "GET", path: v1path("stacks", st.ID, "dependencies"), pak: g.pak}).decode(t, &out)
		return out
	}
	drift := func() []client.StackDrift {
		t.Helper()
		var out []client.StackDrift
		e.must(200, req{method: "GET", path: v1path("stacks", st.ID, "drift"), pak: g.pak}).decode(t, &out)
		return out
	}

	if d := deps(); len(d.DependsOn) != 1 || d.DependsOn[0] != (client.StackRef{ID: base.ID, Name: "base"}) || len(d.Waiting) != 0 {
		t.Fatalf("dependencies %+v", d)
	}

	// Waiting: the object is still pending, still in the incremental target state, no webhook.
	wait := client.DependencyReport{WaitingFor: []client.DependencyWait{{StackID: base.ID, StackName: "base", Reason: "latest object not applied"}}}
	e.reportTyped(a, obj.ID, client.EventTypeDependency, client.DependencyWaiting, wait)
	if d := deps(); len(d.Waiting) != 1 || d.Waiting[0].AgentID != a.agent.ID || d.Waiting[0].AgentName != "a" ||
		!slices.Equal(d.Waiting[0].WaitingFor, wait.WaitingFor) || d.Waiting[0].Since.IsZero() {
		t.Fatalf("waiting %+v", d)
	}
	if n := pending(a); n != 1 {
		t.Fatalf("pending objects after WAITING: %d, want 1", n)
	}
	if ts := e.targetState(a, ""); len(ts) != 1 || ts[0].ID != obj.ID {
		t.Fatalf("incremental target state after WAITING: %+v", ts)
	}
	if got := deliveries(); len(got) != 0 {
		t.Fatalf("deliveries after WAITING: %v", got)
	}

	// Applied: no longer waiting.
	e.reportEvent(a, obj.ID, "SUCCESS")
	if d := deps(); len(d.Waiting) != 0 {
		t.Fatalf("still waiting after DEPLOY: %+v", d.Waiting)
	}
	if n := pending(a); n != 0 {
		t.Fatalf("pending objects after SUCCESS: %d", n)
	}

	// Drift: the deployment stays applied; deployment.drifted is emitted.
	rep := client.DriftReport{Objects: []client.DriftedObject{{APIVersion: "v1", Kind: "ConfigMap", Namespace: "default", Name: "demo", Paths: []string{"data.k"}}}}
	e.reportTyped(a, obj.ID, client.EventTypeDrift, client.DriftDrifted, rep)
	e.reportEvent(b, obj.ID, "SUCCESS")
	e.reportTyped(b, obj.ID, client.EventTypeDrift, client.DriftCorrected, rep)
	if n := pending(a); n != 0 {
		t.Fatalf("pending objects after DRIFT: %d", n)
	}
	if ts := e.targetState(a, ""); len(ts) != 0 {
		t.Fatalf("incremental target state after DRIFT: %+v", ts)
	}
	if got := deliveries(); !slices.Equal(got, []string{"deployment.applied", "deployment.applied", "deployment.drifted", "deployment.drifted"}) {
		t.Fatalf("deliveries %v", got)
	}
	got := drift()
	if len(got) != 2 || got[0].AgentID != a.agent.ID || got[0].Status != client.DriftDrifted || got[1].Status != client.DriftCorrected ||
		got[0].DeploymentObjectID != obj.ID || len(got[0].Objects) != 1 || !slices.Equal(got[0].Objects[0].Paths, []string{"data.k"}) ||
		got[0].ReportedAt.IsZero() {
		t.Fatalf("drift %+v", got)
	}

	// Cleared drift leaves the list and emits nothing.
	e.reportTyped(a, obj.ID, client.EventTypeDrift, client.DriftCleared, client.DriftReport{Objects: []client.DriftedObject{}})
	if got := drift(); len(got) != 1 || got[0].AgentID != b.agent.ID {
		t.Fatalf("drift after CLEARED %+v", got)
	}
	if got := deliveries(); len(got) != 4 {
		t.Fatalf("deliveries after CLEARED %v", got)
	}

	// A new deployment object starts without drift.
	e.createObject(st.ID, g.pak, cmYAML+"  k2: v2\n")
	if got := drift(); len(got) != 0 {
		t.Fatalf("drift of a new object %+v", got)
	}
	e.must(403, req{method: "GET", path: v1path("stacks", st.ID, "drift"), pak: other.pak})
	e.must(403, req{method: "GET", path: v1path("stacks", st.ID, "dependencies"), pak: a.pak})
}
