package diagnostics

import (
	"errors"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

func newModel(t *testing.T) *Model {
	t.Helper()
	return New(viewtest.Env(now, time.Second)).(*Model)
}

var (
	agentEdge1 = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000001"), Name: "edge-1", ClusterName: "eu-west-1",
		Status: "ACTIVE", LastHeartbeat: viewtest.Ptr(now.Add(-12 * time.Second))}
	agentEdge2 = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000002"), Name: "edge-2", ClusterName: "eu-central-1",
		Status: "INACTIVE", LastHeartbeat: viewtest.Ptr(now.Add(-3 * time.Hour))}
	agentGPU = client.Agent{ID: uuid.MustParse("aaaaaaaa-0000-4000-8000-000000000003"), Name: "gpu-builder", ClusterName: "us-east-1",
		Status: "ACTIVE"}

	stackWeb      = client.Stack{ID: uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000001"), Name: "web-app"}
	stackPayments = client.Stack{ID: uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000002"), Name: "payments"}
	stackLegacy   = client.Stack{ID: uuid.MustParse("bbbbbbbb-0000-4000-8000-000000000003"), Name: "legacy"}

	objWeb = client.DeploymentObject{ID: uuid.MustParse("c0ffee00-0000-4000-8000-000000000001"), StackID: stackWeb.ID, SequenceID: 4,
		SubmittedAt: now.Add(-2 * time.Hour),
		YAMLContent: "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n"}
	objPayments = client.DeploymentObject{ID: uuid.MustParse("c0ffee00-0000-4000-8000-000000000002"), StackID: stackPayments.ID, SequenceID: 12,
		SubmittedAt: now.Add(-26 * time.Hour),
		YAMLContent: "kind: Deployment\nmetadata:\n  name: api\n---\nkind: ConfigMap\nmetadata:\n  name: api-config\n---\nkind: Secret\nmetadata:\n  name: api\n"}
	objLegacy = client.DeploymentObject{ID: uuid.MustParse("c0ffee00-0000-4000-8000-000000000003"), StackID: stackLegacy.ID, SequenceID: 3,
		SubmittedAt: now.Add(-5 * 24 * time.Hour), IsDeletionMarker: true}

	reqID = uuid.MustParse("dddddddd-0000-4000-8000-000000000001")
)

const podsJSON = `[
 {"name":"web-7d9c5b-x2k4q","namespace":"shop","phase":"Running",
  "conditions":[{"condition_type":"Ready","status":"True","reason":null,"message":null}],
  "containers":[{"name":"web","ready":true,"restart_count":0,"state":"Running","state_reason":null,"state_message":null}]},
 {"name":"web-7d9c5b-p9z1m","namespace":"shop","phase":"Running",
  "conditions":[{"condition_type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [web]"}],
  "containers":[{"name":"web","ready":false,"restart_count":7,"state":"Waiting","state_reason":"CrashLoopBackOff",
    "state_message":"back-off 5m0s restarting failed container=web pod=web-7d9c5b-p9z1m_shop"},
   {"name":"envoy","ready":true,"restart_count":0,"state":"Running","state_reason":null,"state_message":null}]}
]`

const eventsJSON = `[
 {"event_type":"Warning","reason":"BackOff","message":"Back-off restarting failed container web in pod web-7d9c5b-p9z1m_shop(4f1c)",
  "involved_object":"web-7d9c5b-p9z1m","involved_object_kind":"Pod","first_timestamp":"2026-03-14T11:20:00Z",
  "last_timestamp":"2026-03-14T11:58:00Z","count":42},
 {"event_type":"Normal","reason":"ScalingReplicaSet","message":"Scaled up replica set web-7d9c5b to 2",
  "involved_object":"web","involved_object_kind":"Deployment","first_timestamp":"2026-03-14T10:00:00Z",
  "last_timestamp":"2026-03-14T10:00:00Z","count":1}
]`

const logsJSON = `{"web-7d9c5b-p9z1m/web":"2026-03-14T11:57:58Z starting web on :8080\n2026-03-14T11:57:59Z \u001b[31mpanic: DATABASE_URL is not set\u001b[0m\ngoroutine 1 [running]:\nmain.main()\n\t/src/main.go:42 +0x1d\n",
 "web-7d9c5b-x2k4q/web":"2026-03-14T09:00:01Z listening on :8080\n",
 "web-7d9c5b-x2k4q/envoy":""}`

func agentsMsg(m *Model) AgentsMsg {
	return AgentsMsg{Gen: 1, At: now, Agents: []client.Agent{agentGPU, agentEdge2, agentEdge1}}
}

func objectsMsg(m *Model) ObjectsMsg {
	return ObjectsMsg{Gen: m.objReqs.Last(), At: now, AgentID: agentEdge1.ID,
		Objects: []client.DeploymentObject{objPayments, objWeb, objLegacy},
		Stacks:  []client.Stack{stackWeb, stackPayments, stackLegacy}}
}

func request(status string) client.DiagnosticRequest {
	r := client.DiagnosticRequest{ID: reqID, AgentID: agentEdge1.ID, DeploymentObjectID: objWeb.ID, Status: status,
		RequestedBy: viewtest.Ptr("brokkrctl tui"), CreatedAt: now.Add(-3 * time.Second), ExpiresAt: now.Add(time.Hour - 3*time.Second)}
	if status != client.DiagnosticPending {
		r.ClaimedAt = viewtest.Ptr(now.Add(-time.Second))
	}
	return r
}

// atObjects returns a view showing edge-1's objects.
func atObjects(t *testing.T) (*Model, ui.View) {
	t.Helper()
	m := newModel(t)
	v, _ := m.Update(agentsMsg(m))
	v, cmd := viewtest.Press(v, "enter")
	if m.screen != screenObjects || m.agent.ID != agentEdge1.ID || cmd == nil {
		t.Fatalf("enter on the first agent: screen %v agent %s", m.screen, m.agent.Name)
	}
	v, _ = v.Update(objectsMsg(m))
	return m, v
}

// atWaiting returns a view waiting for the request about web-app.
func atWaiting(t *testing.T, status string) (*Model, ui.View) {
	t.Helper()
	m, v := atObjects(t)
	v, _ = viewtest.Press(v, "j", "j") // web-app
	v, cmd := viewtest.Press(v, "enter")
	if m.screen != screenWaiting || !m.creating || cmd == nil {
		t.Fatalf("enter on an object: screen %v creating %v", m.screen, m.creating)
	}
	v, _ = v.Update(RequestedMsg{Wait: m.wait, At: now, Request: request(client.DiagnosticPending)})
	if status != client.DiagnosticPending {
		v, _ = v.Update(PolledMsg{Wait: m.wait, At: now, Response: client.DiagnosticResponse{Request: request(status)}})
	}
	return m, v
}

func completed(pods, events string, logs *string) client.DiagnosticResponse {
	r := request(client.DiagnosticCompleted)
	r.CompletedAt = viewtest.Ptr(now.Add(-time.Second))
	return client.DiagnosticResponse{Request: r, Result: &client.DiagnosticResult{RequestID: reqID, PodStatuses: pods, Events: events,
		LogTails: logs, CollectedAt: now.Add(-2 * time.Second)}}
}

// atResult returns a view showing a result.
func atResult(t *testing.T, resp client.DiagnosticResponse) (*Model, ui.View) {
	t.Helper()
	m, v := atWaiting(t, client.DiagnosticClaimed)
	v, _ = v.Update(PolledMsg{Wait: m.wait, At: now, Response: resp})
	if m.screen != screenResult {
		t.Fatalf("screen %v after the result arrived", m.screen)
	}
	return m, v
}

func TestAgentsScreen(t *testing.T) {
	m := newModel(t)
	viewtest.Golden(t, "loading", viewtest.Render(t, m, 80, 24))
	if _, cmd := viewtest.Press(m, "h"); cmd != nil || m.screen != screenHistory {
		t.Fatal("h does not open the session's requests")
	}
	viewtest.Golden(t, "empty history", viewtest.Render(t, m, 80, 24))
	viewtest.Press(m, "esc")
	v, _ := m.Update(agentsMsg(m))
	if m.agents[0].Name != "edge-1" || m.agents[2].Name != "gpu-builder" {
		t.Fatalf("agents are not sorted by name: %v", m.agents)
	}
	viewtest.Golden(t, "80x24", viewtest.Render(t, v, 80, 24))
	viewtest.Golden(t, "120x40", viewtest.Render(t, v, 120, 40))
	v, _ = viewtest.Press(v, "/")
	if !v.Capturing() {
		t.Fatal("the filter does not capture keys")
	}
	for _, r := range "gpu" {
		v, _ = v.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	v, _ = viewtest.Press(v, "enter")
	if a, ok := m.selectedAgent(); !ok || a.Name != "gpu-builder" || len(m.visibleAgents()) != 1 {
		t.Fatalf("filter gpu selects %v", a.Name)
	}
	viewtest.Golden(t, "filtered", viewtest.Render(t, v, 80, 24))
	v, _ = viewtest.Press(v, "esc")
	if len(m.visibleAgents()) != 3 {
		t.Fatal("esc does not clear the filter")
	}
	v.Update(AgentsMsg{Gen: 2, At: now, Err: errors.New("list agents: connection refused")})
	if len(m.agents) != 3 {
		t.Fatal("a failed load dropped the agents")
	}
	viewtest.Golden(t, "error", viewtest.Render(t, v, 80, 24))
}

func TestObjectsScreen(t *testing.T) {
	m, v := atObjects(t)
	if got := []string{m.objects[0].stack, m.objects[1].stack, m.objects[2].stack}; strings.Join(got, ",") != "legacy,payments,web-app" {
		t.Fatalf("objects %v, want sorted by stack name", got)
	}
	if m.objects[1].content != "Deployment/api, ConfigMap/api-config +1 more" || m.objects[0].content != "(deletion marker)" {
		t.Fatalf("content %q / %q", m.objects[1].content, m.objects[0].content)
	}
	viewtest.Golden(t, "80x24", viewtest.Render(t, v, 80, 24))
	viewtest.Golden(t, "120x40", viewtest.Render(t, v, 120, 40))

	// Another agent's late answer is dropped.
	v.Update(ObjectsMsg{Gen: m.objReqs.Last() + 1, At: now, AgentID: agentGPU.ID, Objects: []client.DeploymentObject{}})
	if len(m.objects) != 3 {
		t.Fatal("objects of another agent were applied")
	}

	// An inactive agent without objects.
	v, _ = viewtest.Press(v, "esc")
	if m.screen != screenAgents {
		t.Fatalf("esc: screen %v", m.screen)
	}
	v, _ = viewtest.Press(v, "j", "enter") // edge-2
	if len(m.objects) != 0 || m.objectsOK {
		t.Fatal("the previous agent's objects stay on another agent's screen")
	}
	v, _ = v.Update(ObjectsMsg{Gen: m.objReqs.Last(), At: now, AgentID: agentEdge2.ID, Objects: []client.DeploymentObject{}})
	viewtest.Golden(t, "inactive empty", viewtest.Render(t, v, 80, 24))
}

func TestWaitingScreen(t *testing.T) {
	m, v := atObjects(t)
	v, _ = viewtest.Press(v, "j", "j")
	v, cmd := viewtest.Press(v, "enter")
	if cmd == nil {
		t.Fatal("enter returns no command")
	}
	// The spinner shows its first frame until it ticks: the goldens are deterministic.
	viewtest.Golden(t, "sending", viewtest.Render(t, v, 80, 24))
	wait := m.wait
	v, cmd = v.Update(RequestedMsg{Wait: wait, At: now, Request: request(client.DiagnosticPending)})
	if m.creating || m.cur.req.ID != reqID || len(m.history) != 1 || cmd == nil {
		t.Fatalf("after the request: creating %v, history %d", m.creating, len(m.history))
	}
	viewtest.Golden(t, "pending 80x24", viewtest.Render(t, v, 80, 24))
	viewtest.Golden(t, "pending 120x40", viewtest.Render(t, v, 120, 40))

	// The spinner turns while waiting.
	before := m.spin.View()
	v, cmd = v.Update(m.spin.Tick())
	if m.spin.View() == before || cmd == nil {
		t.Fatal("a spinner tick does not advance the spinner")
	}

	// A pending answer keeps polling; a failed poll shows and keeps polling.
	_, cmd = v.Update(PolledMsg{Wait: wait, At: now, Response: client.DiagnosticResponse{Request: request(client.DiagnosticClaimed)}})
	if cmd == nil || m.cur.req.Status != client.DiagnosticClaimed || m.history[0].req.Status != client.DiagnosticClaimed {
		t.Fatal("a claimed answer stops polling or is not recorded")
	}
	_, cmd = v.Update(PolledMsg{Wait: wait, At: now, Err: errors.New("get diagnostic request: connection refused")})
	if cmd == nil || m.final {
		t.Fatal("a failed poll stops polling")
	}
	viewtest.Golden(t, "claimed poll failed", viewtest.Render(t, v, 80, 24))

	// Another wait's answers are dropped.
	v.Update(PolledMsg{Wait: wait - 1, At: now, Response: completed("[]", "[]", nil)})
	if m.screen != screenWaiting {
		t.Fatal("an answer of an older wait was applied")
	}
}

func TestWaitingEnds(t *testing.T) {
	t.Run("failed", func(t *testing.T) {
		m, v := atWaiting(t, client.DiagnosticFailed)
		if !m.final {
			t.Fatal("a failed request is still polled")
		}
		if _, cmd := v.Update(m.spin.Tick()); cmd != nil {
			t.Fatal("the spinner keeps turning after the request failed")
		}
		if _, cmd := v.Update(PollMsg{Wait: m.wait}); cmd != nil {
			t.Fatal("a poll tick after the end polls again")
		}
		viewtest.Golden(t, "80x24", viewtest.Render(t, v, 80, 24))
	})
	t.Run("expired", func(t *testing.T) {
		m, v := atWaiting(t, client.DiagnosticExpired)
		viewtest.Golden(t, "80x24", viewtest.Render(t, v, 80, 24))
		// n requests again.
		_, cmd := viewtest.Press(v, "n")
		if cmd == nil || !m.creating || m.final {
			t.Fatal("n does not request again")
		}
	})
	t.Run("past expiry", func(t *testing.T) {
		m, v := atWaiting(t, client.DiagnosticPending)
		r := request(client.DiagnosticPending)
		r.ExpiresAt = now.Add(-time.Minute)
		v.Update(PolledMsg{Wait: m.wait, At: now, Response: client.DiagnosticResponse{Request: r}})
		if !m.final {
			t.Fatal("a pending request past its expiry is still waited for")
		}
	})
	t.Run("create refused", func(t *testing.T) {
		m, v := atObjects(t)
		v, _ = viewtest.Press(v, "enter")
		v, cmd := v.Update(RequestedMsg{Wait: m.wait, At: now,
			Err: errors.New("create diagnostic request: POST /deployment-objects/x/diagnostics: 404 agent_not_found: agent not found")})
		var flashed bool
		for _, c := range cmd().(tea.BatchMsg) {
			if f, ok := c().(ui.FlashMsg); ok && f.Error {
				flashed = true
			}
		}
		if !flashed {
			t.Fatal("a refused request is not flashed")
		}
		viewtest.Golden(t, "80x24", viewtest.Render(t, v, 80, 24))
	})
	t.Run("abandoned", func(t *testing.T) {
		m, v := atObjects(t)
		v, _ = viewtest.Press(v, "enter")
		wait := m.wait
		v, _ = viewtest.Press(v, "esc")
		if m.screen != screenObjects {
			t.Fatalf("esc while waiting: screen %v", m.screen)
		}
		v.Update(RequestedMsg{Wait: wait, At: now, Request: request(client.DiagnosticPending)})
		if m.screen != screenObjects || len(m.history) != 1 {
			t.Fatalf("a late answer after esc: screen %v, history %d", m.screen, len(m.history))
		}
	})
}

func TestResultScreen(t *testing.T) {
	m, v := atResult(t, completed(podsJSON, eventsJSON, viewtest.Ptr(logsJSON)))
	r := m.cur.result
	if r.podsErr != nil || r.eventsErr != nil || r.logsErr != nil || len(r.pods) != 2 || len(r.events) != 2 || len(r.logs) != 3 {
		t.Fatalf("parsed %+v", r)
	}
	if m.history[0].result == nil {
		t.Fatal("the session's list does not keep the result")
	}
	viewtest.Golden(t, "pods 80x24", viewtest.Render(t, v, 80, 24))
	viewtest.Golden(t, "pods 120x40", viewtest.Render(t, v, 120, 40))
	v, _ = viewtest.Press(v, "e")
	viewtest.Golden(t, "events 80x24", viewtest.Render(t, v, 80, 24))
	v, _ = viewtest.Press(v, "l")
	viewtest.Golden(t, "logs 80x24", viewtest.Render(t, v, 80, 24))
	out := ui.Plain(v.Render(80, 24))
	if strings.Contains(out, "\x1b") || !strings.Contains(out, "panic: DATABASE_URL is not set") {
		t.Fatal("log escape sequences are not stripped, or the log line is missing")
	}
	v, _ = viewtest.Press(v, "j", "j", "j")
	if m.scroll[tabLogs] != 0 {
		t.Fatalf("logs fit the screen, yet scroll %d", m.scroll[tabLogs])
	}
	v.Render(80, 10)
	v, _ = viewtest.Press(v, "pgdown", "pgdown")
	if want := len(m.tabLines(tabLogs, 80)) - 7; m.scroll[tabLogs] != want {
		t.Fatalf("scroll %d after paging past the end, want %d", m.scroll[tabLogs], want)
	}
	viewtest.Golden(t, "logs scrolled 80x10", viewtest.Render(t, v, 80, 10))
	v, _ = viewtest.Press(v, "p")
	if m.tab != tabPods || m.scroll[tabPods] != 0 {
		t.Fatal("p does not show the pods from their top")
	}

	// The session's list reopens the result.
	v, _ = viewtest.Press(v, "esc")
	if m.screen != screenObjects {
		t.Fatalf("esc from the result: screen %v", m.screen)
	}
	v, _ = viewtest.Press(v, "h")
	viewtest.Golden(t, "history", viewtest.Render(t, v, 80, 24))
	v, _ = viewtest.Press(v, "/")
	if !v.Capturing() {
		t.Fatal("the history filter does not capture keys")
	}
	for _, r := range "nomatch" {
		v, _ = v.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
	if out := ui.Plain(v.Render(80, 24)); !strings.Contains(out, "No request matches the filter.") {
		t.Fatalf("filtered history:\n%s", out)
	}
	v, _ = viewtest.Press(v, "esc")
	if v.Capturing() || len(m.visibleHistory()) != 1 {
		t.Fatal("esc does not end and clear the history filter")
	}
	_, cmd := viewtest.Press(v, "enter")
	if m.screen != screenResult || cmd != nil {
		t.Fatalf("reopening a result: screen %v", m.screen)
	}
}

func TestMalformedResult(t *testing.T) {
	t.Run("all three", func(t *testing.T) {
		m, v := atResult(t, completed("pods: none", `{"not":"an array"}`, viewtest.Ptr("[1, 2")))
		r := m.cur.result
		if r.podsErr == nil || r.eventsErr == nil || r.logsErr == nil {
			t.Fatalf("errors %v / %v / %v", r.podsErr, r.eventsErr, r.logsErr)
		}
		viewtest.Golden(t, "pods", viewtest.Render(t, v, 80, 24))
		v, _ = viewtest.Press(v, "e")
		viewtest.Golden(t, "events", viewtest.Render(t, v, 80, 24))
		v, _ = viewtest.Press(v, "l")
		viewtest.Golden(t, "logs", viewtest.Render(t, v, 80, 24))
	})
	cases := []struct {
		name                  string
		pods, events          string
		logs                  *string
		podsOK, eventsOK, lOK bool
	}{
		{"empty strings", "", "", viewtest.Ptr(""), false, false, false},
		{"nulls", "null", "null", viewtest.Ptr("null"), true, true, true},
		{"wrong element types", `[1, "x"]`, `[[]]`, viewtest.Ptr(`{"a": 1}`), false, false, false},
		{"wrong field types", `[{"name": 5}]`, `[{"count": "many"}]`, viewtest.Ptr(`{"a": ["x"]}`), false, false, false},
		{"agent collection error", "[]", `[{"error":"pods is forbidden"}]`, nil, true, true, true},
		{"odd timestamps", "[]", `[{"reason":"X","last_timestamp":"yesterday"}]`, viewtest.Ptr("{}"), true, true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := parseResult(*completed(c.pods, c.events, c.logs).Result)
			if (r.podsErr == nil) != c.podsOK || (r.eventsErr == nil) != c.eventsOK || (r.logsErr == nil) != c.lOK {
				t.Fatalf("errors %v / %v / %v", r.podsErr, r.eventsErr, r.logsErr)
			}
			m, v := atResult(t, completed(c.pods, c.events, c.logs))
			for _, k := range []string{"p", "e", "l"} {
				v, _ = viewtest.Press(v, k)
				for _, sz := range [][2]int{{80, 24}, {30, 5}, {3, 2}} {
					viewtest.CheckSize(t, ui.Plain(v.Render(sz[0], sz[1])), sz[0], sz[1])
				}
			}
			_ = m
		})
	}
	t.Run("collection error shown", func(t *testing.T) {
		_, v := atResult(t, completed("[]", `[{"error":"pods is forbidden"}]`, nil))
		v, _ = viewtest.Press(v, "e")
		if out := ui.Plain(v.Render(80, 24)); !strings.Contains(out, "collection error: pods is forbidden") {
			t.Fatalf("render:\n%s", out)
		}
		v, _ = viewtest.Press(v, "l")
		if out := ui.Plain(v.Render(80, 24)); !strings.Contains(out, "The agent sent no log tails.") {
			t.Fatalf("render:\n%s", out)
		}
	})
}

func TestTinySizes(t *testing.T) {
	views := map[string]ui.View{}
	m := newModel(t)
	views["loading"] = m
	_, views["objects"] = atObjects(t)
	_, views["waiting"] = atWaiting(t, client.DiagnosticPending)
	_, views["result"] = atResult(t, completed(podsJSON, eventsJSON, viewtest.Ptr(logsJSON)))
	for name, v := range views {
		for _, sz := range [][2]int{{1, 1}, {4, 2}, {20, 3}, {0, 0}} {
			out := ui.Plain(v.Render(sz[0], sz[1]))
			if sz[0] > 0 {
				t.Run(name, func(t *testing.T) { viewtest.CheckSize(t, out, sz[0], sz[1]) })
			}
		}
	}
}

func TestTimersOutsideTheWaitingScreen(t *testing.T) {
	m := newModel(t)
	if _, cmd := m.Update(spinner.TickMsg{}); cmd != nil {
		t.Fatal("a spinner tick outside the waiting screen does something")
	}
	if _, cmd := m.Update(PollMsg{Wait: m.wait}); cmd != nil {
		t.Fatal("a poll tick outside the waiting screen polls")
	}
}
