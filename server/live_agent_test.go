package server_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/events"
)

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
		var stored []client.AgentEvent
		wsEventually(t, "event stored", func() bool {
			e.must(200, req{method: "GET", path: v1path("agents", id, "events"), pak: e.admin}).decode(t, &stored)
			return len(stored) == 1
		})
		if ev := stored[0]; ev.DeploymentObjectID != f.obj.ID || ev.Status != "SUCCESS" || ev.EventType != "DEPLOY" || *ev.Message != "applied" {
			t.Fatalf("stored event %+v", ev)
		}
		wsEventually(t, "deployment.applied emitted", func() bool { return len(rec.ofType(events.DeploymentApplied)) == 1 })
		d := rec.ofType(events.DeploymentApplied)[0].Data
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
