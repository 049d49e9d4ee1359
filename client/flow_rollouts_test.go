package client_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// flowRollouts exercises the rollout, apply-window and hold operations through the typed
// client, on a stack the agent targets.
func flowRollouts(t *testing.T, c context.Context, admin, gc, agent *client.Client, a client.Agent, st client.Stack) {
	t.Helper()
	policy := client.RolloutPolicy{Pause: client.PauseManual, FailureThreshold: "10%",
		Waves: []client.RolloutWave{{Name: "canary", Selector: client.Selector{Labels: []string{"flow:canary"}}, MaxUnavailable: "1"}}}
	set := must(gc.Stacks().SetRolloutPolicy(c, st.ID, policy))(t)
	if set.StackID != st.ID || len(set.Waves) != 1 || set.FailureThreshold != "10%" || set.Waves[0].MaxUnavailable != "1" {
		t.Fatalf("policy set %+v", set)
	}
	if got := must(gc.Stacks().RolloutPolicy(c, st.ID))(t); got.Pause != client.PauseManual || got.Waves[0].Name != "canary" {
		t.Fatalf("policy %+v", got)
	}
	obj := must(gc.Stacks().CreateDeploymentObjectWithOptions(c, st.ID, strings.Replace(webYAML, "k: v", "k: rolled", 1),
		client.CreateObjectOptions{Urgent: true}))(t)
	if !obj.Urgent {
		t.Fatalf("urgent object %+v", obj)
	}
	r := must(gc.Stacks().Rollout(c, st.ID))(t)
	if r.DeploymentObjectID != obj.ID || !r.Active() || len(r.Waves) != 2 || r.Waves[1].Name != client.ImplicitWaveName {
		t.Fatalf("rollout %+v", r)
	}
	if list := must(gc.Stacks().Rollouts(c, st.ID))(t); len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("rollouts %+v", list)
	}
	if p := must(gc.Stacks().RolloutAction(c, st.ID, "pause"))(t); p.Status != client.RolloutPaused {
		t.Fatalf("paused %+v", p)
	}
	// The agent, in the implicit wave after an empty canary wave, was released at once.
	if h := must(agent.Agents().Holds(c, a.ID))(t); len(h) != 0 {
		t.Fatalf("agent holds %+v", h)
	}
	if h := must(gc.Stacks().Holds(c, st.ID))(t); len(h) != 0 {
		t.Fatalf("stack holds %+v", h)
	}
	win := must(admin.ApplyWindows().Create(c, client.ApplyWindow{Name: "flow-freeze", Schedule: "0 0 1 1 *", Duration: "24h",
		Kind: client.WindowDeny, Selector: client.Selector{Labels: []string{"flow:nobody"}}, StackIDs: []uuid.UUID{st.ID}}))(t)
	if got := must(admin.ApplyWindows().Get(c, win.ID))(t); got.Name != "flow-freeze" || got.Duration != "24h0m0s" {
		t.Fatalf("window %+v", got)
	}
	if all := must(admin.ApplyWindows().List(c))(t); len(all) != 1 || all[0].ID != win.ID {
		t.Fatalf("windows %+v", all)
	}
	ok(t, admin.ApplyWindows().Delete(c, win.ID))
	if a := must(gc.Stacks().RolloutAction(c, st.ID, "abort"))(t); a.Status != client.RolloutAborted {
		t.Fatalf("aborted %+v", a)
	}
	ok(t, gc.Stacks().DeleteRolloutPolicy(c, st.ID))
	if _, err := gc.Stacks().RolloutPolicy(c, st.ID); !client.HasCode(err, "rollout_policy_not_found") {
		t.Fatalf("deleted policy: %v", err)
	}
}
