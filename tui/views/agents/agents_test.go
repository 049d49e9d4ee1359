package agents

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) *time.Time { t := now.Add(-d); return &t }

// fixed ids keep the golden files stable.
func id(n int) uuid.UUID { return uuid.MustParse(fmt.Sprintf("%08d-0000-4000-8000-%012d", n*1111, n)) }

func fixture() LoadedMsg {
	agents := []client.Agent{
		{ID: id(3), Name: "lab-1", ClusterName: "lab", Status: StatusInactive, CreatedAt: now.Add(-30 * 24 * time.Hour)},
		{ID: id(1), Name: "edge-eu-1", ClusterName: "eu-west", Status: StatusActive, LastHeartbeat: ago(12 * time.Second),
			K8sReachable: viewtest.Ptr(true), K8sAPILatencyMs: viewtest.Ptr(int32(14)), K8sReportedAt: ago(12 * time.Second), CreatedAt: now.Add(-72 * time.Hour)},
		{ID: id(2), Name: "edge-us-1", ClusterName: "us-east", Status: StatusActive, LastHeartbeat: ago(3 * time.Minute),
			K8sReachable: viewtest.Ptr(false), K8sReportedAt: ago(3 * time.Minute), CreatedAt: now.Add(-48 * time.Hour)},
		{ID: id(4), Name: "staging-1", ClusterName: "staging", Status: StatusActive, LastHeartbeat: ago(40 * time.Second),
			K8sReachable: viewtest.Ptr(true), CreatedAt: now.Add(-5 * time.Hour)},
	}
	return LoadedMsg{Agents: agents, At: now, Labels: map[uuid.UUID][]string{
		id(1): {"region:eu", "env:prod"},
		id(2): {"env:prod", "region:us"},
		id(3): {"env:dev"},
	}, States: map[uuid.UUID][]StackState{id(1): fixtureStates()}}
}

// fixtureStates are the drift of stack web and the wait of stack metrics on edge-eu-1.
func fixtureStates() []StackState {
	return []StackState{
		{Stack: client.Stack{ID: id(10), Name: "web"}, Drift: &client.StackDrift{AgentID: id(1), AgentName: "edge-eu-1",
			Status: client.DriftDrifted, ReportedAt: now.Add(-6 * time.Minute), Objects: []client.DriftedObject{
				{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web", Name: "web", Paths: []string{"spec.template.spec.containers[web].image"}},
				{APIVersion: "v1", Kind: "ConfigMap", Namespace: "web", Name: "settings", Paths: []string{"data.color"}}}}},
		{Stack: client.Stack{ID: id(11), Name: "metrics"}, Waiting: &client.WaitingAgent{AgentID: id(1), AgentName: "edge-eu-1",
			Since: now.Add(-3 * time.Minute), WaitingFor: []client.DependencyWait{{StackID: id(10), StackName: "web", Reason: "not healthy: degraded"}}}},
	}
}

func detailFixture() *Detail {
	l := fixture().Agents[1]
	gen := id(20)
	sys := id(21)
	events := []client.AgentEvent{
		{ID: id(30), CreatedAt: now.Add(-2 * time.Minute), DeploymentObjectID: id(41), EventType: "DEPLOY", Status: "SUCCESS"},
		{ID: id(31), CreatedAt: now.Add(-50 * time.Minute), DeploymentObjectID: id(40), EventType: "DEPLOY", Status: "FAILURE",
			Message: viewtest.Ptr("apply Deployment web: admission webhook denied the request\nsecond line")},
	}
	return &Detail{
		Agent:       l,
		Labels:      []string{"region:eu", "env:prod"},
		Annotations: []client.AgentAnnotation{{Key: "owner", Value: "platform-team"}},
		Targets:     []client.AgentTarget{{AgentID: l.ID, StackID: id(10)}, {AgentID: l.ID, StackID: id(12)}},
		Registrations: []client.AgentGeneratorRegistration{
			{AgentID: l.ID, GeneratorID: sys, RegisteredAt: now.Add(-72 * time.Hour)},
			{AgentID: l.ID, GeneratorID: gen, RegisteredAt: now.Add(-2 * time.Hour)},
		},
		Generators: map[uuid.UUID]string{gen: "ci-pipeline", sys: "__system__"},
		Stacks: []client.Stack{
			{ID: id(10), Name: "web", GeneratorID: gen},
			{ID: id(11), Name: "metrics", GeneratorID: gen},
		},
		Events: events,
		States: fixtureStates(),
		Fleet: &client.FleetAgentRecord{AgentID: l.ID, WSConnected: true, ConnectedSince: ago(25 * time.Minute),
			PendingObjectCount: 1, HealthFailing: 1, HealthDegraded: 2, LastEventAt: ago(2 * time.Minute)},
	}
}

func newModel(t *testing.T) *Model {
	t.Helper()
	m := New(viewtest.Env(now, time.Second)).(*Model)
	m.Update(fixture())
	return m
}

func press(m *Model, keys ...string) tea.Cmd {
	_, cmd := viewtest.Press(m, keys...)
	return cmd
}

// openDetail opens the selected agent and answers the detail request.
func openDetail(t *testing.T, m *Model) {
	t.Helper()
	if cmd := press(m, "enter"); cmd == nil {
		t.Fatal("enter returned no load command")
	}
	if m.mode != modeDetail {
		t.Fatal("enter did not open the detail")
	}
	m.Update(DetailMsg{Gen: m.detailReqs.Last(), At: now, AgentID: m.current.ID, Detail: detailFixture()})
}

func TestListRender(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {120, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			m := newModel(t)
			golden.RequireEqual(t, viewtest.Render(t, m, size[0], size[1]))
		})
	}
}

func TestListSortedAndLabelsSorted(t *testing.T) {
	m := newModel(t)
	var names []string
	for _, a := range m.visible() {
		names = append(names, a.Name)
	}
	if got := strings.Join(names, ","); got != "edge-eu-1,edge-us-1,lab-1,staging-1" {
		t.Fatalf("order %s", got)
	}
	if got := strings.Join(m.labels[id(1)], ","); got != "env:prod,region:eu" {
		t.Fatalf("labels %s", got)
	}
}

func TestEmptyAndTinyRenders(t *testing.T) {
	m := New(viewtest.Env(now, time.Second)).(*Model)
	if out := viewtest.Render(t, m, 80, 5); !strings.Contains(out, "loading…") {
		t.Fatalf("before the first answer:\n%s", out)
	}
	m.Update(LoadedMsg{Gen: 1, At: now, Agents: []client.Agent{}})
	if out := viewtest.Render(t, m, 80, 5); !strings.Contains(out, "no agents") {
		t.Fatalf("empty fleet:\n%s", out)
	}
	for _, size := range [][2]int{{1, 1}, {3, 2}, {10, 3}} {
		viewtest.Render(t, m, size[0], size[1])
	}
	if m.Render(0, 0) != "" {
		t.Fatal("0×0 render is not empty")
	}
	// Keys on an empty list do nothing and never panic.
	for _, k := range []string{"j", "k", "enter", "p", "l", "G"} {
		if cmd := press(m, k); cmd != nil && k != "enter" {
			t.Fatalf("%s on an empty list returned a command", k)
		}
	}
	if m.mode != modeList || m.editing {
		t.Fatal("keys on an empty list changed the mode")
	}
}

func TestFilter(t *testing.T) {
	m := newModel(t)
	press(m, "/")
	if !m.Capturing() {
		t.Fatal("not capturing while the filter is typed")
	}
	viewtest.Type(m, "prod")
	press(m, "enter")
	if m.Capturing() || m.list.Filter != "prod" {
		t.Fatalf("filter %q, capturing %v", m.list.Filter, m.Capturing())
	}
	if n := len(m.visible()); n != 2 {
		t.Fatalf("%d agents match prod, want 2", n)
	}
	golden.RequireEqual(t, viewtest.Render(t, m, 80, 24))

	// Filters match cluster and status too; every word must match.
	m.list.Filter = "INACTIVE lab"
	if rows := m.visible(); len(rows) != 1 || rows[0].Name != "lab-1" {
		t.Fatalf("INACTIVE lab matched %v", rows)
	}
	m.list.Filter = "eu-west"
	if rows := m.visible(); len(rows) != 1 || rows[0].Name != "edge-eu-1" {
		t.Fatalf("eu-west matched %v", rows)
	}
	// esc clears it.
	press(m, "esc")
	if m.list.Filter != "" || len(m.visible()) != 4 {
		t.Fatalf("esc left filter %q", m.list.Filter)
	}
}

func TestCursorFollowsAgentAcrossReloads(t *testing.T) {
	m := newModel(t)
	press(m, "j")
	if a, _ := m.selected(); a.Name != "edge-us-1" {
		t.Fatalf("selected %s", a.Name)
	}
	// A new agent sorts before the selected one; the cursor stays on edge-us-1.
	msg := fixture()
	msg.Gen = 5
	msg.Agents = append(msg.Agents, client.Agent{ID: id(5), Name: "edge-ap-1", ClusterName: "ap", Status: StatusActive})
	m.Update(msg)
	if a, _ := m.selected(); a.Name != "edge-us-1" || m.list.Cursor != 2 {
		t.Fatalf("after reload selected %s at %d", a.Name, m.list.Cursor)
	}
	// An older answer arriving late is dropped.
	stale := fixture()
	stale.Gen = msg.Gen - 1
	m.Update(stale)
	if len(m.agents) != 5 {
		t.Fatalf("stale answer applied: %d agents", len(m.agents))
	}
	// Cursor movement clamps at both ends.
	press(m, "G", "j", "j")
	if m.list.Cursor != 4 {
		t.Fatalf("cursor %d at the end", m.list.Cursor)
	}
	press(m, "g", "k")
	if m.list.Cursor != 0 {
		t.Fatalf("cursor %d at the top", m.list.Cursor)
	}
}

func TestLoadErrorKeepsData(t *testing.T) {
	m := newModel(t)
	_, cmd := m.Update(LoadedMsg{Gen: 99, At: now, Err: errors.New("dial tcp 127.0.0.1:1: connection refused")})
	if len(m.agents) != 4 {
		t.Fatalf("error dropped the data: %d agents", len(m.agents))
	}
	st, ok := cmd().(ui.StatusMsg)
	if !ok || st.Err == nil {
		t.Fatalf("load error reported %#v", st)
	}
	out := viewtest.Render(t, m, 80, 24)
	if !strings.Contains(out, "error: dial tcp 127.0.0.1:1: connection refused") || !strings.Contains(out, "edge-eu-1") {
		t.Fatalf("error render:\n%s", out)
	}
	// Labels that could not be read keep their last value.
	part := fixture()
	part.Gen, part.Err = 100, errors.New("labels of lab-1: boom")
	delete(part.Labels, id(3))
	m.Update(part)
	if got := strings.Join(m.labels[id(3)], ","); got != "env:dev" {
		t.Fatalf("labels of lab-1 after a failed read: %q", got)
	}
}

func TestTickReloads(t *testing.T) {
	m := newModel(t)
	gen := m.listReqs.Last()
	_, cmd := m.Update(TickMsg{})
	if cmd == nil || m.listReqs.Last() != gen+1 {
		t.Fatalf("tick did not reload (gen %d → %d)", gen, m.listReqs.Last())
	}
	openDetail(t, m)
	dgen := m.detailReqs.Last()
	m.Update(TickMsg{})
	if m.detailReqs.Last() != dgen+1 {
		t.Fatal("tick on the detail page did not reload the detail")
	}
	press(m, "r")
	if m.detailReqs.Last() != dgen+2 {
		t.Fatal("r on the detail page did not reload the detail")
	}
}

func TestDetail(t *testing.T) {
	m := newModel(t)
	press(m, "/")
	viewtest.Type(m, "edge")
	press(m, "enter")
	openDetail(t, m)
	if m.current.Name != "edge-eu-1" {
		t.Fatalf("opened %s", m.current.Name)
	}
	t.Run("full", func(t *testing.T) { golden.RequireEqual(t, viewtest.Render(t, m, 100, 50)) })
	t.Run("80x24", func(t *testing.T) { golden.RequireEqual(t, viewtest.Render(t, m, 80, 24)) })

	// Back to the list keeps the cursor and the filter.
	press(m, "esc")
	if m.mode != modeList || m.list.Filter != "edge" || m.list.Cursor != 0 {
		t.Fatalf("back: mode %d filter %q cursor %d", m.mode, m.list.Filter, m.list.Cursor)
	}
	press(m, "j", "enter")
	if m.current.Name != "edge-us-1" || m.detail != nil {
		t.Fatalf("second open: %s, stale detail %v", m.current.Name, m.detail != nil)
	}
	if out := viewtest.Render(t, m, 80, 24); !strings.Contains(out, "Agent edge-us-1/us-east") || !strings.Contains(out, "loading…") {
		t.Fatalf("detail while loading:\n%s", out)
	}
	// A late answer for the first agent is not shown as the second.
	m.Update(DetailMsg{Gen: m.detailReqs.Last(), At: now, AgentID: id(1), Detail: detailFixture()})
	if m.detail != nil {
		t.Fatal("detail of another agent applied")
	}
	press(m, "esc")
	if m.list.Cursor != 1 {
		t.Fatalf("cursor %d after the second detail", m.list.Cursor)
	}
}

func TestDetailLoadError(t *testing.T) {
	m := newModel(t)
	openDetail(t, m)
	m.Update(DetailMsg{Gen: m.detailReqs.Last() + 1, At: now, AgentID: m.current.ID, Err: errors.New("GET /agents/x: 503")})
	out := viewtest.Render(t, m, 80, 24)
	if !strings.Contains(out, "error: GET /agents/x: 503") || !strings.Contains(out, "Labels (2)") {
		t.Fatalf("failed reload must keep the last detail and show the error:\n%s", out)
	}
}

func TestDetailScrolling(t *testing.T) {
	m := newModel(t)
	openDetail(t, m)
	const h = 12
	total := len(m.detailLines())
	body := h - 1
	viewtest.Render(t, m, 80, h)
	press(m, "j", "j", "j")
	if m.scroll != 3 {
		t.Fatalf("scroll %d after 3×j", m.scroll)
	}
	press(m, "k")
	if m.scroll != 2 {
		t.Fatalf("scroll %d after k", m.scroll)
	}
	press(m, "pgdown")
	if m.scroll != 2+h-2 {
		t.Fatalf("scroll %d after pgdown", m.scroll)
	}
	golden.RequireEqual(t, viewtest.Render(t, m, 80, h))
	press(m, "G")
	if m.scroll != total-body {
		t.Fatalf("scroll %d at the end, want %d", m.scroll, total-body)
	}
	press(m, "j", "pgdown")
	if m.scroll != total-body {
		t.Fatalf("scrolled past the end: %d", m.scroll)
	}
	out := viewtest.Render(t, m, 80, h)
	if !strings.Contains(out, "DEPLOY   FAILURE") {
		t.Fatalf("the last page does not show the last event:\n%s", out)
	}
	press(m, "pgup", "pgup", "pgup", "pgup", "pgup")
	if m.scroll != 0 {
		t.Fatalf("scroll %d after pgup", m.scroll)
	}
	// Tiny screens, with and without the label editor, never break the frame.
	for _, size := range [][2]int{{1, 1}, {5, 2}, {20, 3}, {30, 4}} {
		viewtest.Render(t, m, size[0], size[1])
	}
	press(m, "G", "l")
	for _, size := range [][2]int{{1, 1}, {5, 2}, {20, 3}, {80, 12}} {
		viewtest.Render(t, m, size[0], size[1])
	}
	if out := viewtest.Render(t, m, 80, 12); !strings.Contains(out, "labels> ") {
		t.Fatalf("label editor missing on the detail page:\n%s", out)
	}
	press(m, "esc")
	if m.mode != modeDetail {
		t.Fatal("esc in the editor left the detail page")
	}
	// A screen taller than the page does not scroll.
	viewtest.Render(t, m, 80, 60)
	press(m, "j", "G")
	if m.scroll != 0 {
		t.Fatalf("scrolled a page that fits: %d", m.scroll)
	}
}

func TestLabelEditor(t *testing.T) {
	m := newModel(t)
	if press(m, "l") == nil {
		t.Fatal("l did not focus the editor")
	}
	if !m.Capturing() || !m.editing {
		t.Fatal("label editor not capturing")
	}
	// Global keys are typed, not acted on.
	viewtest.Type(m, "+tier:edge -env:prod")
	if m.mode != modeList || m.input.Value() != "+tier:edge -env:prod" {
		t.Fatalf("typed %q", m.input.Value())
	}
	golden.RequireEqual(t, viewtest.Render(t, m, 80, 24))

	cmd := press(m, "enter")
	if m.Capturing() {
		t.Fatal("still capturing after enter")
	}
	c, ok := cmd().(ui.ConfirmMsg)
	if !ok {
		t.Fatalf("removing a label is not confirmed: %T", cmd())
	}
	if want := "Remove label env:prod from agent edge-eu-1/eu-west and add tier:edge?"; c.Prompt != want {
		t.Fatalf("prompt %q, want %q", c.Prompt, want)
	}
	if c.On == nil {
		t.Fatal("confirmation without an action")
	}
}

func TestLabelEditorAddOnlyAndCancel(t *testing.T) {
	m := newModel(t)
	press(m, "l")
	viewtest.Type(m, "tier:edge env:prod")
	cmd := press(m, "enter")
	msg := cmd()
	if _, ok := msg.(ui.ConfirmMsg); ok {
		t.Fatal("adding labels asked for confirmation")
	}
	// Without a broker the action reports that, with what it meant to do.
	act, ok := msg.(ActionMsg)
	if !ok || act.Err == nil {
		t.Fatalf("add-only action returned %#v", msg)
	}

	// esc cancels without a command.
	press(m, "l")
	viewtest.Type(m, "-env:prod")
	if cmd := press(m, "esc"); cmd != nil || m.Capturing() {
		t.Fatal("esc did not cancel the editor")
	}

	// Edits that change nothing say so.
	press(m, "l")
	viewtest.Type(m, "+env:prod -nope")
	f, ok := press(m, "enter")().(ui.FlashMsg)
	if !ok || f.Error || f.Text != "no label changes (already has env:prod; has no nope)" {
		t.Fatalf("no-op edit: %#v", f)
	}

	// Invalid input keeps the editor open with an error.
	press(m, "l")
	viewtest.Type(m, "+")
	f, ok = press(m, "enter")().(ui.FlashMsg)
	if !ok || !f.Error || !m.Capturing() {
		t.Fatalf("invalid edit: %#v, capturing %v", f, m.Capturing())
	}
}

func TestParseLabelEdits(t *testing.T) {
	for _, tc := range []struct {
		in          string
		add, remove string
		err         bool
	}{
		{in: "+a -b c", add: "a,c", remove: "b"},
		{in: "  +a   +a  -b -b ", add: "a", remove: "b"},
		{in: "-x", remove: "x"},
		{in: "+a -a", err: true},
		{in: "-", err: true},
		{in: "", err: true},
		{in: "+" + strings.Repeat("x", 65), err: true},
		{in: "+" + strings.Repeat("x", 64), add: strings.Repeat("x", 64)},
	} {
		add, remove, err := parseLabelEdits(tc.in)
		if (err != nil) != tc.err {
			t.Fatalf("%q: err %v", tc.in, err)
		}
		if strings.Join(add, ",") != tc.add || strings.Join(remove, ",") != tc.remove {
			t.Fatalf("%q: add %v remove %v", tc.in, add, remove)
		}
	}
}

func TestPauseResumeConfirm(t *testing.T) {
	m := newModel(t)
	c, ok := press(m, "p")().(ui.ConfirmMsg)
	if !ok || c.Prompt != "Pause agent edge-eu-1/eu-west (status INACTIVE)?" || c.On == nil {
		t.Fatalf("pause: %#v", c)
	}
	press(m, "j", "j") // lab-1 is INACTIVE
	c, ok = press(m, "p")().(ui.ConfirmMsg)
	if !ok || c.Prompt != "Resume agent lab-1/lab (status ACTIVE)?" {
		t.Fatalf("resume: %#v", c)
	}
	// On the detail page the action applies to the open agent.
	openDetail(t, m)
	c, ok = press(m, "p")().(ui.ConfirmMsg)
	if !ok || !strings.HasPrefix(c.Prompt, "Resume agent lab-1/lab") {
		t.Fatalf("detail pause: %#v", c)
	}
}

func TestActionOutcome(t *testing.T) {
	m := newModel(t)
	gen := m.listReqs.Last()
	_, cmd := m.Update(ActionMsg{At: now, Text: "paused agent edge-eu-1/eu-west"})
	msgs := cmd().(tea.BatchMsg)
	var flash ui.FlashMsg
	for _, c := range msgs {
		if f, ok := c().(ui.FlashMsg); ok {
			flash = f
		}
	}
	if flash.Text != "paused agent edge-eu-1/eu-west" || flash.Error || m.listReqs.Last() != gen+1 {
		t.Fatalf("flash %#v, reload gen %d → %d", flash, gen, m.listReqs.Last())
	}
	_, cmd = m.Update(ActionMsg{At: now, Text: "labels of x", Err: &client.Error{StatusCode: 404, Code: "agent_label_not_found"}})
	for _, c := range cmd().(tea.BatchMsg) {
		switch msg := c().(type) {
		case ui.FlashMsg:
			if !msg.Error || !strings.Contains(msg.Text, "agent_label_not_found") {
				t.Fatalf("error flash %#v", msg)
			}
		case ui.StatusMsg:
			if msg.Err != nil {
				t.Fatal("a refused action marked the broker unreachable")
			}
		}
	}
}

func TestKeys(t *testing.T) {
	m := newModel(t)
	if got := viewtest.HelpKeys(m); got != "↑/k ↓/j enter / p l r" {
		t.Fatalf("list keys %q", got)
	}
	openDetail(t, m)
	if got := viewtest.HelpKeys(m); got != "↑↓/jk pgup/pgdn esc p l r" {
		t.Fatalf("detail keys %q", got)
	}
	press(m, "l")
	if got := viewtest.HelpKeys(m); got != "enter esc" {
		t.Fatalf("editor keys %q", got)
	}
	for _, k := range m.Keys() {
		for _, g := range []string{"q", "?", "tab", "shift+tab", "1", "c", "ctrl+c"} {
			for _, kk := range k.Keys() {
				if kk == g {
					t.Fatalf("binds global key %s", g)
				}
			}
		}
	}
}
