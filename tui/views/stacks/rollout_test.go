package stacks

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/rollouts"
)

// rolloutExtras gives web a halted rollout with agents held back by it and by a window, and
// api agents held back by a window alone.
func rolloutExtras(v *Model) {
	wave := func(i int) *int { return &i }
	until := now.Add(6 * time.Hour)
	web := &client.Rollout{ID: id(30), StackID: stWeb.ID, Status: client.RolloutHalted, CurrentWave: 1, Failures: 2, FailureLimit: 1,
		Waves: []client.RolloutWaveStatus{{Index: 0, Name: "canary"}, {Index: 1, Name: "eu"}, {Index: 2, Name: client.ImplicitWaveName}}}
	webHolds := rollouts.SummarizeHolds([]client.Hold{
		{AgentID: agent1, Reason: client.HoldRollout, Wave: wave(2)},
		{AgentID: agent2, Reason: client.HoldRollout, Wave: wave(2)},
		{AgentID: agent3, Reason: client.HoldWindow, WindowName: "freeze", Until: &until},
	})
	apiHolds := rollouts.SummarizeHolds([]client.Hold{{AgentID: agent1, Reason: client.HoldWindow, WindowName: "freeze", Until: &until}})
	done := &client.Rollout{ID: id(31), StackID: stBatch.ID, Status: client.RolloutCompleted, CurrentWave: 1,
		Waves: []client.RolloutWaveStatus{{Index: 0, Name: "all"}, {Index: 1, Name: client.ImplicitWaveName}}}
	none := rollouts.SummarizeHolds(nil)
	ex := fixtureExtras(v)
	set := func(st client.Stack, r *client.Rollout, h *rollouts.HoldSummary) {
		e := ex.Extras[st.ID]
		e.Rollout, e.Holds = r, h
		ex.Extras[st.ID] = e
	}
	set(stWeb, web, &webHolds)
	set(stAPI, nil, &apiHolds)
	set(stBatch, done, &none)
	set(stMonitor, nil, nil) // unknown: an older broker
	send(v, ex)
}

func TestRolloutColumn(t *testing.T) {
	// Without rollouts or holds the list keeps its columns.
	v := loadedList(t)
	if out := viewtest.Render(t, v, 120, 10); strings.Contains(out, "ROLLOUT") {
		t.Fatalf("rollout column without rollouts:\n%s", out)
	}
	rolloutExtras(v)
	golden.RequireEqual(t, viewtest.Render(t, v, 120, 10))
	keys(v, "G") // web
	out := viewtest.Render(t, v, 150, 10)
	want := "web · rollout halted at wave 2/3 eu, 2 failed (1 allowed) · held 3: rollout wave remaining ×2, window freeze until 18:00 ×1"
	if !strings.Contains(out, want) {
		t.Fatalf("the selected stack's line lacks %q:\n%s", want, out)
	}
	// The rollout of the open stack shows in its status line.
	keys(v, "enter")
	send(v, fixtureDetail(v.detail.tag))
	if out := viewtest.Render(t, v, 120, 10); !strings.Contains(out, "halted 2/3 (R)") {
		t.Fatalf("detail lacks the rollout:\n%s", out)
	}
}

func TestRolloutKey(t *testing.T) {
	v := loadedList(t)
	keys(v, "G") // web
	if got := viewtest.HelpKeys(v); got != "↑/k ↓/j / enter R r" {
		t.Fatalf("list keys %q", got)
	}
	cmd := keys(v, "R")
	if v.mode != modeRollout || v.ro == nil || v.ro.Stack().ID != stWeb.ID || cmd == nil {
		t.Fatalf("R on web: mode %d rollout %+v", v.mode, v.ro)
	}
	if out := viewtest.Render(t, v, 80, 6); !strings.Contains(out, "web · rollout") || !strings.Contains(out, "loading rollout…") {
		t.Fatalf("rollout view:\n%s", out)
	}
	if got := viewtest.HelpKeys(v); got != "↑/k ↓/j r esc" {
		t.Fatalf("rollout keys %q", got)
	}
	// The list rests while the rollout is on screen; esc brings it back, refreshed.
	if cmd := send(v, listTickMsg{tag: v.listTag}); cmd != nil {
		t.Fatal("the list polled behind the rollout")
	}
	old := v.listTag
	if cmd := keys(v, "esc"); cmd == nil || v.mode != modeList || v.ro != nil || v.listTag == old {
		t.Fatalf("esc: mode %d", v.mode)
	}

	// From an open stack, R shows its rollout and esc comes back to the stack.
	v = openWeb(t)
	keys(v, "R")
	if v.mode != modeRollout || v.ro.Stack().ID != stWeb.ID {
		t.Fatalf("R in the detail: mode %d", v.mode)
	}
	keys(v, "esc")
	if v.mode != modeDetail || v.detail == nil {
		t.Fatalf("esc from the rollout: mode %d", v.mode)
	}
}

// TestRolloutAgainstBroker: a stack an open deny window holds back shows the agent held and
// the window; a stack whose rollout released its canary wave shows the rollout under way and
// the agent it holds back; R opens the rollout and promote reaches the broker.
func TestRolloutAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	canary := b.CreateAgent(t, "canary-1", "c1", true)
	edge := b.CreateAgent(t, "edge-1", "c2", true)
	st := b.CreateStack(t, "web", canary.ID, edge.ID)
	quiet := b.CreateStack(t, "quiet", edge.ID)
	b.Post(t, quiet.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quiet\n  namespace: default\n", false)
	// A deny window open now holds quiet's object back from its agent.
	if _, err := b.Admin.ApplyWindows().Create(ctx, client.ApplyWindow{Name: "freeze", Schedule: "* * * * *", Duration: "1h",
		Kind: client.WindowDeny, StackIDs: []uuid.UUID{quiet.ID}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Agents().AddLabel(ctx, canary.ID, "canary"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Stacks().SetRolloutPolicy(ctx, st.ID, client.RolloutPolicy{Pause: client.PauseManual,
		Waves: []client.RolloutWave{{Name: "canary", Selector: client.Selector{Labels: []string{"canary"}}}}}); err != nil {
		t.Fatal(err)
	}
	b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\n", false)

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Hour, Ctx: ctx}
	v := New(env).(*Model)
	h := newHarness(t, v)
	v.Render(150, 12)
	h.run(v.Init())
	h.until("the rows and their rollouts", func() bool {
		ex, ok := v.extras[st.ID]
		return v.loaded && ok && ex.Holds != nil && len(v.pending) == 0
	})
	out := ui.Plain(v.Render(150, 12))
	for _, want := range []string{"ROLLOUT", "held 1", "quiet · held 1: window freeze"} {
		if !strings.Contains(out, want) {
			t.Fatalf("list lacks %q:\n%s", want, out)
		}
	}
	keys(v, "j") // web
	out = ui.Plain(v.Render(150, 12))
	for _, want := range []string{"wave 1/2", "web · rollout progressing at wave 1/2 canary · held 1: rollout"} {
		if !strings.Contains(out, want) {
			t.Fatalf("list lacks %q:\n%s", want, out)
		}
	}

	h.press("R")
	h.until("the rollout", func() bool { return v.ro != nil && v.ro.Rollout() != nil })
	if out := ui.Plain(v.Render(100, 12)); !strings.Contains(out, "▸ canary") || !strings.Contains(out, "edge-1") {
		t.Fatalf("rollout view:\n%s", out)
	}
	// The canary has not applied yet: promote unlocks the last wave at once.
	h.press("P")
	h.until("the promoted rollout", func() bool { return v.ro.Rollout().CurrentWave == 1 })
	r, err := b.Admin.Stacks().Rollout(ctx, st.ID)
	if err != nil || r.CurrentWave != 1 {
		t.Fatalf("broker rollout after promote: %+v, %v", r, err)
	}

	// Back on the list the stack's row is looked at again: nothing is held any more.
	h.press("esc")
	h.until("the row to refresh", func() bool {
		ex := v.extras[st.ID]
		return ex.Holds != nil && ex.Holds.Agents == 0 && ex.Rollout != nil && ex.Rollout.CurrentWave == 1
	})
	out = ui.Plain(v.Render(150, 12))
	if last := strings.TrimSpace(out[strings.LastIndex(out, "\n")+1:]); last != "web · rollout progressing at wave 2/2 remaining" {
		t.Fatalf("list after promote:\n%s", out)
	}
}
