package rollouts

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

const configMap = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  k: v\n"

// waitRollout polls the broker until the stack's rollout satisfies cond.
func waitRollout(t *testing.T, c *client.Client, stackID uuid.UUID, what string, cond func(client.Rollout) bool) client.Rollout {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		r, err := c.Stacks().Rollout(context.Background(), stackID)
		if err == nil && cond(r) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: rollout %+v, err %v", what, r, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// driver runs the view's commands against the broker; the polling timers stop.
func driver(t *testing.T, v *Model) *viewtest.Driver {
	return &viewtest.Driver{T: t, View: v, Reachable: true, Feed: viewtest.Except(listTickMsg{}, detailTickMsg{})}
}

// TestAgainstBroker: a stack whose canary wave is done waits for promote. The Rollouts tab
// lists it and shows its waves and agents; a read-only key's promote is refused with the
// explanation and changes nothing; promote, pause, resume and abort (after its
// confirmation) reach the broker and the screen shows the outcome.
func TestAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	canary := b.CreateAgent(t, "canary-1", "c1", true)
	edge := b.CreateAgent(t, "edge-1", "c2", true)
	st := b.CreateStack(t, "web", canary.ID, edge.ID)
	b.CreateStack(t, "quiet", edge.ID) // no policy: no rollout, not listed
	if _, err := b.Admin.Agents().AddLabel(ctx, canary.ID, "canary"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Stacks().SetRolloutPolicy(ctx, st.ID, client.RolloutPolicy{Pause: client.PauseManual,
		Waves: []client.RolloutWave{{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}}}}); err != nil {
		t.Fatal(err)
	}
	obj := b.Post(t, st.ID, configMap, false)
	if _, err := canary.Client.Agents().CreateEvent(ctx, canary.ID, client.NewAgentEvent{DeploymentObjectID: obj.ID,
		EventType: client.EventTypeDeploy, Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, b.Admin, st.ID, "the canary wave to complete", func(r client.Rollout) bool { return r.Status == client.RolloutWaiting })

	env := viewtest.Env(now, time.Millisecond)
	env.Client, env.Now = b.Admin, time.Now
	v := New(env).(*Model)
	d := driver(t, v)
	d.Run(v.Init())
	out := viewtest.Render(t, v, 100, 12)
	for _, want := range []string{"1 rollout · 1 under way", "web", "waiting", "1/2 canary", "1/2"} {
		if !strings.Contains(out, want) {
			t.Fatalf("list lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "quiet") {
		t.Fatalf("a stack without a rollout is listed:\n%s", out)
	}

	d.Press("enter")
	out = viewtest.Render(t, v, 100, 14)
	for _, want := range []string{"waiting · wave 1/2 canary · waiting for promote (P)", "▸ canary       complete",
		"remaining    pending", "canary-1", "passed", "edge-1", "waiting"} {
		if !strings.Contains(out, want) {
			t.Fatalf("rollout lacks %q:\n%s", want, out)
		}
	}

	// A read-only key sees the rollout, and is told why promote is refused.
	key, err := b.Admin.ReadOnlyPAKs().Create(ctx, "dashboards")
	if err != nil {
		t.Fatal(err)
	}
	ro, err := client.New(b.URL, client.WithPAK(key.PAK))
	if err != nil {
		t.Fatal(err)
	}
	roEnv := viewtest.Env(now, time.Millisecond)
	roEnv.Client, roEnv.Now = ro, time.Now
	rv := New(roEnv).(*Model)
	rd := driver(t, rv)
	rd.Run(rv.Init())
	rd.Press("enter", "P")
	if f := rd.LastFlash(); !f.Error || f.Text != "promote: "+ui.ReadOnlyText {
		t.Fatalf("read-only promote flashed %+v", f)
	}
	if r := waitRollout(t, b.Admin, st.ID, "nothing", func(client.Rollout) bool { return true }); r.Status != client.RolloutWaiting {
		t.Fatalf("a read-only promote changed the rollout: %s", r.Status)
	}

	// Promote unlocks the last wave.
	d.Press("P")
	if f := d.LastFlash(); f.Error || f.Text != "promoted: wave 2/2 remaining unlocked" {
		t.Fatalf("promote flashed %+v", f)
	}
	r := waitRollout(t, b.Admin, st.ID, "promote", func(r client.Rollout) bool { return r.CurrentWave == 1 })
	if r.Status != client.RolloutProgressing {
		t.Fatalf("after promote: %s", r.Status)
	}
	if out := viewtest.Render(t, v, 100, 14); !strings.Contains(out, "progressing · wave 2/2 remaining") || !strings.Contains(out, "▸ remaining") {
		t.Fatalf("after promote:\n%s", out)
	}

	// Pause and resume.
	d.Press("p")
	waitRollout(t, b.Admin, st.ID, "pause", func(r client.Rollout) bool { return r.Status == client.RolloutPaused })
	if out := viewtest.Render(t, v, 100, 14); !strings.Contains(out, "paused · wave 2/2") {
		t.Fatalf("after pause:\n%s", out)
	}
	d.Press("u")
	waitRollout(t, b.Admin, st.ID, "resume", func(r client.Rollout) bool { return r.Status == client.RolloutProgressing })

	// Abort asks first.
	d.Press("x")
	conf := d.LastConfirm(t)
	if !strings.HasPrefix(conf.Prompt, "Abort the rollout of web?") {
		t.Fatalf("confirmation %q", conf.Prompt)
	}
	d.Run(conf.On)
	waitRollout(t, b.Admin, st.ID, "abort", func(r client.Rollout) bool { return r.Status == client.RolloutAborted })
	out = viewtest.Render(t, v, 100, 14)
	if !strings.Contains(out, "aborted · wave 2/2") || strings.Contains(out, "▸") {
		t.Fatalf("after abort:\n%s", out)
	}
	if keys := viewtest.HelpKeys(v); keys != "↑/k ↓/j r esc" {
		t.Errorf("an aborted rollout offers %q", keys)
	}
}
