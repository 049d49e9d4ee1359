package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

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
