package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// insertRollout inserts a rollout of obj in its stack, as the rollout controller would, with
// the agents it has released.
func (e *env) insertRollout(obj client.DeploymentObject, status string, agents ...uuid.UUID) uuid.UUID {
	e.t.Helper()
	ctx := context.Background()
	var id uuid.UUID
	if err := e.db.GetContext(ctx, &id, `INSERT INTO rollouts (stack_id, deployment_object_id, policy, status)
		VALUES ($1, $2, '{"waves":[]}', $3) RETURNING id`, obj.StackID, obj.ID, status); err != nil {
		e.t.Fatal(err)
	}
	for _, a := range agents {
		e.insertRelease(id, obj.StackID, a)
	}
	return id
}

func (e *env) insertRelease(rollout, stack, agent uuid.UUID) {
	e.t.Helper()
	if _, err := e.db.ExecContext(context.Background(), `INSERT INTO rollout_agents (rollout_id, agent_id, stack_id, wave, released_at)
		VALUES ($1, $2, $3, 0, now())`, rollout, agent, stack); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) updateRolloutStatus(rollout uuid.UUID, status string) {
	e.t.Helper()
	if _, err := e.db.ExecContext(context.Background(), `UPDATE rollouts SET status = $2 WHERE id = $1`, rollout, status); err != nil {
		e.t.Fatal(err)
	}
}

// TestTargetStateServesRolloutReleases: an object under a rollout reaches only the agents it
// released, the others keep the previous object and are told what is held back; a
// superseded rollout keeps its agents; abort sends the previous object back; completion
// serves everyone. Both replicas agree after each change, answered from memory.
func TestTargetStateServesRolloutReleases(t *testing.T) {
	e := cachedEnv(t)
	r := e.replica()
	start(t, r.srv)
	waitFor(t, "the replica's listener", r.srv.ListeningForTest)

	gen := e.createGenerator("roll-gen")
	st := e.createStack("roll", gen.gen.ID, gen.pak)
	a := e.createAgent("roll-a", "c1", gen.gen.ID)
	b := e.createAgent("roll-b", "c2", gen.gen.ID)
	c := e.createAgent("roll-c", "c3", gen.gen.ID)
	for _, x := range []agentFixture{a, b, c} {
		e.must(201, req{method: "POST", path: v1path("agents", x.agent.ID, "targets"), pak: e.admin,
			body: map[string]any{"agent_id": x.agent.ID, "stack_id": st.ID}})
	}
	v1 := e.createObject(st.ID, gen.pak, cmYAML)
	v2 := e.createObject(st.ID, gen.pak, strings.Replace(cmYAML, "k: v", "k: v2", 1))
	r2 := e.insertRollout(v2, client.RolloutProgressing, a.agent.ID)
	e.srv.SyncTargetState(context.Background())
	r.srv.SyncTargetState(context.Background())

	both := func(x agentFixture, want ...client.DeploymentObject) {
		t.Helper()
		for _, rep := range []*env{e, r} {
			wantObjects(t, rep.targetState(x, ""), want...)
			wantObjects(t, rep.targetState(x, ""), want...) // from memory
		}
	}
	both(a, v2)
	both(b, v1)
	both(c, v1)

	held := e.poll(b, "", "")
	hold := held.header.Get("Brokkr-Hold")
	if !strings.HasPrefix(hold, st.ID.String()+"; object="+v2.ID.String()+"; reason=rollout") {
		t.Fatalf("Brokkr-Hold = %q, want the stack's v2 held by its rollout", hold)
	}
	if h := e.poll(a, "", "").header.Get("Brokkr-Hold"); h != "" {
		t.Fatalf("released agent told of a hold: %q", h)
	}
	var holds []client.Hold
	e.must(200, req{method: "GET", path: v1path("stacks", st.ID, "holds"), pak: gen.pak}).decode(t, &holds)
	if len(holds) != 2 {
		t.Fatalf("stack holds = %+v, want b and c", holds)
	}
	for _, h := range holds {
		if h.Reason != client.HoldRollout || h.DeploymentObjectID != v2.ID || h.ServingObjectID == nil ||
			*h.ServingObjectID != v1.ID || h.RolloutID == nil || *h.RolloutID != r2 || h.StackName != "roll" ||
			h.Wave == nil || *h.Wave != 0 || h.Until != nil {
			t.Errorf("hold = %+v", h)
		}
	}
	e.must(200, req{method: "GET", path: v1path("agents", b.agent.ID, "holds"), pak: b.pak}).decode(t, &holds)
	if len(holds) != 1 || holds[0].AgentName != "roll-b" {
		t.Fatalf("agent holds = %+v", holds)
	}
	// The fleet counts v2 pending for the agent it was released to, not for those it waits for.
	for x, want := range map[agentFixture]int64{a: 1, b: 0, c: 0} {
		if rec, ok := e.fleetRecord(x.agent.ID, ""); !ok || rec.PendingObjectCount != want {
			t.Fatalf("fleet record of %s: %+v, want %d pending", x.agent.Name, rec, want)
		}
	}

	// Releasing through the other replica's database reaches both replicas' memory.
	e.insertRelease(r2, st.ID, b.agent.ID)
	waitFor(t, "b to receive v2 on both replicas", func() bool {
		return objectIDs(e.targetState(b, ""))[0] == v2.ID && objectIDs(r.targetState(b, ""))[0] == v2.ID
	})
	both(c, v1)

	// v3 supersedes v2's rollout: a and b keep v2, c keeps v1, until v3 releases them.
	v3 := e.createObject(st.ID, gen.pak, strings.Replace(cmYAML, "k: v", "k: v3", 1))
	e.updateRolloutStatus(r2, client.RolloutSuperseded)
	r3 := e.insertRollout(v3, client.RolloutProgressing, c.agent.ID)
	e.srv.SyncTargetState(context.Background())
	r.srv.SyncTargetState(context.Background())
	both(a, v2)
	both(b, v2)
	both(c, v3)
	deployed := func(x agentFixture, o client.DeploymentObject) {
		t.Helper()
		e.must(201, req{method: "POST", path: v1path("agents", x.agent.ID, "events"), pak: x.pak, body: map[string]any{
			"agent_id": x.agent.ID, "deployment_object_id": o.ID, "event_type": "DEPLOY", "status": "SUCCESS", "message": "ok"}})
	}
	deployed(c, v1)
	deployed(c, v3)

	// Abort v3: c gets v1 back (v2 never reached it), in incremental mode too although it
	// applied v1 once: what it has now is v3.
	e.updateRolloutStatus(r3, client.RolloutAborted)
	e.srv.SyncTargetState(context.Background())
	r.srv.SyncTargetState(context.Background())
	both(c, v1)
	both(a, v2)
	wantObjects(t, e.targetState(c, "?mode=incremental"), v1)

	// Incremental mode leaves out what the agent reported applying.
	deployed(a, v2)
	if got := e.targetState(a, "?mode=incremental"); len(got) != 0 {
		t.Fatalf("incremental after applying v2: %v", objectIDs(got))
	}

	// Completing v2's rollout serves it to everyone, c included.
	e.updateRolloutStatus(r2, client.RolloutCompleted)
	e.srv.SyncTargetState(context.Background())
	r.srv.SyncTargetState(context.Background())
	both(c, v2)
	if got := e.do(req{method: "GET", path: v1path("agents", c.agent.ID, "target-state"), pak: c.pak}); got.status != http.StatusOK ||
		got.header.Get("Brokkr-Hold") != "" {
		t.Fatalf("after completion: status %d, hold %q", got.status, got.header.Get("Brokkr-Hold"))
	}
}

// TestTargetStateFirstObjectUnderRollout: a stack whose first object is under a rollout is
// left out of the answers of the agents not released yet (they have nothing to keep).
func TestTargetStateFirstObjectUnderRollout(t *testing.T) {
	e := cachedEnv(t)
	gen := e.createGenerator("first-gen")
	st := e.createStack("first", gen.gen.ID, gen.pak)
	a := e.createAgent("first-a", "c1", gen.gen.ID)
	b := e.createAgent("first-b", "c2", gen.gen.ID)
	for _, x := range []agentFixture{a, b} {
		e.must(201, req{method: "POST", path: v1path("agents", x.agent.ID, "targets"), pak: e.admin,
			body: map[string]any{"agent_id": x.agent.ID, "stack_id": st.ID}})
	}
	v1 := e.createObject(st.ID, gen.pak, cmYAML)
	e.insertRollout(v1, client.RolloutProgressing, a.agent.ID)
	e.srv.SyncTargetState(context.Background())
	wantObjects(t, e.targetState(a, ""), v1)
	wantObjects(t, e.targetState(b, ""))
	got := e.poll(b, "", "")
	if h := got.header.Get("Brokkr-Hold"); !strings.Contains(h, "reason=rollout") {
		t.Fatalf("Brokkr-Hold = %q", h)
	}
}
