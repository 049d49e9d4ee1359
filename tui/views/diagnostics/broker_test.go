package diagnostics

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// driver runs a view's commands against a real broker the way the program would, feeding
// the view its own answers. Poll ticks are kept for the test to deliver, so it decides when
// the view looks again; list ticks and spinner frames are dropped.
type driver struct{ viewtest.Driver }

func newDriver(t *testing.T, v ui.View) *driver {
	return &driver{viewtest.Driver{T: t, View: v, Reachable: true,
		Feed: viewtest.Types(AgentsMsg{}, ObjectsMsg{}, RequestedMsg{}, PolledMsg{})}}
}

// polls returns the poll ticks the view scheduled that were not delivered yet.
func (d *driver) polls() []PollMsg {
	var out []PollMsg
	for _, m := range d.Held {
		if p, ok := m.(PollMsg); ok {
			out = append(out, p)
		}
	}
	return out
}

// deliverPoll hands the view the poll tick it last scheduled.
func (d *driver) deliverPoll() {
	d.T.Helper()
	polls := d.polls()
	if len(polls) == 0 {
		d.T.Fatal("the view scheduled no poll")
	}
	d.Held = slices.DeleteFunc(d.Held, func(m tea.Msg) bool { _, ok := m.(PollMsg); return ok })
	var cmd tea.Cmd
	d.View, cmd = d.View.Update(polls[len(polls)-1])
	if cmd == nil {
		d.T.Fatal("the poll tick does not poll")
	}
	d.Run(cmd)
}

func TestAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-1", "cluster-1", true)
	b.CreateAgent(t, "edge-2", "cluster-2", true)
	st := b.CreateStack(t, "web-app", a.ID)
	b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-v1\n", false)
	obj := b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web-v2\n  namespace: shop\n", false)

	env := viewtest.Env(now, time.Second)
	env.Client = b.Admin
	env.Now = time.Now
	env.RefreshEvery = time.Millisecond
	m := New(env).(*Model)
	m.pollEvery = time.Millisecond
	d := newDriver(t, m)
	d.Run(m.Init())
	if len(m.agents) != 2 || m.agents[0].Name != "edge-1" {
		t.Fatalf("agents %v", m.agents)
	}

	// The agent's objects: the latest of its stack, named after the stack.
	d.Press("enter")
	if m.objectsErr != nil || len(m.objects) != 1 {
		t.Fatalf("objects %v, err %v", m.objects, m.objectsErr)
	}
	if o := m.objects[0]; o.obj.ID != obj.ID || o.stack != "web-app" || o.content != "ConfigMap/web-v2" {
		t.Fatalf("object %+v, want the latest of web-app", o)
	}

	// Request diagnostics: the broker has a pending request for the agent.
	d.Press("enter")
	if m.screen != screenWaiting || m.creating || m.waitErr != nil {
		t.Fatalf("after enter: screen %v creating %v err %v", m.screen, m.creating, m.waitErr)
	}
	pending, err := a.Client.Diagnostics().Pending(ctx, a.ID)
	if err != nil || len(pending) != 1 || pending[0].ID != m.cur.req.ID || pending[0].DeploymentObjectID != obj.ID {
		t.Fatalf("pending %v, %v", pending, err)
	}
	if pending[0].RequestedBy == nil || *pending[0].RequestedBy != requestedBy {
		t.Fatalf("requested_by %v", pending[0].RequestedBy)
	}

	// Nothing collected yet: the poll keeps waiting.
	d.deliverPoll()
	if m.screen != screenWaiting || m.cur.req.Status != client.DiagnosticPending || len(d.polls()) != 1 {
		t.Fatalf("after a poll: screen %v status %s, %d polls scheduled", m.screen, m.cur.req.Status, len(d.polls()))
	}

	// The agent claims the request; the view shows it.
	if _, err := a.Client.Diagnostics().Claim(ctx, pending[0].ID); err != nil {
		t.Fatal(err)
	}
	d.deliverPoll()
	if m.cur.req.Status != client.DiagnosticClaimed {
		t.Fatalf("status %s after the claim", m.cur.req.Status)
	}
	if out := ui.Plain(m.Render(80, 24)); !strings.Contains(out, "Waiting for edge-1 to collect diagnostics… claimed") {
		t.Fatalf("waiting render:\n%s", out)
	}

	// The agent submits what it collected; the next poll shows the result.
	logs := logsJSON
	if _, err := a.Client.Diagnostics().SubmitResult(ctx, pending[0].ID, client.SubmitDiagnosticResult{
		PodStatuses: podsJSON, Events: eventsJSON, LogTails: &logs, CollectedAt: time.Now().Add(-time.Second),
	}); err != nil {
		t.Fatal(err)
	}
	d.deliverPoll()
	if m.screen != screenResult || m.cur.req.Status != client.DiagnosticCompleted {
		t.Fatalf("after the result: screen %v status %s", m.screen, m.cur.req.Status)
	}
	if len(d.polls()) != 0 {
		t.Fatal("the view keeps polling after the result")
	}
	checks := []struct {
		tab  string
		want []string
	}{
		{"p", []string{"shop/web-7d9c5b-p9z1m", "CrashLoopBackOff", "container envoy: Running, ready, 0 restarts"}},
		{"e", []string{"Warning BackOff", "Pod/web-7d9c5b-p9z1m", "Scaled up replica set web-7d9c5b to 2"}},
		{"l", []string{"web-7d9c5b-p9z1m/web (last 5 lines)", "panic: DATABASE_URL is not set"}},
	}
	for _, c := range checks {
		d.Press(c.tab)
		out := ui.Plain(m.Render(100, 30))
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Fatalf("tab %s lacks %q:\n%s", c.tab, w, out)
			}
		}
	}

	// The session's list has it, completed.
	d.Press("esc", "h")
	if m.screen != screenHistory || len(m.history) != 1 || m.history[0].req.Status != client.DiagnosticCompleted {
		t.Fatalf("history screen %v: %d entries", m.screen, len(m.history))
	}
}

func TestRequestRefusedAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-1", "cluster-1", true)
	st := b.CreateStack(t, "web-app", a.ID)
	b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)

	env := viewtest.Env(now, time.Second)
	env.Client = b.Admin
	env.Now = time.Now
	env.RefreshEvery = time.Millisecond
	m := New(env).(*Model)
	d := newDriver(t, m)
	d.Run(m.Init())
	d.Press("enter")
	if len(m.objects) != 1 {
		t.Fatalf("objects %v", m.objects)
	}
	// The agent is deleted meanwhile: the broker refuses the request (404).
	if err := b.Admin.Agents().Delete(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	d.Press("enter")
	if m.screen != screenWaiting || !m.creating || !client.IsNotFound(m.waitErr) {
		t.Fatalf("screen %v creating %v err %v", m.screen, m.creating, m.waitErr)
	}
	if len(d.Flashes) == 0 || !d.Flashes[len(d.Flashes)-1].Error {
		t.Fatalf("flashes %v", d.Flashes)
	}
	if out := ui.Plain(m.Render(80, 24)); !strings.Contains(out, "The request could not be made") {
		t.Fatalf("render:\n%s", out)
	}
}
