package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// roT0 is the time the rollout tests start at.
var roT0 = time.Date(2031, 3, 4, 5, 6, 7, 0, time.UTC)

// roFleet is a stack of one generator with agents associated by label, served by two
// replicas that share a controlled clock.
type roFleet struct {
	t      *testing.T
	r1, r2 *env
	clock  *roClock
	gen    generatorFixture
	stack  client.Stack
	agents map[string]agentFixture
	seq    int
}

// newRoFleet creates the fleet: each agent is registered with the generator and carries the
// stack's label "fleet" plus its own labels.
func newRoFleet(t *testing.T, agents map[string][]string) *roFleet {
	e := newEnv(t, withWebhookKey)
	clock := &roClock{now: roT0}
	withClock := func(o *server.Options) { o.Clock = clock.Now }
	f := &roFleet{t: t, r1: e.replicaWith(withClock), r2: e.replicaWith(withClock), clock: clock, agents: map[string]agentFixture{}}
	f.gen = f.r1.createGenerator("ci")
	f.stack = f.r1.createStack("web", f.gen.gen.ID, f.gen.pak)
	f.r1.addStackLabel(f.stack.ID, "fleet")
	for name, labels := range agents {
		a := f.r1.createAgent(name, "c-"+name, f.gen.gen.ID)
		for _, l := range append([]string{"fleet"}, labels...) {
			f.r1.addAgentLabel(a.agent.ID, l)
		}
		f.agents[name] = a
	}
	return f
}

// post posts a new deployment object to the stack through replica via.
func (f *roFleet) post(via *env) client.DeploymentObject {
	f.t.Helper()
	f.seq++
	return via.createObject(f.stack.ID, f.gen.pak, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  v: \"%d\"\n", f.seq))
}

func (f *roFleet) setPolicy(via *env, policy map[string]any) client.RolloutPolicy {
	f.t.Helper()
	var out client.RolloutPolicy
	via.must(200, req{method: "PUT", path: v1path("stacks", f.stack.ID, "rollout-policy"), pak: f.gen.pak, body: policy}).decode(f.t, &out)
	return out
}

func (f *roFleet) rollout(via *env) client.Rollout {
	f.t.Helper()
	var out client.Rollout
	via.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "rollout"), pak: f.gen.pak}).decode(f.t, &out)
	return out
}

func (f *roFleet) act(via *env, action string) client.Rollout {
	f.t.Helper()
	var out client.Rollout
	via.must(200, req{method: "POST", path: v1path("stacks", f.stack.ID, "rollout", action), pak: f.gen.pak}).decode(f.t, &out)
	return out
}

// step runs the rollout controller once on each replica.
func (f *roFleet) step() {
	f.t.Helper()
	for _, r := range []*env{f.r1, f.r2} {
		if !r.srv.RunWorkerOnce(context.Background(), "rollout-controller") {
			f.t.Fatal("the rollout controller did not run")
		}
	}
}

// settled returns the rollout as replica via serves it once cond holds: the steps taken after
// agents' reports land within a moment (reports in quick succession share a deferred step).
func (f *roFleet) settled(via *env, what string, cond func(client.Rollout) bool) client.Rollout {
	f.t.Helper()
	var r client.Rollout
	waitFor(f.t, what, func() bool {
		r = f.rollout(via)
		return cond(r)
	})
	return r
}

// deploy posts the agent's DEPLOY event on obj through replica via, as the agent does.
func (f *roFleet) deploy(via *env, name string, obj uuid.UUID, status string) {
	f.t.Helper()
	via.reportEvent(f.agents[name], obj, status)
}

// health reports the agent's deployment health of obj through replica via.
func (f *roFleet) health(via *env, name string, obj uuid.UUID, status string) {
	f.t.Helper()
	via.reportHealth(f.agents[name], healthItem(obj, status, time.Now(), nil))
}

// released returns the names of the agents the rollout released its object to, sorted.
func released(r client.Rollout) []string {
	var out []string
	for _, a := range r.Agents {
		if a.ReleasedAt != nil {
			out = append(out, a.AgentName)
		}
	}
	slices.Sort(out)
	return out
}

// storedReleases returns the names of the agents with a rollout_agents row of the rollout.
func (f *roFleet) storedReleases(rollout uuid.UUID) []string {
	f.t.Helper()
	var out []string
	if err := f.r1.db.Select(&out, `SELECT a.name FROM rollout_agents r JOIN agents a ON a.id = r.agent_id
		WHERE r.rollout_id = $1 ORDER BY a.name`, rollout); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func wantStrings(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

func wantStatus(t *testing.T, r client.Rollout, status string, wave int) {
	t.Helper()
	if r.Status != status || r.CurrentWave != wave {
		t.Fatalf("rollout %s at wave %d, want %s at wave %d (reason %q)", r.Status, r.CurrentWave, status, wave, r.Reason)
	}
}

func names(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprint(prefix, i))
	}
	return out
}

// TestRolloutThreeWavesInOrder: nine agents in three waves by label; a healthy gate, a timed
// pause and a manual one; two replicas stepping the controller and serving the agents.
func TestRolloutThreeWavesInOrder(t *testing.T) {
	agents := map[string][]string{}
	for i := 1; i <= 9; i++ {
		agents[fmt.Sprint("a", i)] = []string{[]string{"canary", "early", "late"}[(i-1)/3]}
	}
	f := newRoFleet(t, agents)
	// Labelled like the fleet but not registered with the stack's generator: not an agent
	// of the stack.
	stranger := f.r1.createAgent("stranger", "c-x")
	f.r1.addAgentLabel(stranger.agent.ID, "fleet")

	v1 := f.post(f.r1)
	f.r1.expectError(404, "rollout_not_found", req{method: "GET", path: v1path("stacks", f.stack.ID, "rollout"), pak: f.gen.pak})
	for i := 1; i <= 9; i++ {
		f.deploy(f.r2, fmt.Sprint("a", i), v1.ID, "SUCCESS")
	}

	pol := f.setPolicy(f.r1, map[string]any{"pause": "10m", "waves": []map[string]any{
		{"name": "canary", "selector": map[string]any{"labels": []string{"canary"}}, "gate": "healthy"},
		{"name": "early", "selector": map[string]any{"labels": []string{"early"}}, "pause": "manual"},
		{"name": "late", "selector": map[string]any{"labels": []string{"late"}}},
	}})
	if pol.StackID != f.stack.ID || pol.Gate != "applied" || pol.FailureThreshold != "0" || pol.CreatedAt.IsZero() {
		t.Fatalf("stored policy %+v", pol)
	}

	v2 := f.post(f.r1)
	r := f.rollout(f.r2)
	wantStatus(t, r, "progressing", 0)
	if r.DeploymentObjectID != v2.ID || r.PreviousObjectID == nil || *r.PreviousObjectID != v1.ID || !r.CreatedAt.Equal(roT0) {
		t.Fatalf("rollout %+v", r)
	}
	if len(r.Agents) != 9 || len(r.Waves) != 4 || r.Waves[3].Name != "remaining" || r.Waves[3].Agents != 0 {
		t.Fatalf("rollout has %d agents, waves %+v", len(r.Agents), r.Waves)
	}
	wantStrings(t, "released at start", released(r), names("a", 1, 3)...)
	wantStrings(t, "stored releases", f.storedReleases(r.ID), names("a", 1, 3)...)

	// Target state: a released agent receives the new object, the others the one before.
	wantObjects(t, f.r2.targetState(f.agents["a1"], "?mode=full"), v2)
	wantObjects(t, f.r1.targetState(f.agents["a4"], "?mode=full"), v1)

	for i := 1; i <= 3; i++ {
		via := []*env{f.r1, f.r2}[i%2]
		f.deploy(via, fmt.Sprint("a", i), v2.ID, "SUCCESS")
	}
	f.step()
	r = f.rollout(f.r1)
	wantStatus(t, r, "progressing", 0)
	wantStrings(t, "released before the canary is healthy", released(r), names("a", 1, 3)...)
	if w := r.Waves[0]; w.Applied != 3 || w.Passed != 0 || w.State != "in_progress" {
		t.Fatalf("canary %+v", w)
	}

	f.clock.at(time.Minute)
	for i := 1; i <= 3; i++ {
		f.health([]*env{f.r1, f.r2}[i%2], fmt.Sprint("a", i), v2.ID, "healthy")
	}
	r = f.settled(f.r2, "the canary to complete", func(r client.Rollout) bool { return r.Waves[0].State == "complete" })
	if w := r.Waves[0]; w.State != "complete" || w.Passed != 3 || !w.CompletedAt.Equal(roT0.Add(time.Minute)) {
		t.Fatalf("canary %+v", w)
	}
	if r.NextWaveAt == nil || !r.NextWaveAt.Equal(roT0.Add(11*time.Minute)) {
		t.Fatalf("next wave at %v", r.NextWaveAt)
	}
	wantStrings(t, "released during the pause", released(r), names("a", 1, 3)...)

	f.clock.at(10*time.Minute + 59*time.Second)
	f.step()
	wantStrings(t, "released before the pause ends", released(f.rollout(f.r1)), names("a", 1, 3)...)

	f.clock.at(11 * time.Minute)
	f.step()
	r = f.rollout(f.r1)
	wantStatus(t, r, "progressing", 1)
	wantStrings(t, "released after the pause", released(r), names("a", 1, 6)...)
	for _, a := range r.Agents {
		if a.Wave == 1 && !a.ReleasedAt.Equal(roT0.Add(11*time.Minute)) {
			t.Fatalf("%s released at %v", a.AgentName, a.ReleasedAt)
		}
	}
	wantObjects(t, f.r1.targetState(f.agents["a4"], "?mode=full"), v2)
	wantObjects(t, f.r2.targetState(f.agents["a7"], "?mode=full"), v1)

	for i := 4; i <= 6; i++ {
		f.deploy(f.r2, fmt.Sprint("a", i), v2.ID, "SUCCESS")
	}
	f.clock.at(5 * time.Hour)
	f.step()
	r = f.rollout(f.r1)
	wantStatus(t, r, "waiting", 1)
	wantStrings(t, "released while waiting for promote", released(r), names("a", 1, 6)...)

	r = f.act(f.r2, "promote")
	wantStatus(t, r, "progressing", 2)
	wantStrings(t, "released by promote", released(r), names("a", 1, 9)...)
	for i := 7; i <= 9; i++ {
		f.deploy(f.r1, fmt.Sprint("a", i), v2.ID, "SUCCESS")
	}
	// The last wave with agents completes the rollout: no pause before the empty implicit wave.
	r = f.settled(f.r2, "the rollout to complete", func(r client.Rollout) bool { return r.Status == "completed" })
	wantStatus(t, r, "completed", 3)
	if r.NextWaveAt != nil || r.FinishedAt == nil || !r.FinishedAt.Equal(roT0.Add(5*time.Hour)) ||
		r.Waves[2].State != "complete" || r.Waves[3].State != "complete" {
		t.Fatalf("completed rollout %+v", r)
	}
	wantObjects(t, f.r1.targetState(f.agents["a9"], "?mode=full"), v2)
	if got := f.r2.auditRows("rollout.promoted"); len(got) != 1 || got[0].ResourceID == nil || *got[0].ResourceID != r.ID {
		t.Fatalf("promote audit %+v", got)
	}
	// The controller changes nothing more.
	f.step()
	if again := f.rollout(f.r1); again.Status != "completed" || !slices.Equal(released(again), released(r)) {
		t.Fatalf("after completion %+v", again)
	}
}

// TestRolloutMaxUnavailable: a wave releases at most max_unavailable agents that have not
// passed or failed yet, by agent name.
func TestRolloutMaxUnavailable(t *testing.T) {
	agents := map[string][]string{}
	for i := 1; i <= 5; i++ {
		agents[fmt.Sprint("b", i)] = []string{"all"}
	}
	f := newRoFleet(t, agents)
	f.setPolicy(f.r2, map[string]any{"failure_threshold": "50%", "waves": []map[string]any{
		{"name": "all", "selector": map[string]any{"labels": []string{"all"}}, "max_unavailable": 2},
	}})
	obj := f.post(f.r1)
	r := f.rollout(f.r1)
	wantStrings(t, "first batch", released(r), "b1", "b2")
	if r.FailureLimit != 2 {
		t.Fatalf("failure limit %d, want 2 (50%% of 5)", r.FailureLimit)
	}
	f.step()
	wantStrings(t, "after a step", released(f.rollout(f.r2)), "b1", "b2")
	f.deploy(f.r2, "b2", obj.ID, "SUCCESS")
	wantStrings(t, "b2 passed", released(f.rollout(f.r1)), "b1", "b2", "b3")
	f.deploy(f.r1, "b1", obj.ID, "FAILURE")
	r = f.rollout(f.r1)
	wantStrings(t, "a failure frees its slot", released(r), "b1", "b2", "b3", "b4")
	wantStatus(t, r, "progressing", 0)
	for _, a := range r.Agents {
		if a.AgentName == "b1" && (a.State != "failed" || r.Failures != 1) {
			t.Fatalf("b1 %+v, failures %d", a, r.Failures)
		}
	}
}

// TestRolloutHaltResumeAbort: a failure past the threshold halts the rollout and queues a
// rollout.halted delivery; resume counts only new failures; abort ends it.
func TestRolloutHaltResumeAbort(t *testing.T) {
	f := newRoFleet(t, map[string][]string{"c1": {"canary"}, "c2": {"canary"}, "d1": nil, "d2": nil})
	hook := f.r1.createWebhook(map[string]any{"name": "rollouts", "url": "http://127.0.0.1:1/hook", "event_types": []string{"rollout.*"}})
	other := f.r1.createWebhook(map[string]any{"name": "other-stack", "url": "http://127.0.0.1:1/other",
		"event_types": []string{"rollout.halted"}, "filters": map[string]any{"stack_id": uuid.New()}})
	f.setPolicy(f.r1, map[string]any{"waves": []map[string]any{
		{"name": "canary", "selector": map[string]any{"labels": []string{"canary"}}},
	}})
	obj := f.post(f.r2)
	f.deploy(f.r1, "c1", obj.ID, "FAILURE")
	f.step()
	r := f.rollout(f.r2)
	wantStatus(t, r, "halted", 0)
	if !strings.Contains(r.Reason, "c1") || strings.Contains(r.Reason, "c2") || r.Failures != 1 || r.FailureLimit != 0 {
		t.Fatalf("halted rollout: reason %q, failures %d/%d", r.Reason, r.Failures, r.FailureLimit)
	}
	var payload string
	if err := f.r1.db.Get(&payload, `SELECT payload FROM webhook_deliveries
		WHERE subscription_id = $1 AND event_type = 'rollout.halted'`, hook.ID); err != nil {
		t.Fatalf("no rollout.halted delivery: %v", err)
	}
	var ev struct {
		Type string         `json:"event_type"`
		Data client.Rollout `json:"data"`
	}
	if err := json.Unmarshal([]byte(payload), &ev); err != nil {
		t.Fatal(err)
	}
	if ev.Type != "rollout.halted" || ev.Data.ID != r.ID || ev.Data.StackID != f.stack.ID || ev.Data.Status != "halted" ||
		len(ev.Data.Agents) != 0 || len(ev.Data.Waves) != 2 {
		t.Fatalf("delivered %+v", ev)
	}
	if n := f.r1.whCount(`SELECT count(*) FROM webhook_deliveries WHERE subscription_id = $1`, other.ID); n != 0 {
		t.Fatalf("%d deliveries for a subscription filtered on another stack", n)
	}

	// Halted: nothing more is released, promote does not apply.
	f.deploy(f.r2, "c2", obj.ID, "SUCCESS")
	f.step()
	wantStrings(t, "released while halted", released(f.rollout(f.r1)), "c1", "c2")
	f.r1.expectError(409, "invalid_rollout_state", req{method: "POST", path: v1path("stacks", f.stack.ID, "rollout", "promote"), pak: f.gen.pak})

	r = f.act(f.r1, "resume")
	wantStatus(t, r, "progressing", 1)
	if r.FailureLimit != 1 || r.Reason != "" {
		t.Fatalf("resumed: limit %d reason %q", r.FailureLimit, r.Reason)
	}
	wantStrings(t, "released after resume", released(r), "c1", "c2", "d1", "d2")

	r = f.act(f.r2, "pause")
	wantStatus(t, r, "paused", 1)
	f.r2.expectError(409, "invalid_rollout_state", req{method: "POST", path: v1path("stacks", f.stack.ID, "rollout", "pause"), pak: f.gen.pak})
	r = f.act(f.r2, "abort")
	wantStatus(t, r, "aborted", 1)
	if r.FinishedAt == nil || !r.FinishedAt.Equal(roT0) {
		t.Fatalf("aborted at %v", r.FinishedAt)
	}
	f.r1.expectError(409, "invalid_rollout_state", req{method: "POST", path: v1path("stacks", f.stack.ID, "rollout", "abort"), pak: f.gen.pak})
	// The previous object (none) is served again: the stack leaves the agents' answers.
	wantObjects(t, f.r1.targetState(f.agents["c2"], "?mode=full"))

	var types []string
	if err := f.r1.db.Select(&types, `SELECT event_type FROM webhook_deliveries WHERE subscription_id = $1
		ORDER BY created_at, id`, hook.ID); err != nil {
		t.Fatal(err)
	}
	slices.Sort(types)
	wantStrings(t, "rollout events", types, "rollout.aborted", "rollout.halted", "rollout.started", "rollout.wave_completed")
	if got := f.r1.auditRows("rollout.resumed"); len(got) != 1 {
		t.Fatalf("resume audits %+v", got)
	}
	if got := f.r2.auditRows("rollout.aborted"); len(got) != 1 {
		t.Fatalf("abort audits %+v", got)
	}
}

// TestRolloutSupersede: a new object supersedes the rollout under way, which keeps its
// released agents; the list shows both, newest first, without agents.
func TestRolloutSupersede(t *testing.T) {
	f := newRoFleet(t, map[string][]string{"c1": {"canary"}, "d1": nil})
	f.setPolicy(f.r1, map[string]any{"pause": "manual", "waves": []map[string]any{
		{"name": "canary", "selector": map[string]any{"labels": []string{"canary"}}},
	}})
	v1 := f.post(f.r1)
	first := f.rollout(f.r1)
	wantStrings(t, "first rollout released", released(first), "c1")
	if first.PreviousObjectID != nil {
		t.Fatalf("first object's rollout has previous %v", first.PreviousObjectID)
	}
	v2 := f.post(f.r2)
	second := f.rollout(f.r1)
	if second.ID == first.ID || second.DeploymentObjectID != v2.ID || *second.PreviousObjectID != v1.ID {
		t.Fatalf("second rollout %+v", second)
	}
	var list []client.Rollout
	f.r2.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "rollouts"), pak: f.gen.pak}).decode(t, &list)
	if len(list) != 2 || list[0].ID != second.ID || list[1].ID != first.ID || list[1].Status != "superseded" ||
		list[0].Status != "progressing" || len(list[0].Agents) != 0 || list[1].Waves[0].Released != 1 {
		t.Fatalf("rollouts %+v", list)
	}
	wantStrings(t, "superseded rollout keeps its agents", f.storedReleases(first.ID), "c1")
	f.r2.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "rollouts") + "?limit=1", pak: f.gen.pak}).decode(t, &list)
	if len(list) != 1 || list[0].ID != second.ID {
		t.Fatalf("limited list %+v", list)
	}
	// An object rendered from a template starts its rollout like a posted one.
	tp := f.r1.createTemplate(f.gen.pak, "web", webTemplate, webSchema)
	inst := f.r1.instantiate(f.gen.pak, f.stack.ID, tp.ID, `{"name": "shop"}`)
	if inst.status != 201 {
		t.Fatalf("instantiate: %d %s", inst.status, inst.body)
	}
	var v3 client.DeploymentObject
	inst.decode(t, &v3)
	third := f.rollout(f.r2)
	if third.DeploymentObjectID != v3.ID || third.Status != "progressing" || *third.PreviousObjectID != v2.ID {
		t.Fatalf("rollout of the rendered object %+v", third)
	}
	f.r1.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "rollouts"), pak: f.gen.pak}).decode(t, &list)
	if len(list) != 3 || list[1].ID != second.ID || list[1].Status != "superseded" {
		t.Fatalf("rollouts after instantiation %+v", list)
	}
	second = third
	// Without a policy, a new object has no rollout; the latest rollout stays the third.
	f.r1.must(204, req{method: "DELETE", path: v1path("stacks", f.stack.ID, "rollout-policy"), pak: f.gen.pak})
	f.post(f.r1)
	if r := f.rollout(f.r2); r.ID != second.ID || r.Status != "progressing" {
		t.Fatalf("after an object without policy: %+v", r)
	}
}

// TestRolloutAuth: the owner writes, the owner and read-only keys read; other generators and
// agents are refused.
func TestRolloutAuth(t *testing.T) {
	f := newRoFleet(t, map[string][]string{"a1": nil})
	e := f.r1
	other := e.createGenerator("other")
	ro := e.createReadOnlyPAK("viewer")
	policy := map[string]any{"waves": []map[string]any{{"name": "w", "selector": map[string]any{"labels": []string{"x"}}}}}
	base := v1path("stacks", f.stack.ID)
	e.must(200, req{method: "PUT", path: base + "/rollout-policy", pak: e.admin, body: policy})
	f.post(e)
	for _, r := range []req{
		{method: "GET", path: base + "/rollout-policy"},
		{method: "GET", path: base + "/rollout"},
		{method: "GET", path: base + "/rollouts"},
	} {
		for _, key := range []string{e.admin, f.gen.pak, ro.PAK} {
			r.pak = key
			e.must(200, r)
		}
		r.pak = other.pak
		e.expectError(403, "stack_not_owned", r)
		r.pak = f.agents["a1"].pak
		e.expectError(403, "stack_not_owned", r)
	}
	for _, r := range []req{
		{method: "PUT", path: base + "/rollout-policy", body: policy},
		{method: "POST", path: base + "/rollout/pause"},
		{method: "DELETE", path: base + "/rollout-policy"},
	} {
		r.pak = ro.PAK
		e.expectError(403, "read_only", r)
		r.pak = other.pak
		e.expectError(403, "stack_not_owned", r)
		r.pak = f.agents["a1"].pak
		e.expectError(403, "stack_not_owned", r)
	}
	f.act(e, "pause")
	e.must(204, req{method: "DELETE", path: base + "/rollout-policy", pak: f.gen.pak})
	if got := e.auditRows("rollout_policy.set"); len(got) != 1 || got[0].ActorType != "admin" {
		t.Fatalf("policy audits %+v", got)
	}
	if got := e.auditRows("rollout_policy.deleted"); len(got) != 1 || got[0].ActorType != "generator" {
		t.Fatalf("policy deletion audits %+v", got)
	}
}

// TestRolloutValidation: invalid policies, unknown actions and missing rollouts.
func TestRolloutValidation(t *testing.T) {
	f := newRoFleet(t, nil)
	e := f.r2
	base := v1path("stacks", f.stack.ID)
	wave := func(extra map[string]any) map[string]any {
		w := map[string]any{"name": "w", "selector": map[string]any{"labels": []string{"x"}}}
		for k, v := range extra {
			w[k] = v
		}
		return w
	}
	var many []map[string]any
	for i := range 21 {
		many = append(many, wave(map[string]any{"name": fmt.Sprint("w", i)}))
	}
	for name, body := range map[string]map[string]any{
		"no waves":            {"waves": []any{}},
		"21 waves":            {"waves": many},
		"empty name":          {"waves": []any{wave(map[string]any{"name": ""})}},
		"remaining":           {"waves": []any{wave(map[string]any{"name": "remaining"})}},
		"duplicate names":     {"waves": []any{wave(nil), wave(nil)}},
		"empty selector":      {"waves": []any{wave(map[string]any{"selector": map[string]any{}})}},
		"gate":                {"gate": "ready", "waves": []any{wave(nil)}},
		"pause":               {"pause": "-5m", "waves": []any{wave(nil)}},
		"wave pause":          {"waves": []any{wave(map[string]any{"pause": "later"})}},
		"max_unavailable 0":   {"waves": []any{wave(map[string]any{"max_unavailable": 0})}},
		"max_unavailable 0%":  {"waves": []any{wave(map[string]any{"max_unavailable": "0%"})}},
		"threshold 120%":      {"failure_threshold": "120%", "waves": []any{wave(nil)}},
		"threshold -1":        {"failure_threshold": -1, "waves": []any{wave(nil)}},
		"threshold fractions": {"failure_threshold": 1.5, "waves": []any{wave(nil)}},
	} {
		r := e.expectError(400, "invalid_rollout_policy", req{method: "PUT", path: base + "/rollout-policy", pak: f.gen.pak, body: body})
		var b client.ErrorBody
		r.decode(t, &b)
		if b.Message == "" {
			t.Errorf("%s: no message", name)
		}
	}
	e.expectError(404, "rollout_policy_not_found", req{method: "GET", path: base + "/rollout-policy", pak: f.gen.pak})
	e.expectError(404, "rollout_policy_not_found", req{method: "DELETE", path: base + "/rollout-policy", pak: f.gen.pak})
	e.expectError(404, "rollout_not_found", req{method: "GET", path: base + "/rollout", pak: f.gen.pak})
	e.expectError(404, "rollout_not_found", req{method: "POST", path: base + "/rollout/promote", pak: f.gen.pak})
	e.expectError(404, "unknown_rollout_action", req{method: "POST", path: base + "/rollout/rewind", pak: f.gen.pak})
	e.expectError(400, "invalid_parameter", req{method: "GET", path: base + "/rollouts?limit=0", pak: f.gen.pak})
	e.expectError(400, "invalid_parameter", req{method: "GET", path: base + "/rollouts?limit=201", pak: f.gen.pak})
	e.expectError(404, "stack_not_found", req{method: "GET", path: v1path("stacks", uuid.New(), "rollout-policy"), pak: e.admin})
	var list []client.Rollout
	e.must(200, req{method: "GET", path: base + "/rollouts", pak: f.gen.pak}).decode(t, &list)
	if list == nil || len(list) != 0 {
		t.Fatalf("rollouts of a stack without any: %v", list)
	}
	// Percentages and counts are answered as given.
	p := f.setPolicy(e, map[string]any{"failure_threshold": "10%", "waves": []any{wave(map[string]any{"max_unavailable": "25%", "gate": "healthy"})}})
	if p.FailureThreshold != "10%" || p.Waves[0].MaxUnavailable != "25%" || p.Waves[0].Gate != "healthy" || p.Pause != "0s" {
		t.Fatalf("policy %+v", p)
	}
}

// TestRolloutConcurrentSteps: replicas stepping the same rollout at once release each agent
// once and emit each event once.
func TestRolloutConcurrentSteps(t *testing.T) {
	f := newRoFleet(t, map[string][]string{"c1": {"canary"}, "c2": {"canary"}, "d1": nil, "d2": nil})
	hook := f.r1.createWebhook(map[string]any{"name": "rollouts", "url": "http://127.0.0.1:1/hook", "event_types": []string{"rollout.*"}})
	f.setPolicy(f.r1, map[string]any{"waves": []map[string]any{
		{"name": "canary", "selector": map[string]any{"labels": []string{"canary"}}},
	}})
	obj := f.post(f.r1)
	// Outcomes written behind the broker's back: only the periodic step sees them.
	for _, name := range []string{"c1", "c2"} {
		f.r1.whExec(`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`,
			f.agents[name].agent.ID, obj.ID)
	}
	step := func(r *env) {
		for range 5 {
			r.srv.RunWorkerOnce(context.Background(), "rollout-controller")
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() { step(f.r1) })
	wg.Go(func() { step(f.r2) })
	wg.Wait()
	r := f.rollout(f.r2)
	wantStatus(t, r, "progressing", 1)
	wantStrings(t, "released", f.storedReleases(r.ID), "c1", "c2", "d1", "d2")
	var types []string
	if err := f.r1.db.Select(&types, `SELECT event_type FROM webhook_deliveries WHERE subscription_id = $1 ORDER BY event_type`, hook.ID); err != nil {
		t.Fatal(err)
	}
	wantStrings(t, "rollout events", types, "rollout.started", "rollout.wave_completed")
}
