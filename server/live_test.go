package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
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
