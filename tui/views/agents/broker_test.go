package agents_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/agents"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func contains(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Fatalf("render lacks %q:\n%s", w, out)
		}
	}
}

func labelsOf(t *testing.T, b *servertest.Broker, id uuid.UUID) []string {
	t.Helper()
	ls, err := b.Admin.Agents().Labels(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		out = append(out, l.Label)
	}
	slices.Sort(out)
	return out
}

func statusOf(t *testing.T, b *servertest.Broker, id uuid.UUID) string {
	t.Helper()
	a, err := b.Admin.Agents().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return a.Status
}

func TestAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	eu := b.CreateAgent(t, "edge-eu-1", "eu-west", true)
	us := b.CreateAgent(t, "edge-us-1", "us-east", true)
	lab := b.CreateAgent(t, "lab-1", "lab", false)
	for _, l := range []struct {
		id    uuid.UUID
		label string
	}{{eu.ID, "env:prod"}, {us.ID, "env:prod"}, {lab.ID, "env:dev"}} {
		if _, err := b.Admin.Agents().AddLabel(ctx, l.id, l.label); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Admin.Agents().AddAnnotation(ctx, eu.ID, "owner", "platform"); err != nil {
		t.Fatal(err)
	}
	web := b.CreateStack(t, "web", eu.ID)
	// metrics reaches edge-eu-1 by its label, through the generator it is registered with.
	metrics, err := b.Admin.Stacks().Create(ctx, client.CreateStackRequest{Name: "metrics", GeneratorID: web.GeneratorID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Admin.Stacks().AddLabel(ctx, metrics.ID, "env:prod"); err != nil {
		t.Fatal(err)
	}
	obj := b.Post(t, web.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	msg := "configmaps is forbidden"
	for _, ev := range []client.NewAgentEvent{
		{DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "FAILURE", Message: &msg},
		{DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS"},
	} {
		if _, err := eu.Client.Agents().CreateEvent(ctx, eu.ID, ev); err != nil {
			t.Fatal(err)
		}
	}
	reachable, latency := true, int32(9)
	if err := eu.Client.Agents().Heartbeat(ctx, eu.ID, &client.HeartbeatRequest{K8sReachable: &reachable, K8sAPILatencyMs: &latency}); err != nil {
		t.Fatal(err)
	}

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), Ctx: ctx, RefreshEvery: 10 * time.Millisecond}
	v := agents.New(env)
	d := &viewtest.Driver{T: t, View: v, Feed: viewtest.Types(agents.LoadedMsg{}, agents.DetailMsg{}, agents.ActionMsg{})}
	render := func() string { return ui.Plain(v.Render(120, 60)) }

	// Load.
	d.Run(v.Init())
	out := render()
	contains(t, out, "edge-eu-1", "edge-us-1", "lab-1", "INACTIVE", "ok 9ms", "env:dev")
	var okStatus bool
	for _, m := range d.Seen {
		if s, ok := m.(ui.StatusMsg); ok && s.Err == nil {
			okStatus = true
		}
	}
	if !okStatus {
		t.Fatal("no successful status reported")
	}

	// Filter.
	d.Key("/")
	if !v.Capturing() {
		t.Fatal("filter not capturing")
	}
	d.Type("prod")
	d.Key("enter")
	out = render()
	contains(t, out, "edge-eu-1", "edge-us-1")
	if strings.Contains(out, "lab-1") {
		t.Fatalf("filter prod shows lab-1:\n%s", out)
	}

	// Detail of edge-eu-1.
	d.Run(d.Key("enter"))
	out = render()
	contains(t, out, "Agent edge-eu-1/eu-west", "reachable · API 9ms", "owner = platform", "env:prod",
		"Targets (1)", "Associated stacks (2)", "web", "by target", "metrics", "by label/annotation",
		"Generator registrations (2)", "gen-web", "__system__",
		"Recent events (2)", "DEPLOY   SUCCESS", "DEPLOY   FAILURE", "configmaps is forbidden",
		"Connection", "Pending")
	if strings.Index(out, "SUCCESS") > strings.Index(out, "FAILURE") {
		t.Fatalf("events not newest first:\n%s", out)
	}

	// Pause, then resume, each confirmed.
	d.Run(d.Key("p"))
	c := d.LastConfirm(t)
	if c.Prompt != "Pause agent edge-eu-1/eu-west (status INACTIVE)?" {
		t.Fatalf("prompt %q", c.Prompt)
	}
	if got := statusOf(t, b, eu.ID); got != "ACTIVE" {
		t.Fatalf("paused before the confirmation: %s", got)
	}
	d.Run(c.On)
	if got := statusOf(t, b, eu.ID); got != "INACTIVE" {
		t.Fatalf("after pause the broker says %s", got)
	}
	if f := d.LastFlash(); f.Error || f.Text != "paused agent edge-eu-1/eu-west" {
		t.Fatalf("flash %#v", f)
	}
	contains(t, render(), "Agent edge-eu-1/eu-west  INACTIVE")
	d.Run(d.Key("p"))
	c = d.LastConfirm(t)
	if c.Prompt != "Resume agent edge-eu-1/eu-west (status ACTIVE)?" {
		t.Fatalf("prompt %q", c.Prompt)
	}
	d.Run(c.On)
	if got := statusOf(t, b, eu.ID); got != "ACTIVE" {
		t.Fatalf("after resume the broker says %s", got)
	}
	contains(t, render(), "Agent edge-eu-1/eu-west  ACTIVE")

	// Add a label: no confirmation.
	d.Key("l")
	if !v.Capturing() {
		t.Fatal("label editor not capturing")
	}
	d.Type("+tier:edge")
	d.Run(d.Key("enter"))
	if got := strings.Join(labelsOf(t, b, eu.ID), ","); got != "env:prod,tier:edge" {
		t.Fatalf("labels after add: %s", got)
	}
	if f := d.LastFlash(); f.Error || f.Text != "labels of edge-eu-1/eu-west: added tier:edge" {
		t.Fatalf("flash %#v", f)
	}
	contains(t, render(), "env:prod  tier:edge")

	// Remove one: confirmed.
	d.Key("l")
	d.Type("-env:prod")
	d.Run(d.Key("enter"))
	c = d.LastConfirm(t)
	if c.Prompt != "Remove label env:prod from agent edge-eu-1/eu-west?" {
		t.Fatalf("prompt %q", c.Prompt)
	}
	if got := strings.Join(labelsOf(t, b, eu.ID), ","); got != "env:prod,tier:edge" {
		t.Fatalf("removed before the confirmation: %s", got)
	}
	d.Run(c.On)
	if got := strings.Join(labelsOf(t, b, eu.ID), ","); got != "tier:edge" {
		t.Fatalf("labels after remove: %s", got)
	}
	out = render()
	contains(t, out, "Labels (1)", "tier:edge")
	// Without its label, metrics is no longer associated.
	contains(t, out, "Associated stacks (1)")

	// Back to the list: the filter stays, and edge-eu-1 no longer matches it.
	d.Key("esc")
	out = render()
	contains(t, out, "filter: prod", "edge-us-1")
	if strings.Contains(out, "edge-eu-1") {
		t.Fatalf("edge-eu-1 still matches prod:\n%s", out)
	}

	// A label the broker refuses is reported, not hidden.
	if err := b.Admin.Agents().RemoveLabel(ctx, us.ID, "env:prod"); err != nil {
		t.Fatal(err)
	}
	d.Key("l") // the view still believes edge-us-1 has env:prod
	d.Type("-env:prod")
	d.Run(d.Key("enter"))
	d.Run(d.LastConfirm(t).On)
	if f := d.LastFlash(); !f.Error || !strings.Contains(f.Text, "agent_label_not_found") {
		t.Fatalf("flash of a refused removal %#v", f)
	}
}

// TestConfirmFlowInDashboard drives the whole dashboard: p asks in the status line, y pauses
// the agent on the broker and the outcome shows.
func TestConfirmFlowInDashboard(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	// No heartbeats: the screen holds no times, so it can be compared with a golden file.
	a := b.CreateAgent(t, "edge-eu-1", "eu-west", true)
	b.CreateAgent(t, "lab-1", "lab", false)
	if _, err := b.Admin.Agents().AddLabel(ctx, a.ID, "env:prod"); err != nil {
		t.Fatal(err)
	}
	fixed := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	m := tui.New(ctx, tui.Options{Client: b.Admin, BrokerURL: "http://broker.test:3000", ContextName: "test",
		NoColor: true, Dark: true, RefreshEvery: 10 * time.Millisecond, Now: func() time.Time { return fixed },
		Views: []func(*ui.Env) ui.View{agents.New}})
	d := &viewtest.Driver{T: t, Update: func(msg tea.Msg) tea.Cmd {
		_, cmd := m.Update(msg)
		return cmd
	}, Feed: viewtest.Types(agents.LoadedMsg{}, agents.DetailMsg{}, agents.ActionMsg{}, ui.FlashMsg{}, ui.StatusMsg{}, ui.ConfirmMsg{})}
	m.Update(tea.WindowSizeMsg{Width: 80, Height: 24})
	d.Run(m.Init())

	d.Run(d.Key("p"))
	t.Run("asking", func(t *testing.T) { golden.RequireEqual(t, ui.Plain(m.Render())) })
	if got := statusOf(t, b, a.ID); got != "ACTIVE" {
		t.Fatalf("paused before the answer: %s", got)
	}
	d.Run(d.Key("y"))
	if got := statusOf(t, b, a.ID); got != "INACTIVE" {
		t.Fatalf("after y the broker says %s", got)
	}
	t.Run("done", func(t *testing.T) { golden.RequireEqual(t, ui.Plain(m.Render())) })
}
