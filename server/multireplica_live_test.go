package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// TestLiveAcrossReplicas runs two replicas on one database, as behind a load balancer: what
// happens on one reaches the sockets held by the other.
func TestLiveAcrossReplicas(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })

	f := a.liveFixture("multi")
	id := f.agent.agent.ID
	agent := a.connectAgent(f.agent) // the agent's socket is on replica A

	t.Run("presence is shared", func(t *testing.T) {
		b := b.withT(t)
		wsEventually(t, "B reports the agent connected", func() bool {
			rec, _ := b.fleetRecord(id, "")
			return rec.WSConnected && rec.ConnectedSince != nil
		})
		if c := b.wsConnections(); c.ConnectedAgents != 0 {
			t.Fatalf("B lists %d local connections", c.ConnectedAgents)
		}
	})

	t.Run("stack live on B sees telemetry uplinked to A", func(t *testing.T) {
		b := b.withT(t)
		watcher := mustDial(t, b.url, "/api/v1/stacks/"+f.stack.ID.String()+"/live", f.gen.pak)
		wsEventually(t, "subscriber on B", func() bool { return b.wsConnections().LiveSubscribers == 1 })
		agent.send(client.WSK8sEvent, k8sEventBody(id, f.stack.ID, "BackOff"))
		agent.send(client.WSPodLogLine, podLogBody(id, f.stack.ID, strings.Repeat("long line ", 2000))) // split across NOTIFYs
		agent.send(client.WSLogGap, client.LogGap{AgentID: id, StackID: f.stack.ID, SinceTS: time.Now().UTC(), DroppedCount: 3, Reason: client.GapDisconnected})
		ev := wsBody[client.K8sEvent](t, watcher.expect(client.WSK8sEvent))
		if want := k8sEventBody(id, f.stack.ID, "BackOff"); !wsJSONEqual(t, ev, want) {
			t.Fatalf("k8s_event on B %+v", ev)
		}
		if line := wsBody[client.PodLogLine](t, watcher.expect(client.WSPodLogLine)); line.Line != strings.Repeat("long line ", 2000) {
			t.Fatalf("pod_log_line on B: %d bytes", len(line.Line))
		}
		if gap := wsBody[client.LogGap](t, watcher.expect(client.WSLogGap)); gap.DroppedCount != 3 || gap.Reason != client.GapDisconnected {
			t.Fatalf("log_gap on B %+v", gap)
		}
	})

	t.Run("fleet live on B sees a heartbeat made on A", func(t *testing.T) {
		b := b.withT(t)
		fleet := mustDial(t, b.url, "/api/v1/fleet/live", b.admin)
		wsEventually(t, "fleet subscriber on B", func() bool {
			return strings.Contains(b.scrapeLiveMetrics(), "brokkr_fleet_live_subscribers 1")
		})
		a.must(204, req{method: "POST", path: v1path("agents", id, "heartbeat"), pak: f.agent.pak})
		rec := wsBody[client.FleetAgentRecord](t, fleet.expectWhere(client.WSFleetUpdate, func(m client.WSMessage) bool {
			return wsBody[client.FleetAgentRecord](t, m).LastHeartbeat != nil
		}))
		if rec.AgentID != id || !rec.WSConnected {
			t.Fatalf("fleet_update on B %+v", rec)
		}
	})

	t.Run("a target added through B reaches the socket on A", func(t *testing.T) {
		b := b.withT(t)
		st := b.createStack("second", f.gen.gen.ID, f.gen.pak)
		target := b.addTarget(id, st.ID)
		if got := wsBody[client.AgentTarget](t, agent.expect(client.WSTargetChanged)); got != target {
			t.Fatalf("target_changed %+v, want %+v", got, target)
		}
		order := b.createWorkOrder(map[string]any{"targeting": map[string]any{"agent_ids": []uuid.UUID{id}}})
		if got := wsBody[client.WorkOrder](t, agent.expect(client.WSWorkOrder)); got.ID != order.ID {
			t.Fatalf("work_order %+v", got)
		}
	})

	// A newer connection on B replaces the one on A (at the top level: the socket must
	// outlive any subtest).
	newer := b.connectAgent(f.agent)
	if code := agent.expectClosed(); code != websocket.StatusNormalClosure {
		t.Fatalf("older connection closed with %v", code)
	}
	a.waitConnections(id, false)

	// Rotation through A closes the socket on B.
	a.must(200, req{method: "POST", path: v1path("agents", id, "rotate-pak"), pak: a.admin})
	if code := newer.expectClosed(); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v after rotation", code)
	}
	wsEventually(t, "A sees the agent gone", func() bool {
		rec, _ := a.fleetRecord(id, "")
		return !rec.WSConnected
	})
}
