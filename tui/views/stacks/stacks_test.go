package stacks

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func newView(t *testing.T) *Model {
	t.Helper()
	return New(viewtest.Env(now, time.Second)).(*Model)
}

func send(v *Model, msgs ...tea.Msg) tea.Cmd {
	var cmds []tea.Cmd
	for _, m := range msgs {
		_, cmd := v.Update(m)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

func keys(v *Model, ks ...string) tea.Cmd {
	var cmds []tea.Cmd
	for _, k := range ks {
		cmds = append(cmds, send(v, viewtest.Key(k)))
	}
	return tea.Batch(cmds...)
}

func id(n int) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("%08x-5e1d-4c0a-9b7e-3f2a1c0d%04x", uint32(n*0x1111111), n))
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

var (
	genCI      = id(100)
	genNightly = id(101)
	genGone    = id(102)

	stWeb     = client.Stack{ID: id(1), Name: "web", GeneratorID: genCI, CreatedAt: now.Add(-74 * time.Hour)}
	stAPI     = client.Stack{ID: id(2), Name: "api", GeneratorID: genCI, CreatedAt: now.Add(-5 * time.Hour)}
	stBatch   = client.Stack{ID: id(3), Name: "batch-jobs", GeneratorID: genNightly, CreatedAt: now.Add(-40 * time.Minute)}
	stMonitor = client.Stack{ID: id(4), Name: "monitoring", GeneratorID: genGone, CreatedAt: now.Add(-12 * 24 * time.Hour)}
)

func fixtureStacks() StacksLoadedMsg {
	return StacksLoadedMsg{
		Stacks:     []client.Stack{stWeb, stAPI, stBatch, stMonitor},
		Generators: map[uuid.UUID]string{genCI: "ci-main", genNightly: "nightly"},
	}
}

func fixtureExtras(v *Model) ExtrasLoadedMsg {
	return ExtrasLoadedMsg{Extras: map[uuid.UUID]StackExtras{
		stWeb.ID:     {Labels: []string{"env:prod", "team:web"}, Objects: 3, Health: "degraded", Drifted: 1, Waiting: 1},
		stAPI.ID:     {Labels: []string{"env:prod"}, Objects: 2, Health: "healthy"},
		stBatch.ID:   {Objects: 1, Health: "failing", Drifted: -1, Waiting: -1},
		stMonitor.ID: {Labels: []string{"team:ops"}, Objects: 0, Health: "unknown"},
	}}
}

func yamlV(replicas int, image string, extra string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: web
spec:
  replicas: %d
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: nginx
          image: %s
          ports:
            - containerPort: 80%s
`, replicas, image, extra)
}

var (
	y99  = yamlV(1, "nginx:1.25", "")
	y104 = yamlV(2, "nginx:1.25", "")
	y107 = yamlV(3, "nginx:1.27", "\n          resources:\n            limits:\n              memory: 256Mi")

	obj107 = client.DeploymentObject{ID: id(17), SequenceID: 107, StackID: stWeb.ID, YAMLContent: y107, YAMLChecksum: sum(y107), SubmittedAt: now.Add(-10 * time.Minute)}
	obj104 = client.DeploymentObject{ID: id(14), SequenceID: 104, StackID: stWeb.ID, YAMLContent: y104, YAMLChecksum: sum(y104), SubmittedAt: now.Add(-2 * time.Hour)}
	obj99  = client.DeploymentObject{ID: id(9), SequenceID: 99, StackID: stWeb.ID, YAMLContent: y99, YAMLChecksum: sum(y99), SubmittedAt: now.Add(-50 * time.Hour)}

	agent1 = id(201)
	agent2 = id(202)
	agent3 = id(203)
)

func fixtureDetail(tag uint64) DetailLoadedMsg {
	return DetailLoadedMsg{
		Tag:     tag,
		Objects: []client.DeploymentObject{obj107, obj104, obj99},
		Health: &client.StackHealthResponse{StackID: stWeb.ID, OverallStatus: "degraded", DeploymentObjects: []client.DeploymentObjectHealthSummary{
			{ID: obj107.ID, Status: "degraded", HealthyAgents: 1, DegradedAgents: 1},
			{ID: obj104.ID, Status: "healthy", HealthyAgents: 1},
		}},
		AgentsLoaded: true,
		Registered:   3,
		Checked:      3,
		Agents: []AgentStatus{
			{AgentID: agent1, Name: "edge-1", Cluster: "eu-west", Status: "ACTIVE", Connected: true, Associated: true, Checked: true,
				Latest: &client.AgentEvent{AgentID: agent1, DeploymentObjectID: obj107.ID, EventType: "DEPLOY", Status: "SUCCESS",
					Message: viewtest.Ptr("applied 1 resource"), CreatedAt: now.Add(-8 * time.Minute)}, LatestSeq: 107},
			{AgentID: agent2, Name: "edge-2", Cluster: "us-east", Status: "ACTIVE", Associated: true, Checked: true,
				Latest: &client.AgentEvent{AgentID: agent2, DeploymentObjectID: obj104.ID, EventType: "DEPLOY", Status: "FAILURE",
					Message: viewtest.Ptr("apply Deployment web/web: admission webhook denied the request"), CreatedAt: now.Add(-90 * time.Minute)}, LatestSeq: 104},
			{AgentID: agent3, Name: "edge-3", Cluster: "ap-south", Status: "INACTIVE", Associated: true, Checked: true},
		},
		Drift: []client.StackDrift{{AgentID: agent1, AgentName: "edge-1", DeploymentObjectID: obj107.ID, Status: client.DriftDrifted,
			ReportedAt: now.Add(-4 * time.Minute), Objects: []client.DriftedObject{{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "web",
				Name: "web", Paths: []string{"spec.template.spec.containers[nginx].image", "metadata.labels.tier"}}}}},
		Deps: &client.StackDependencies{DependsOn: []client.StackRef{{ID: stAPI.ID, Name: "api"}},
			Waiting: []client.WaitingAgent{{AgentID: agent3, AgentName: "edge-3", Since: now.Add(-20 * time.Minute),
				WaitingFor: []client.DependencyWait{{StackID: stAPI.ID, StackName: "api", Reason: "latest object not applied"}}}}},
	}
}

// loadedList returns a view showing the fixture stacks with their details.
func loadedList(t *testing.T) *Model {
	t.Helper()
	v := newView(t)
	v.Init()
	msg := fixtureStacks()
	msg.Tag = v.listTag
	send(v, msg)
	send(v, fixtureExtras(v))
	return v
}

// openWeb opens the "web" stack and feeds it the fixture detail.
func openWeb(t *testing.T) *Model {
	t.Helper()
	v := loadedList(t)
	keys(v, "G") // web sorts last
	if cmd := keys(v, "enter"); cmd == nil {
		t.Fatal("enter started no load")
	}
	if v.mode != modeDetail || v.detail == nil || v.detail.stack.ID != stWeb.ID {
		t.Fatalf("enter on web: mode %d detail %+v", v.mode, v.detail)
	}
	send(v, fixtureDetail(v.detail.tag), TelemetryLoadedMsg{Session: v.detail.session}, LiveOpenedMsg{Session: v.detail.session})
	return v
}

func wsFrame(t *testing.T, typ string, body any) client.WSMessage {
	t.Helper()
	m, err := client.NewWSMessage(typ, body)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func liveFrames(t *testing.T, session uint64) []tea.Msg {
	ns := "web"
	return []tea.Msg{
		LiveFrameMsg{Session: session, Frame: wsFrame(t, client.WSK8sEvent, client.K8sEvent{AgentID: agent1, StackID: stWeb.ID,
			ObservedAt: now.Add(-3 * time.Minute), Reason: "Scheduled", EventType: "Normal", Message: "Successfully assigned web/web-7d9c-x2 to node-a",
			InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "web-7d9c-x2"}})},
		LiveFrameMsg{Session: session, Frame: wsFrame(t, client.WSPodLogLine, client.PodLogLine{AgentID: agent1, StackID: stWeb.ID, Namespace: ns,
			Pod: "web-7d9c-x2", Container: "nginx", TS: now.Add(-150 * time.Second), Line: "2026/11/28 11:57:30 [notice] 1#1: start worker processes"})},
		LiveFrameMsg{Session: session, Frame: wsFrame(t, client.WSK8sEvent, client.K8sEvent{AgentID: agent2, StackID: stWeb.ID,
			ObservedAt: now.Add(-2 * time.Minute), Reason: "BackOff", EventType: "Warning", Message: "Back-off pulling image \"nginx:1.27\"",
			InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "web-5f6b-k8"}})},
		LiveFrameMsg{Session: session, Frame: wsFrame(t, client.WSLogGap, client.LogGap{AgentID: agent2, StackID: stWeb.ID,
			SinceTS: now.Add(-90 * time.Second), DroppedCount: 42, Reason: client.GapRateLimit})},
		LiveFrameMsg{Session: session, Frame: wsFrame(t, client.WSPodLogLine, client.PodLogLine{AgentID: agent1, StackID: stWeb.ID, Namespace: ns,
			Pod: "web-7d9c-x2", Container: "nginx", TS: now.Add(-60 * time.Second), Line: "10.0.3.7 - - \"GET /healthz HTTP/1.1\" 200 2"})},
	}
}

func TestGolden(t *testing.T) {
	loading := func(t *testing.T) *Model {
		v := newView(t)
		v.Init()
		return v
	}
	live := func(t *testing.T) *Model {
		v := openWeb(t)
		send(v, liveFrames(t, v.detail.session)...)
		return v
	}
	for _, c := range []struct {
		name string
		view func(*testing.T) *Model
		keys []string
		w, h int
	}{
		{"list_80x24", loadedList, nil, 80, 24},
		{"list_120x30", loadedList, []string{"j"}, 120, 30},
		{"list_loading", loading, nil, 80, 6},
		{"list_filtered", loadedList, []string{"/", "p", "r", "o", "d", "enter"}, 80, 10},
		{"detail_history", openWeb, nil, 80, 24},
		{"detail_history_marked", openWeb, []string{"j", "m", "j"}, 120, 12},
		{"detail_agents", openWeb, []string{"a"}, 80, 24},
		{"detail_agents_120", openWeb, []string{"a"}, 120, 12},
		{"detail_drift", openWeb, []string{"d"}, 120, 12},
		{"yaml", openWeb, []string{"y"}, 80, 24},
		{"diff", openWeb, []string{"j", "m", "k", "D"}, 80, 24},
		{"live_events", live, []string{"e"}, 80, 24},
		{"live_logs", live, []string{"L"}, 80, 12},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := c.view(t)
			keys(v, c.keys...)
			golden.RequireEqual(t, viewtest.Render(t, v, c.w, c.h))
		})
	}
	t.Run("yaml_scrolled", func(t *testing.T) {
		v := openWeb(t)
		keys(v, "y")
		viewtest.Render(t, v, 80, 12) // the viewer learns its page size
		keys(v, "pgdown", "right")
		golden.RequireEqual(t, viewtest.Render(t, v, 80, 12))
	})
	t.Run("detail_errors", func(t *testing.T) {
		v := loadedList(t)
		keys(v, "enter")
		d := v.detail
		boom := errors.New("GET /stacks/x/deployment-objects: connection refused")
		send(v, DetailLoadedMsg{Tag: d.tag, ObjectsErr: boom, HealthErr: boom, AgentsLoaded: true, AgentsErr: boom},
			LiveOpenedMsg{Session: d.session, Err: errors.New("open live channel: 403 forbidden")})
		golden.RequireEqual(t, viewtest.Render(t, v, 80, 8))
	})
}

func TestRenderFitsEverySize(t *testing.T) {
	views := map[string]func() *Model{
		"empty":  func() *Model { return newView(t) },
		"list":   func() *Model { return loadedList(t) },
		"detail": func() *Model { return openWeb(t) },
		"agents": func() *Model { v := openWeb(t); keys(v, "a"); return v },
		"drift":  func() *Model { v := openWeb(t); keys(v, "d"); return v },
		"events": func() *Model { v := openWeb(t); send(v, liveFrames(t, v.detail.session)...); keys(v, "e"); return v },
		"yaml":   func() *Model { v := openWeb(t); keys(v, "y"); return v },
		"diff":   func() *Model { v := openWeb(t); keys(v, "D"); return v },
		"nodata": func() *Model {
			v := newView(t)
			keys(v, "enter") // nothing to open
			v.open(client.Stack{Name: "empty"})
			return v
		},
	}
	for name, mk := range views {
		v := mk()
		for _, sz := range [][2]int{{1, 1}, {3, 2}, {10, 3}, {20, 5}, {80, 24}, {200, 60}} {
			viewtest.Render(t, v, sz[0], sz[1])
		}
		if got := v.Render(0, 0); got != "" {
			t.Errorf("%s: 0x0 render %q", name, got)
		}
	}
}

func TestListState(t *testing.T) {
	v := loadedList(t)
	if len(v.rows()) != 4 || v.stacks[0].Name != "api" {
		t.Fatalf("stacks not sorted by name: %+v", v.stacks)
	}

	// Filtering captures keys until enter, matches names, generators and labels.
	keys(v, "/")
	if !v.Capturing() {
		t.Fatal("not capturing while typing the filter")
	}
	keys(v, "n", "i", "g", "h", "t")
	if r := v.rows(); len(r) != 1 || v.stacks[r[0]].Name != "batch-jobs" {
		t.Fatalf("filter by generator name: %v", r)
	}
	keys(v, "enter")
	if v.Capturing() {
		t.Fatal("still capturing after enter")
	}
	keys(v, "esc")
	if v.list.Filter != "" || len(v.rows()) != 4 {
		t.Fatalf("esc did not clear the filter: %q", v.list.Filter)
	}
	keys(v, "/", "t", "e", "a", "m", ":", "o", "p", "s", "enter")
	if r := v.rows(); len(r) != 1 || v.stacks[r[0]].Name != "monitoring" {
		t.Fatalf("filter by label: %v", r)
	}
	keys(v, "esc")

	// The cursor stays on its stack when a reload adds one before it.
	keys(v, "j", "j") // monitoring
	v.listTag = nextTag()
	msg := fixtureStacks()
	msg.Tag = v.listTag
	msg.Stacks = append(msg.Stacks, client.Stack{ID: id(5), Name: "aaa-first", GeneratorID: genCI})
	cmd := send(v, msg)
	if got := v.stacks[v.rows()[v.list.Cursor]].Name; got != "monitoring" {
		t.Fatalf("cursor moved to %s", got)
	}
	if cmd == nil {
		t.Fatal("a load must schedule the next poll")
	}
	// The new row has no details yet: they are being fetched.
	if !v.pending[id(5)] {
		t.Fatal("details of the new visible row are not requested")
	}

	// Stale answers are dropped; errors keep the data.
	old := v.listTag
	keys(v, "r")
	if v.listTag == old {
		t.Fatal("r did not start a new load")
	}
	send(v, StacksLoadedMsg{Tag: old, Stacks: nil})
	if len(v.stacks) != 5 {
		t.Fatal("a stale answer replaced the list")
	}
	send(v, StacksLoadedMsg{Tag: v.listTag, Err: errors.New("GET /stacks: connection refused")})
	if len(v.stacks) != 5 || v.loadErr == nil {
		t.Fatal("a failed load dropped the data or the error")
	}
	if out := viewtest.Render(t, v, 80, 10); !strings.Contains(out, "refresh failed: GET /stacks: connection refused") || !strings.Contains(out, "monitoring") {
		t.Fatalf("error not shown with the data:\n%s", out)
	}
	// Ticks of an old chain do nothing; the current one reloads.
	if _, cmd := v.Update(listTickMsg{tag: old}); cmd != nil {
		t.Fatal("stale tick reloaded")
	}
	cur := v.listTag
	if _, cmd := v.Update(listTickMsg{tag: cur}); cmd == nil || v.listTag == cur {
		t.Fatal("tick did not reload")
	}
}

func TestExtrasOnlyForVisibleRows(t *testing.T) {
	v := newView(t)
	v.Init()
	var sts []client.Stack
	for i := range 1000 {
		sts = append(sts, client.Stack{ID: id(1000 + i), Name: fmt.Sprintf("stack-%04d", i), GeneratorID: genCI})
	}
	viewtest.Render(t, v, 80, 24) // the table shows 22 rows at this size
	send(v, StacksLoadedMsg{Tag: v.listTag, Stacks: sts})
	if n := len(v.pending); n != v.tableRows || n > 24 {
		t.Fatalf("details requested for %d rows, want the %d visible", n, v.tableRows)
	}
	for i := 0; i < v.tableRows; i++ {
		if !v.pending[sts[i].ID] {
			t.Fatalf("row %d visible but not requested", i)
		}
	}
	// Answers end the pending state; scrolling a page asks for the new rows only.
	ex := map[uuid.UUID]StackExtras{}
	for id := range v.pending {
		ex[id] = StackExtras{Objects: 1, Health: "healthy"}
	}
	send(v, ExtrasLoadedMsg{Extras: ex})
	if len(v.pending) != 0 {
		t.Fatal("answered rows still pending")
	}
	// Scrolling asks for the rows that came into view, and only those.
	for range 2 {
		keys(v, "pgdown")
		want := 0
		for _, st := range v.visible() {
			if _, fresh := v.extras[st.ID]; !fresh {
				want++
				if !v.pending[st.ID] {
					t.Fatalf("%s came into view but was not requested", st.Name)
				}
			}
		}
		if want == 0 || len(v.pending) != want {
			t.Fatalf("pending %d rows, want the %d new visible ones", len(v.pending), want)
		}
		ex := map[uuid.UUID]StackExtras{}
		for id := range v.pending {
			ex[id] = StackExtras{Objects: 1}
		}
		send(v, ExtrasLoadedMsg{Extras: ex})
	}
	// r refetches the visible rows even when fresh.
	if len(v.pending) != 0 {
		t.Fatal("answered rows still pending")
	}
	keys(v, "r")
	if len(v.pending) != v.tableRows {
		t.Fatalf("r asked for %d rows", len(v.pending))
	}
}

func TestDetailState(t *testing.T) {
	v := openWeb(t)
	d := v.detail
	if len(d.objects) != 3 || d.cursor != 0 || !d.agentsOK || d.liveState != "live" {
		t.Fatalf("detail %+v", d)
	}
	// Pane keys.
	for _, c := range []struct {
		key  string
		pane pane
	}{{"a", paneAgents}, {"e", paneEvents}, {"L", paneLogs}, {"h", paneHistory}} {
		keys(v, c.key)
		if d.pane != c.pane {
			t.Fatalf("key %s: pane %d, want %d", c.key, d.pane, c.pane)
		}
	}
	// The cursor follows its object when a new version arrives on top.
	keys(v, "j")
	if d.cursorID != obj104.ID {
		t.Fatal("cursor not on #104")
	}
	newer := client.DeploymentObject{ID: id(18), SequenceID: 108, StackID: stWeb.ID, YAMLContent: "a: 1\n", SubmittedAt: now}
	old := d.tag
	if _, cmd := v.Update(detailTickMsg{tag: old}); cmd == nil || d.tag == old {
		t.Fatal("tick did not reload the detail")
	}
	msg := fixtureDetail(d.tag)
	msg.Objects = append([]client.DeploymentObject{newer}, msg.Objects...)
	msg.AgentsLoaded = false // a history-pane poll does not ask for agents
	send(v, msg)
	if d.objects[d.cursor].ID != obj104.ID || d.cursor != 2 {
		t.Fatalf("cursor at %d after a new version", d.cursor)
	}
	if !d.agentsOK || len(d.agents) != 3 {
		t.Fatal("a poll without agents dropped them")
	}
	// Stale detail answers are dropped; failures keep the data.
	send(v, DetailLoadedMsg{Tag: old, Objects: nil})
	if len(d.objects) != 4 {
		t.Fatal("stale detail answer taken")
	}
	send(v, DetailLoadedMsg{Tag: d.tag, ObjectsErr: errors.New("boom")})
	if len(d.objects) != 4 || d.objErr == nil {
		t.Fatal("failed detail load dropped data")
	}

	// Mark, diff against the mark, YAML and back.
	keys(v, "m")
	if d.mark != obj104.ID {
		t.Fatal("m did not mark")
	}
	keys(v, "k", "k", "D")
	if v.mode != modeDiff || !strings.Contains(v.viewer.title, "#104 → #108") {
		t.Fatalf("diff mode %d %+v", v.mode, v.viewer)
	}
	keys(v, "esc")
	if v.mode != modeDetail || v.viewer != nil {
		t.Fatal("esc did not leave the diff")
	}
	keys(v, "j", "j", "D") // the cursor on the marked version
	if v.mode != modeDetail {
		t.Fatal("diffed a version with itself")
	}
	keys(v, "m") // unmark
	if d.mark != uuid.Nil {
		t.Fatal("m on the marked version did not clear the mark")
	}
	keys(v, "D") // no mark: against the version before
	if v.mode != modeDiff || !strings.Contains(v.viewer.title, "#99 → #104") {
		t.Fatalf("diff with previous: %+v", v.viewer)
	}
	keys(v, "esc", "G", "D")
	if v.mode != modeDetail {
		t.Fatal("the oldest version has nothing before it")
	}
	keys(v, "y")
	if v.mode != modeYAML || !strings.Contains(v.viewer.title, "#99") {
		t.Fatal("y did not show the YAML")
	}
	if v.Capturing() {
		t.Fatal("the viewer does not capture keys")
	}
	keys(v, "esc", "esc")
	if v.mode != modeList || v.detail != nil {
		t.Fatal("esc esc did not return to the list")
	}
	if d.ctx.Err() == nil {
		t.Fatal("leaving the detail did not end its session")
	}
	// Answers for the closed detail are ignored.
	send(v, DetailLoadedMsg{Tag: d.tag}, LiveFrameMsg{Session: d.session, Frame: liveFrames(t, d.session)[0].(LiveFrameMsg).Frame})
}

func TestLiveFrames(t *testing.T) {
	v := openWeb(t)
	d := v.detail
	send(v, liveFrames(t, d.session)...)
	if len(d.events.lines) != 3 || len(d.logs.lines) != 3 { // the gap shows in both
		t.Fatalf("events %d logs %d", len(d.events.lines), len(d.logs.lines))
	}
	// Frames of another session are not taken.
	send(v, liveFrames(t, d.session+1000)...)
	if len(d.events.lines) != 3 {
		t.Fatal("took frames of another session")
	}
	// History that overlaps live frames is not shown twice.
	ns := "web"
	send(v, TelemetryLoadedMsg{Session: d.session, Events: []client.AgentK8sEvent{{AgentID: agent1, StackID: stWeb.ID,
		ObservedAt: now.Add(-3 * time.Minute), Reason: "Scheduled", EventType: "Normal", Message: "Successfully assigned web/web-7d9c-x2 to node-a",
		InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "web-7d9c-x2"}}, {AgentID: agent1, StackID: stWeb.ID,
		ObservedAt: now.Add(-time.Hour), Reason: "Created", EventType: "Normal", Message: "Created container nginx",
		InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "web-7d9c-x2"}}}})
	if len(d.events.lines) != 4 || !strings.Contains(d.events.lines[0].text, "Created") {
		t.Fatalf("history merge: %d lines, first %q", len(d.events.lines), d.events.lines[0].text)
	}
	// Only the newest 200 lines are kept.
	for i := range 250 {
		send(v, LiveFrameMsg{Session: d.session, Frame: wsFrame(t, client.WSPodLogLine, client.PodLogLine{AgentID: agent1, StackID: stWeb.ID,
			Pod: "p", Container: "c", TS: now.Add(time.Duration(i) * time.Second), Line: fmt.Sprintf("line %d", i)})})
	}
	if n := len(d.logs.lines); n != keepLines {
		t.Fatalf("kept %d log lines", n)
	}
	if last := d.logs.lines[keepLines-1].text; !strings.HasSuffix(last, "line 249") {
		t.Fatalf("newest line %q", last)
	}
	if first := d.logs.lines[0].text; !strings.HasSuffix(first, "line 50") {
		t.Fatalf("oldest kept line %q", first)
	}
	if len(d.logs.seen) != keepLines {
		t.Fatalf("seen set holds %d keys", len(d.logs.seen))
	}
	// Scrolling up holds the view still while lines arrive; G follows again.
	keys(v, "L")
	viewtest.Render(t, v, 80, 24)
	keys(v, "k", "k")
	if d.logScroll != 2 {
		t.Fatalf("scroll %d", d.logScroll)
	}
	send(v, LiveFrameMsg{Session: d.session, Frame: wsFrame(t, client.WSPodLogLine, client.PodLogLine{AgentID: agent1, StackID: stWeb.ID,
		Pod: "p", Container: "c", TS: now.Add(time.Hour), Line: "late"})})
	if d.logScroll != 3 {
		t.Fatalf("scroll after a new line %d, want 3", d.logScroll)
	}
	keys(v, "G")
	if d.logScroll != 0 {
		t.Fatal("G did not follow")
	}
	// A broken channel is retried after a pause.
	_, cmd := v.Update(LiveFrameMsg{Session: d.session, Err: errors.New("websocket read: EOF")})
	if d.liveState != "retrying" || cmd == nil {
		t.Fatalf("live state %q", d.liveState)
	}
	if out := viewtest.Render(t, v, 80, 5); !strings.Contains(out, "retrying: websocket read: EOF") {
		t.Fatalf("retry not shown:\n%s", out)
	}
}
