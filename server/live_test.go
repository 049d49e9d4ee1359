package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// WebSocket test helpers.

// wsConn is a test client of a broker WebSocket: frames are read in the background.
type wsConn struct {
	t      testing.TB
	conn   *websocket.Conn
	frames chan client.WSMessage
	done   chan struct{} // closed when the connection ended
	mu     sync.Mutex
	err    error // why it ended
}

// wsURL turns an http:// base URL and a path into a ws:// URL.
func wsURL(base, path string) string { return "ws" + strings.TrimPrefix(base, "http") + path }

// dialWS opens a WebSocket; the response is returned for refused upgrades.
func dialWS(t testing.TB, url string, header http.Header, subprotocols ...string) (*wsConn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: header, Subprotocols: subprotocols})
	if err != nil {
		return nil, res, err
	}
	conn.SetReadLimit(4 << 20)
	w := &wsConn{t: t, conn: conn, frames: make(chan client.WSMessage, 4096), done: make(chan struct{})}
	go w.readLoop()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return w, res, nil
}

func (w *wsConn) readLoop() {
	defer close(w.done)
	for {
		typ, data, err := w.conn.Read(context.Background())
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		var m client.WSMessage
		if err := json.Unmarshal(data, &m); err != nil {
			w.t.Errorf("undecodable frame %s: %v", data, err)
			continue
		}
		w.frames <- m
	}
}

// mustDial opens a WebSocket with a PAK in the Authorization header.
func mustDial(t testing.TB, base, path, key string) *wsConn {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Authorization", "Bearer "+key)
	}
	w, res, err := dialWS(t, wsURL(base, path), h)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial %s: %v (status %d)", path, err, status)
	}
	return w
}

// expect returns the next frame of type typ, skipping frames of other types, within 10 s.
func (w *wsConn) expect(typ string) client.WSMessage {
	w.t.Helper()
	return w.expectWhere(typ, func(client.WSMessage) bool { return true })
}

// expectWhere returns the next frame of type typ for which match holds.
func (w *wsConn) expectWhere(typ string, match func(client.WSMessage) bool) client.WSMessage {
	w.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case m := <-w.frames:
			if m.Type == typ && match(m) {
				return m
			}
		case <-w.done:
			w.t.Fatalf("connection ended while waiting for %s: %v", typ, w.closeErr())
		case <-deadline:
			w.t.Fatalf("no %s frame within 10s", typ)
		}
	}
}

// expectNone checks that no frame of type typ arrives within d.
func (w *wsConn) expectNone(typ string, d time.Duration) {
	w.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-w.frames:
			if m.Type == typ {
				w.t.Fatalf("unexpected %s frame: %s", typ, m.Body)
			}
		case <-deadline:
			return
		}
	}
}

// expectClosed waits for the server to end the connection and returns its close status.
func (w *wsConn) expectClosed() websocket.StatusCode {
	w.t.Helper()
	select {
	case <-w.done:
		return websocket.CloseStatus(w.closeErr())
	case <-time.After(10 * time.Second):
		w.t.Fatal("connection still open after 10s")
	}
	return 0
}

func (w *wsConn) closeErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// send writes an envelope.
func (w *wsConn) send(typ string, body any) {
	w.t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	data, err := json.Marshal(client.WSMessage{Type: typ, Body: raw})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, websocket.MessageText, data); err != nil {
		w.t.Fatalf("send %s: %v", typ, err)
	}
}

// sendRaw writes a frame as is.
func (w *wsConn) sendRaw(typ websocket.MessageType, data []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.conn.Write(ctx, typ, data); err != nil {
		w.t.Fatal(err)
	}
}

// wsJSONEqual compares the JSON encodings of two values.
func wsJSONEqual(t testing.TB, a, b any) bool {
	t.Helper()
	x, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(x) == string(y)
}

// wsBody unmarshals a frame body.
func wsBody[T any](t testing.TB, m client.WSMessage) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(m.Body, &v); err != nil {
		t.Fatalf("decode %s body %s: %v", m.Type, m.Body, err)
	}
	return v
}

// connectAgent opens the agent channel and waits until this replica registered it.
func (e *env) connectAgent(a agentFixture) *wsConn {
	e.t.Helper()
	w := mustDial(e.t, e.url, "/internal/ws/agent", a.pak)
	e.waitConnections(a.agent.ID, true)
	return w
}

// wsConnections lists this replica's agent connections.
func (e *env) wsConnections() client.WSConnections {
	e.t.Helper()
	var out client.WSConnections
	e.must(200, req{method: "GET", path: v1path("admin", "ws", "connections"), pak: e.admin}).decode(e.t, &out)
	return out
}

// waitConnections waits until the agent is (or is not) connected to this replica.
func (e *env) waitConnections(agent uuid.UUID, connected bool) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		found := false
		for _, c := range e.wsConnections().Connections {
			found = found || c.AgentID == agent
		}
		if found == connected {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("agent %s connected=%v not reached", agent, connected)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wsEventually polls cond for up to 10 seconds.
func wsEventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// liveFixture is a generator-owned stack with an agent that explicitly targets it.
type liveFixture struct {
	gen   generatorFixture
	stack client.Stack
	agent agentFixture
	obj   client.DeploymentObject
}

func (e *env) liveFixture(name string) liveFixture {
	e.t.Helper()
	g := e.createGenerator("gen-" + name)
	st := e.createStack("stack-"+name, g.gen.ID, g.pak)
	a := e.createAgent("agent-"+name, "cluster-"+name, g.gen.ID)
	e.addTarget(a.agent.ID, st.ID)
	obj := e.createObject(st.ID, g.pak, cmYAML)
	return liveFixture{gen: g, stack: st, agent: a, obj: obj}
}

func k8sEventBody(agent, stack uuid.UUID, reason string) client.K8sEvent {
	ns, uid, src := "demo", "99999999-9999-9999-9999-999999999999", "kubelet"
	return client.K8sEvent{
		AgentID: agent, StackID: stack, ObservedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Reason: reason, Message: "Successfully pulled image", EventType: "Normal", Source: &src,
		InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "demo-abc", UID: &uid},
	}
}

func podLogBody(agent, stack uuid.UUID, line string) client.PodLogLine {
	return client.PodLogLine{AgentID: agent, StackID: stack, Namespace: "demo", Pod: "demo-abc", Container: "app",
		TS: time.Date(2026, 1, 1, 0, 0, 1, 0, time.UTC), Line: line}
}

func TestAgentSocketAuth(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	g := e.createGenerator("g")
	refused := func(name, key string, want int) {
		t.Run(name, func(t *testing.T) {
			h := http.Header{}
			if key != "" {
				h.Set("Authorization", key)
			}
			_, res, err := dialWS(t, wsURL(e.url, "/internal/ws/agent"), h)
			if err == nil {
				t.Fatal("upgrade accepted")
			}
			if res == nil || res.StatusCode != want {
				t.Fatalf("response %v, want status %d", res, want)
			}
			body, _ := io.ReadAll(res.Body)
			if len(body) != 0 {
				t.Fatalf("refusal body %q, want empty", body)
			}
		})
	}
	refused("missing", "", 401)
	refused("malformed", "not-a-pak", 401)
	refused("unknown", "brokkr_BRxxxxxx_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", 401)
	refused("admin", e.admin, 403)
	refused("read-only admin", e.srv.ReadOnlyPAK(), 403)
	refused("generator", "Bearer "+g.pak, 403)

	t.Run("agent", func(t *testing.T) {
		e := e.withT(t)
		w := e.connectAgent(a)
		conns := e.wsConnections()
		if conns.ConnectedAgents != 1 || len(conns.Connections) != 1 || conns.Connections[0].AgentID != a.agent.ID {
			t.Fatalf("connections %+v", conns)
		}
		_ = w.conn.Close(websocket.StatusNormalClosure, "")
		e.waitConnections(a.agent.ID, false)
	})
	t.Run("connections listing is admin only", func(t *testing.T) {
		e := e.withT(t)
		e.expectError(403, "admin_required", req{method: "GET", path: v1path("admin", "ws", "connections"), pak: a.pak})
	})
}

func TestAgentSocketReplacesOlderConnection(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	first := e.connectAgent(a)
	firstSince := e.wsConnections().Connections[0].ConnectedSince
	second := mustDial(t, e.url, "/internal/ws/agent", a.pak)
	if code := first.expectClosed(); code != websocket.StatusNormalClosure {
		t.Fatalf("older connection closed with %v", code)
	}
	wsEventually(t, "the newer connection registered", func() bool {
		c := e.wsConnections()
		return c.ConnectedAgents == 1 && c.Connections[0].ConnectedSince.After(firstSince)
	})
	// The newer connection stays registered after the older one went away.
	second.send(client.WSHeartbeat, client.Heartbeat{AgentID: a.agent.ID, SentAt: time.Now()})
	wsEventually(t, "heartbeat over the newer connection", func() bool { return e.getAgent(a.agent.ID).LastHeartbeat != nil })
	if c := e.wsConnections(); c.ConnectedAgents != 1 || c.Connections[0].MessagesIn != 1 {
		t.Fatalf("connections %+v", c)
	}
}

func TestAgentSocketUplink(t *testing.T) {
	e := newEnv(t)
	rec := &recorder{}
	e.srv.Bus().Subscribe(rec.record)
	f := e.liveFixture("up")
	other := e.createAgent("other", "c")
	w := e.connectAgent(f.agent)
	id := f.agent.agent.ID

	t.Run("heartbeat", func(t *testing.T) {
		e := e.withT(t)
		reachable, latency := true, int32(12)
		w.send(client.WSHeartbeat, client.Heartbeat{AgentID: id, SentAt: time.Now(), K8sReachable: &reachable, K8sAPILatencyMs: &latency})
		wsEventually(t, "heartbeat stored", func() bool { return e.getAgent(id).LastHeartbeat != nil })
		got := e.getAgent(id)
		if got.K8sReachable == nil || !*got.K8sReachable || got.K8sAPILatencyMs == nil || *got.K8sAPILatencyMs != 12 || got.K8sReportedAt == nil {
			t.Fatalf("k8s fields after heartbeat: %+v", got)
		}
		// Without k8s_reachable the reported fields are kept.
		before := *got.LastHeartbeat
		w.send(client.WSHeartbeat, map[string]any{"agent_id": id, "sent_at": time.Now()})
		wsEventually(t, "second heartbeat", func() bool { return e.getAgent(id).LastHeartbeat.After(before) })
		if got := e.getAgent(id); got.K8sReachable == nil || *got.K8sAPILatencyMs != 12 {
			t.Fatalf("k8s fields cleared by a heartbeat without them: %+v", got)
		}
	})

	t.Run("agent_event inserts and emits", func(t *testing.T) {
		e := e.withT(t)
		msg := "applied"
		w.send(client.WSAgentEvent, client.AgentEvent{ID: uuid.New(), AgentID: id, DeploymentObjectID: f.obj.ID,
			EventType: "DEPLOY", Status: "SUCCESS", Message: &msg})
		var events []client.AgentEvent
		wsEventually(t, "event stored", func() bool {
			e.must(200, req{method: "GET", path: v1path("agents", id, "events"), pak: e.admin}).decode(t, &events)
			return len(events) == 1
		})
		if ev := events[0]; ev.DeploymentObjectID != f.obj.ID || ev.Status != "SUCCESS" || ev.EventType != "DEPLOY" || *ev.Message != "applied" {
			t.Fatalf("stored event %+v", ev)
		}
		wsEventually(t, "deployment.applied emitted", func() bool { return len(rec.ofType(server.EventDeploymentApplied)) == 1 })
		d := rec.ofType(server.EventDeploymentApplied)[0].Data
		if d["agent_id"] != id || d["deployment_object_id"] != f.obj.ID {
			t.Fatalf("deployment.applied data %v", d)
		}
	})

	t.Run("agent_health upserts", func(t *testing.T) {
		e := e.withT(t)
		summary := `{"pods_ready":0,"pods_total":1,"conditions":[]}`
		w.send(client.WSAgentHealth, map[string]any{"id": uuid.New(), "agent_id": id, "deployment_object_id": f.obj.ID,
			"status": "failing", "summary": summary, "checked_at": time.Now(), "created_at": time.Now(), "updated_at": time.Now()})
		var health struct {
			Records []client.DeploymentHealth `json:"health_records"`
		}
		wsEventually(t, "health stored", func() bool {
			e.must(200, req{method: "GET", path: v1path("deployment-objects", f.obj.ID, "health"), pak: e.admin}).decode(t, &health)
			return len(health.Records) == 1
		})
		if r := health.Records[0]; r.AgentID != id || r.Status != "failing" || r.Summary == nil || *r.Summary != summary {
			t.Fatalf("health record %+v", r)
		}
	})

	t.Run("frames about another agent are dropped", func(t *testing.T) {
		e := e.withT(t)
		w.send(client.WSHeartbeat, client.Heartbeat{AgentID: other.agent.ID, SentAt: time.Now()})
		w.send(client.WSAgentEvent, client.AgentEvent{AgentID: other.agent.ID, DeploymentObjectID: f.obj.ID, EventType: "DEPLOY", Status: "FAILURE"})
		w.send(client.WSK8sEvent, k8sEventBody(other.agent.ID, f.stack.ID, "Foreign"))
		w.sendRaw(websocket.MessageText, []byte("{not json"))
		w.sendRaw(websocket.MessageBinary, []byte{1, 2, 3})
		w.send(client.WSWorkOrder, map[string]any{"id": uuid.New()})
		// A frame after the dropped ones proves they were processed (frames are handled in order).
		w.send(client.WSLogGap, client.LogGap{AgentID: id, StackID: f.stack.ID, SinceTS: time.Now(), DroppedCount: 1, Reason: client.GapRateLimit})
		wsEventually(t, "all frames read", func() bool { return e.wsConnections().Connections[0].MessagesIn >= 10 })
		if got := e.getAgent(other.agent.ID); got.LastHeartbeat != nil {
			t.Fatalf("foreign heartbeat applied: %+v", got)
		}
		var events []client.AgentEvent
		e.must(200, req{method: "GET", path: v1path("agents", other.agent.ID, "events"), pak: e.admin}).decode(t, &events)
		if len(events) != 0 {
			t.Fatalf("foreign event stored: %+v", events)
		}
		var hist client.K8sEventHistory
		e.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "events"), pak: e.admin}).decode(t, &hist)
		if len(hist.Events) != 0 {
			t.Fatalf("foreign k8s event stored: %+v", hist.Events)
		}
	})
}

func TestStackLiveTail(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("tail")
	unrelated := e.createStack("unrelated", f.gen.gen.ID, f.gen.pak)
	agent := e.connectAgent(f.agent)
	id := f.agent.agent.ID
	watcher := mustDial(t, e.url, "/api/v1/stacks/"+f.stack.ID.String()+"/live", f.gen.pak)
	admin := mustDial(t, e.url, "/api/v1/stacks/"+f.stack.ID.String()+"/live", e.admin)
	wsEventually(t, "subscribers registered", func() bool { return e.wsConnections().LiveSubscribers == 2 })

	agent.send(client.WSK8sEvent, k8sEventBody(id, f.stack.ID, "Pulled"))
	agent.send(client.WSPodLogLine, podLogBody(id, f.stack.ID, "starting up"))
	agent.send(client.WSLogGap, client.LogGap{AgentID: id, StackID: f.stack.ID,
		SinceTS: time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC), DroppedCount: 42, Reason: client.GapRateLimit})
	// Telemetry for a stack the agent does not serve goes nowhere.
	agent.send(client.WSPodLogLine, podLogBody(id, unrelated.ID, "not mine"))

	for _, w := range []*wsConn{watcher, admin} {
		ev := wsBody[client.K8sEvent](t, w.expect(client.WSK8sEvent))
		if want := k8sEventBody(id, f.stack.ID, "Pulled"); !wsJSONEqual(t, ev, want) {
			t.Fatalf("k8s_event %+v, want %+v", ev, want)
		}
		line := wsBody[client.PodLogLine](t, w.expect(client.WSPodLogLine))
		if line != podLogBody(id, f.stack.ID, "starting up") {
			t.Fatalf("pod_log_line %+v", line)
		}
		gap := wsBody[client.LogGap](t, w.expect(client.WSLogGap))
		if gap.DroppedCount != 42 || gap.Reason != client.GapRateLimit || gap.AgentID != id {
			t.Fatalf("log_gap %+v", gap)
		}
	}
	unrelatedWatcher := mustDial(t, e.url, "/api/v1/stacks/"+unrelated.ID.String()+"/live", e.admin)
	agent.send(client.WSPodLogLine, podLogBody(id, unrelated.ID, "still not mine"))
	unrelatedWatcher.expectNone(client.WSPodLogLine, 300*time.Millisecond)

	// Broadcast first, then stored: both rows are readable through the telemetry API.
	var events client.K8sEventHistory
	wsEventually(t, "k8s event stored", func() bool {
		e.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "events"), pak: f.gen.pak}).decode(t, &events)
		return len(events.Events) == 1
	})
	if ev := events.Events[0]; ev.AgentID != id || ev.Reason != "Pulled" || ev.InvolvedObject.Kind != "Pod" || *ev.Source != "kubelet" {
		t.Fatalf("stored event %+v", ev)
	}
	var logs client.PodLogHistory
	e.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "logs"), pak: f.gen.pak}).decode(t, &logs)
	if len(logs.Lines) != 1 || logs.Lines[0].Line != "starting up" {
		t.Fatalf("stored lines %+v", logs.Lines)
	}
	e.must(200, req{method: "GET", path: v1path("stacks", unrelated.ID, "logs"), pak: f.gen.pak}).decode(t, &logs)
	if len(logs.Lines) != 0 {
		t.Fatalf("lines stored for a stack the agent does not serve: %+v", logs.Lines)
	}
}

func TestLiveSocketAuth(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("auth")
	other := e.createGenerator("other")
	stackPath := "/api/v1/stacks/" + f.stack.ID.String() + "/live"

	t.Run("PAK as subprotocol, brokkr.v1 selected", func(t *testing.T) {
		for _, path := range []string{stackPath, "/api/v1/fleet/live"} {
			w, res, err := dialWS(t, wsURL(e.url, path), nil, client.WSSubprotocol, client.WSPAKSubprotocolPrefix+e.admin)
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if got := w.conn.Subprotocol(); got != client.WSSubprotocol {
				t.Fatalf("%s: selected subprotocol %q", path, got)
			}
			if got := res.Header.Get("Sec-WebSocket-Protocol"); strings.Contains(got, "pak") {
				t.Fatalf("%s: the PAK was echoed: %q", path, got)
			}
		}
	})
	t.Run("PAK subprotocol alone selects nothing", func(t *testing.T) {
		w, _, err := dialWS(t, wsURL(e.url, stackPath), nil, client.WSPAKSubprotocolPrefix+f.gen.pak)
		if err != nil {
			t.Fatal(err)
		}
		if got := w.conn.Subprotocol(); got != "" {
			t.Fatalf("selected %q", got)
		}
	})
	t.Run("the Authorization header wins over the subprotocol", func(t *testing.T) {
		h := http.Header{"Authorization": {"Bearer " + other.pak}}
		_, res, err := dialWS(t, wsURL(e.url, stackPath), h, client.WSPAKSubprotocolPrefix+e.admin)
		if err == nil || res == nil || res.StatusCode != 403 {
			t.Fatalf("err %v res %v, want 403", err, res)
		}
	})

	refusals := []struct {
		name, path, key string
		sub             bool
		want            int
	}{
		{"stack: no credentials", stackPath, "", false, 401},
		{"stack: invalid PAK", stackPath, "brokkr_BRxxxxxx_zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz", true, 401},
		{"stack: another generator", stackPath, other.pak, false, 403},
		{"stack: another generator via subprotocol", stackPath, other.pak, true, 403},
		{"stack: agent", stackPath, f.agent.pak, false, 403},
		{"stack: generator, unknown stack", "/api/v1/stacks/" + uuid.NewString() + "/live", f.gen.pak, false, 403},
		{"fleet: generator", "/api/v1/fleet/live", f.gen.pak, false, 403},
		{"fleet: agent", "/api/v1/fleet/live", f.agent.pak, true, 403},
		{"fleet: no credentials", "/api/v1/fleet/live", "", false, 401},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			h := http.Header{}
			var subs []string
			switch {
			case r.key != "" && r.sub:
				subs = []string{client.WSSubprotocol, client.WSPAKSubprotocolPrefix + r.key}
			case r.key != "":
				h.Set("Authorization", r.key)
			}
			_, res, err := dialWS(t, wsURL(e.url, r.path), h, subs...)
			if err == nil || res == nil || res.StatusCode != r.want {
				t.Fatalf("err %v res %v, want %d", err, res, r.want)
			}
		})
	}
	t.Run("read-only admin may watch", func(t *testing.T) {
		mustDial(t, e.url, "/api/v1/fleet/live", e.srv.ReadOnlyPAK())
		mustDial(t, e.url, stackPath, e.srv.ReadOnlyPAK())
	})
}

func TestDownlinkPushes(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("down")
	st2 := e.createStack("second", f.gen.gen.ID, f.gen.pak)
	w := e.connectAgent(f.agent)
	id := f.agent.agent.ID

	t.Run("target_changed", func(t *testing.T) {
		e := e.withT(t)
		target := e.addTarget(id, st2.ID)
		got := wsBody[client.AgentTarget](t, w.expect(client.WSTargetChanged))
		if got != target {
			t.Fatalf("target_changed %+v, want %+v", got, target)
		}
	})
	t.Run("stack_changed", func(t *testing.T) {
		e := e.withT(t)
		e.createObject(f.stack.ID, f.gen.pak, cmYAML+"# v2\n")
		got := wsBody[client.Stack](t, w.expect(client.WSStackChanged))
		if got.ID != f.stack.ID || got.Name != f.stack.Name {
			t.Fatalf("stack_changed %+v", got)
		}
	})
	t.Run("work_order", func(t *testing.T) {
		e := e.withT(t)
		order := e.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{id}}})
		got := wsBody[client.WorkOrder](t, w.expect(client.WSWorkOrder))
		if got.ID != order.ID || got.YAMLContent != order.YAMLContent || got.Status != "PENDING" {
			t.Fatalf("work_order %+v, want %+v", got, order)
		}
	})
	t.Run("deregistration", func(t *testing.T) {
		e := e.withT(t)
		e.must(204, req{method: "DELETE", path: v1path("generators", f.gen.gen.ID, "register"), pak: e.admin,
			body: map[string]any{"agent_id": id}})
		got := wsBody[client.AgentTarget](t, w.expect(client.WSTargetChanged))
		if got.ID != uuid.Nil || got.AgentID != id || got.StackID != uuid.Nil {
			t.Fatalf("deregistration target_changed %+v", got)
		}
	})
	wsEventually(t, "four messages counted out", func() bool { return e.wsConnections().Connections[0].MessagesOut == 4 })
}

func TestAgentSocketClosedOnRevocation(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	w := e.connectAgent(a)

	var rot client.RotateAgentPAKResponse
	e.must(200, req{method: "POST", path: v1path("agents", a.agent.ID, "rotate-pak"), pak: a.pak}).decode(t, &rot)
	if code := w.expectClosed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v after rotation", code)
	}
	e.waitConnections(a.agent.ID, false)
	// The old key no longer opens the channel; the new one does.
	if _, res, err := dialWS(t, wsURL(e.url, "/internal/ws/agent"), http.Header{"Authorization": {a.pak}}); err == nil || res.StatusCode != 401 {
		t.Fatalf("old key after rotation: err %v", err)
	}
	a.pak = rot.PAK
	w = e.connectAgent(a)

	e.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID), pak: e.admin})
	if code := w.expectClosed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v after deletion", code)
	}
	e.waitConnections(a.agent.ID, false)
}

func TestFleetLive(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a", "c")
	fleet := mustDial(t, e.url, "/api/v1/fleet/live", e.admin)
	wsEventually(t, "fleet subscriber registered", func() bool {
		return strings.Contains(e.scrapeLiveMetrics(), "brokkr_fleet_live_subscribers 1")
	})
	of := func(connected bool) func(client.WSMessage) bool {
		return func(m client.WSMessage) bool {
			r := wsBody[client.FleetAgentRecord](t, m)
			return r.AgentID == a.agent.ID && r.WSConnected == connected
		}
	}

	agent := e.connectAgent(a)
	rec := wsBody[client.FleetAgentRecord](t, fleet.expectWhere(client.WSFleetUpdate, of(true)))
	if rec.ConnectedSince == nil || rec.Name != "a" || rec.ClusterName != "c" || rec.LastHeartbeat != nil {
		t.Fatalf("record on connect %+v", rec)
	}

	e.must(204, req{method: "POST", path: v1path("agents", a.agent.ID, "heartbeat"), pak: a.pak,
		body: map[string]any{"k8s_reachable": true, "k8s_api_latency_ms": 7}})
	rec = wsBody[client.FleetAgentRecord](t, fleet.expectWhere(client.WSFleetUpdate, func(m client.WSMessage) bool {
		return wsBody[client.FleetAgentRecord](t, m).LastHeartbeat != nil
	}))
	if rec.HeartbeatAgeSeconds == nil || *rec.HeartbeatAgeSeconds > 5 || rec.K8sReachable == nil || !*rec.K8sReachable ||
		rec.K8sAPILatencyMs == nil || *rec.K8sAPILatencyMs != 7 || !rec.WSConnected {
		t.Fatalf("record after heartbeat %+v", rec)
	}

	_ = agent.conn.Close(websocket.StatusNormalClosure, "")
	rec = wsBody[client.FleetAgentRecord](t, fleet.expectWhere(client.WSFleetUpdate, of(false)))
	if rec.ConnectedSince != nil {
		t.Fatalf("record on disconnect %+v", rec)
	}

	t.Run("sweep pushes changed signals only", func(t *testing.T) {
		ctx := context.Background()
		e.srv.RunWorkerOnce(ctx, "fleet-sweep") // seeds
		fleet.expectNone(client.WSFleetUpdate, 200*time.Millisecond)
		e.addAgentLabel(a.agent.ID, "env:prod")
		e.createWorkOrder(map[string]any{"targeting": map[string]any{"labels": []string{"env:prod"}}})
		e.srv.RunWorkerOnce(ctx, "fleet-sweep")
		rec := wsBody[client.FleetAgentRecord](t, fleet.expect(client.WSFleetUpdate))
		if rec.AgentID != a.agent.ID || rec.PendingWorkOrders != 1 {
			t.Fatalf("swept record %+v", rec)
		}
		e.srv.RunWorkerOnce(ctx, "fleet-sweep")
		fleet.expectNone(client.WSFleetUpdate, 200*time.Millisecond)
	})
}

// scrapeLiveMetrics scrapes /metrics.
func (e *env) scrapeLiveMetrics() string {
	e.t.Helper()
	res, err := http.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return string(b)
}

func TestLiveMetrics(t *testing.T) {
	e := newEnv(t)
	f := e.liveFixture("m")
	w := e.connectAgent(f.agent)
	w.send(client.WSHeartbeat, client.Heartbeat{AgentID: f.agent.agent.ID, SentAt: time.Now()})
	e.addTarget(f.agent.agent.ID, e.createStack("s2", f.gen.gen.ID, f.gen.pak).ID)
	w.expect(client.WSTargetChanged)
	wsEventually(t, "metrics", func() bool {
		m := e.scrapeLiveMetrics()
		return strings.Contains(m, "brokkr_ws_connected_agents 1") &&
			strings.Contains(m, `brokkr_ws_messages_total{direction="in",type="heartbeat"} 1`) &&
			strings.Contains(m, `brokkr_ws_messages_total{direction="out",type="target_changed"} 1`)
	})
}
