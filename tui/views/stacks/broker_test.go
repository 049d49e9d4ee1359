package stacks

import (
	"context"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// harness runs a view the way bubbletea does: every command in its own goroutine, every
// answer fed back to Update on the test's goroutine.
type harness struct {
	t      *testing.T
	v      *Model
	msgs   chan tea.Msg
	status []ui.StatusMsg
}

func newHarness(t *testing.T, v *Model) *harness {
	return &harness{t: t, v: v, msgs: make(chan tea.Msg, 1024)}
}

func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	go func() { h.msgs <- cmd() }()
}

func (h *harness) feed(msg tea.Msg) {
	switch m := msg.(type) {
	case nil:
	case tea.BatchMsg:
		for _, c := range m {
			h.run(c)
		}
	case ui.StatusMsg:
		h.status = append(h.status, m)
		if m.Err != nil {
			h.t.Errorf("a request failed: %v", m.Err)
		}
	default:
		_, cmd := h.v.Update(msg)
		h.run(cmd)
	}
}

func (h *harness) press(ks ...string) {
	for _, k := range ks {
		_, cmd := h.v.Update(viewtest.Key(k))
		h.run(cmd)
	}
}

// until feeds answers to the view until cond holds.
func (h *harness) until(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case m := <-h.msgs:
			h.feed(m)
		case <-time.After(20 * time.Millisecond): // conditions on the broker need polling
		case <-deadline:
			h.t.Fatalf("timed out waiting for %s; screen:\n%s", what, ui.Plain(h.v.Render(120, 30)))
		}
	}
}

func TestAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	a := b.CreateAgent(t, "edge-1", "eu-west", true)
	other := b.CreateAgent(t, "edge-2", "us-east", true)
	st := b.CreateStack(t, "web", a.ID)
	quiet := b.CreateStack(t, "quiet", other.ID)
	v1 := yamlV(2, "nginx:1.25", "")
	v2 := yamlV(2, "nginx:1.27", "")
	o1 := b.Post(t, st.ID, v1, false)
	o2 := b.Post(t, st.ID, v2, false)
	b.Post(t, quiet.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: quiet\n", false)
	if _, err := b.Admin.Stacks().AddLabel(ctx, st.ID, "env:prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Client.Agents().CreateEvent(ctx, a.ID, client.NewAgentEvent{DeploymentObjectID: o1.ID, EventType: "DEPLOY", Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	msg := "apply Deployment web/web: image nginx:1.27 not allowed"
	if _, err := a.Client.Agents().CreateEvent(ctx, a.ID, client.NewAgentEvent{DeploymentObjectID: o2.ID, EventType: "DEPLOY", Status: "FAILURE", Message: &msg}); err != nil {
		t.Fatal(err)
	}
	if err := a.Client.DeploymentHealth().Report(ctx, a.ID, []client.DeploymentObjectHealthUpdate{{ID: o2.ID, Status: client.HealthFailing, CheckedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Hour, Ctx: ctx}
	v := New(env).(*Model)
	h := newHarness(t, v)

	// The list, with the details of the rows on screen.
	v.Render(120, 30)
	h.run(v.Init())
	h.until("the list and its row details", func() bool {
		_, ok1 := v.extras[st.ID]
		_, ok2 := v.extras[quiet.ID]
		return v.loaded && ok1 && ok2
	})
	out := ui.Plain(v.Render(120, 30))
	for _, want := range []string{"2 stacks", "gen-web", "gen-quiet", "env:prod", "failing"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if ex := v.extras[st.ID]; ex.Objects != 2 || ex.Health != client.HealthFailing || ex.Err != nil {
		t.Errorf("web row details %+v", ex)
	}
	if ex := v.extras[quiet.ID]; ex.Objects != 1 || ex.Health != client.HealthUnknown || len(ex.Labels) != 0 {
		t.Errorf("quiet row details %+v", ex)
	}

	// Open web (it sorts after quiet).
	h.press("j", "enter")
	d := v.detail
	if d == nil || d.stack.ID != st.ID {
		t.Fatalf("opened %+v", d)
	}
	h.until("the detail, its agents, history and live channel", func() bool {
		return d.objLoaded && d.agentsOK && d.telemetryReady && d.liveState == "live" && d.health != nil
	})
	if len(d.objects) != 2 || d.objects[0].ID != o2.ID || d.objects[1].ID != o1.ID {
		t.Fatalf("history %+v", d.objects)
	}
	out = ui.Plain(v.Render(120, 30))
	for _, want := range []string{ui.ShortID(o1.ID), ui.ShortID(o2.ID), "health failing", "live connected", "latest", "failed on 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("history lacks %q:\n%s", want, out)
		}
	}

	// The agent's newest event about the stack.
	h.press("a")
	if len(d.agents) != 1 {
		t.Fatalf("agents %+v", d.agents)
	}
	ag := d.agents[0]
	if ag.AgentID != a.ID || !ag.Associated || ag.Latest == nil || ag.Latest.Status != "FAILURE" || ag.LatestSeq != o2.SequenceID {
		t.Fatalf("agent status %+v (latest %+v)", ag, ag.Latest)
	}
	out = ui.Plain(v.Render(120, 30))
	for _, want := range []string{"edge-1", "eu-west", "FAILURE", "#" + seqText(o2.SequenceID), "image nginx:1.27 not allowed"} {
		if !strings.Contains(out, want) {
			t.Errorf("agents pane lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "edge-2") {
		t.Errorf("an agent of another stack is listed:\n%s", out)
	}

	// YAML of the newest version.
	h.press("h", "y")
	if v.mode != modeYAML {
		t.Fatalf("mode %d", v.mode)
	}
	out = ui.Plain(v.Render(120, 30))
	if !strings.Contains(out, "image: nginx:1.27") || !strings.Contains(out, "YAML web #"+seqText(o2.SequenceID)) {
		t.Errorf("yaml view:\n%s", out)
	}

	// Diff of the marked newest version with the older one.
	h.press("esc", "m", "j", "D")
	if v.mode != modeDiff {
		t.Fatalf("mode %d", v.mode)
	}
	out = ui.Plain(v.Render(120, 30))
	for _, want := range []string{"-           image: nginx:1.25", "+           image: nginx:1.27", "+1 −1"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff lacks %q:\n%s", want, out)
		}
	}

	// Live telemetry from the agent reaches the open detail.
	h.press("esc", "e")
	h.until("the broker to count the live subscriber", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.LiveSubscribers == 1
	})
	ch, err := a.Client.AgentChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	ns := "web"
	ev, err := client.NewWSMessage(client.WSK8sEvent, client.K8sEvent{AgentID: a.ID, StackID: st.ID, ObservedAt: time.Now(),
		Reason: "FailedCreate", EventType: "Warning", Message: "admission denied",
		InvolvedObject: client.K8sObjectRef{APIVersion: "apps/v1", Kind: "ReplicaSet", Namespace: &ns, Name: "web-7d9c"}})
	if err != nil {
		t.Fatal(err)
	}
	line, err := client.NewWSMessage(client.WSPodLogLine, client.PodLogLine{AgentID: a.ID, StackID: st.ID, Namespace: ns,
		Pod: "web-7d9c-x2", Container: "nginx", TS: time.Now(), Line: "ready to serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if err := ch.Send(ctx, line); err != nil {
		t.Fatal(err)
	}
	h.until("the live frames", func() bool { return len(d.events.lines) == 1 && len(d.logs.lines) == 1 })
	out = ui.Plain(v.Render(120, 30))
	if !strings.Contains(out, "edge-1") || !strings.Contains(out, "FailedCreate ReplicaSet web/web-7d9c: admission denied") {
		t.Errorf("events pane:\n%s", out)
	}
	// r reloads the history, which now holds the same event: it is not shown twice.
	h.press("r")
	if d.telemetryReady {
		t.Fatal("r did not reload the history")
	}
	h.until("the reload", func() bool { return d.telemetryReady })
	if len(d.events.lines) != 1 || len(d.logs.lines) != 1 {
		t.Errorf("history and live lines doubled: %d events, %d log lines", len(d.events.lines), len(d.logs.lines))
		for _, l := range append(d.events.lines, d.logs.lines...) {
			t.Logf("%s", l.key)
		}
	}

	// Leaving the detail closes the live channel.
	h.press("esc")
	if v.mode != modeList || d.ctx.Err() == nil {
		t.Fatalf("mode %d after esc", v.mode)
	}
	h.until("the live subscriber to go", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.LiveSubscribers == 0
	})
	if len(h.status) == 0 {
		t.Fatal("no command reported the broker's reachability")
	}
}

func TestLeavingWhileDialling(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	a := b.CreateAgent(t, "edge-1", "eu-west", true)
	st := b.CreateStack(t, "web", a.ID)
	b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Hour, Ctx: ctx}
	v := New(env).(*Model)
	for _, m := range viewtest.Messages(v.Init()) {
		v.Update(m)
	}
	if len(v.stacks) != 1 {
		t.Fatalf("stacks %+v", v.stacks)
	}
	// The channel opens, but its answer only arrives after the user left the stack.
	_, cmd := v.Update(viewtest.Key("enter"))
	var opened *LiveOpenedMsg
	for _, m := range viewtest.Messages(cmd) {
		if o, ok := m.(LiveOpenedMsg); ok {
			opened = &o
		}
		if s, ok := m.(ui.StatusMsg); ok && s.Err != nil {
			t.Fatalf("request failed: %v", s.Err)
		}
	}
	if opened == nil || opened.Err != nil || opened.sub == nil {
		t.Fatalf("live channel: %+v", opened)
	}
	subscribers := func() int64 {
		c, err := b.Admin.Admin().WSConnections(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.LiveSubscribers
	}
	deadline := time.Now().Add(10 * time.Second)
	waitFor := func(n int64, failure string) {
		t.Helper()
		for subscribers() != n {
			if time.Now().After(deadline) {
				t.Fatal(failure)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(1, "the broker never counted the subscriber")
	v.Update(viewtest.Key("esc"))
	_, cmd = v.Update(*opened)
	if cmd == nil {
		t.Fatal("a late channel of a closed stack is not closed")
	}
	viewtest.Messages(cmd)
	waitFor(0, "the late channel stayed open")
	// A channel whose view is gone (the dashboard switched context) is closed when released.
	sub, err := b.Admin.Live().Stack(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	waitFor(1, "the broker never counted the subscriber")
	LiveFrameMsg{Session: nextTag(), sub: sub}.Release()
	waitFor(0, "a released channel stayed open")
}
