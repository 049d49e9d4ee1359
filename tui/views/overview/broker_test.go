package overview

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// TestAgainstBroker loads the overview from a real broker and follows a heartbeat through
// the fleet live channel.
func TestAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a1 := b.CreateAgent(t, "edge-1", "eu-west", true)
	b.CreateAgent(t, "edge-2", "us-east", false)
	a3 := b.CreateAgent(t, "edge-3", "ap-south", false)
	// Filler stacks come first in the stack list, so the first round of the rotation does
	// not reach web-frontend: it is found through edge-1, which reports it failing.
	for i := range probeBudget + 4 {
		b.CreateStack(t, fmt.Sprintf("filler-%02d", i))
	}
	st := b.CreateStack(t, "web-frontend", a1.ID)
	obj := b.Post(t, st.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n", false)
	msg := "image pull backoff"
	if _, err := a1.Client.Agents().CreateEvent(ctx, a1.ID, client.NewAgentEvent{DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "FAILURE", Message: &msg}); err != nil {
		t.Fatal(err)
	}
	if _, err := a1.Client.Agents().CreateEvent(ctx, a1.ID, client.NewAgentEvent{DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS"}); err != nil {
		t.Fatal(err)
	}
	if err := a1.Client.DeploymentHealth().Report(ctx, a1.ID, []client.DeploymentObjectHealthUpdate{
		{ID: obj.ID, Status: client.HealthFailing, CheckedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	if err := a1.Client.Agents().Heartbeat(ctx, a1.ID, &client.HeartbeatRequest{K8sReachable: viewtest.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	wo, err := b.Admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "kind: Build\n",
		Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{a1.ID}}})
	if err != nil {
		t.Fatal(err)
	}

	env := &ui.Env{Client: b.Admin, Now: time.Now, Styles: ui.NewStyles(true, true), Ctx: ctx, RefreshEvery: time.Second}
	v := New(env)
	m := v.(*Model)
	var pending []tea.Cmd // commands that wait (the next frame, ticks): not run here
	for _, msg := range viewtest.Messages(v.Init()) {
		if s, ok := msg.(ui.StatusMsg); ok {
			if s.Err != nil {
				t.Fatalf("status: %v", s.Err)
			}
			continue
		}
		_, cmd := v.Update(msg)
		pending = append(pending, cmd)
	}
	if m.live != liveConnected || m.liveSub == nil {
		t.Fatalf("live channel not connected: %v", m.liveErr)
	}
	t.Cleanup(func() { _ = m.liveSub.Close() })
	if !m.fleetLoaded || !m.workLoaded || !m.eventsLoaded || m.firstErr() != nil {
		t.Fatalf("not loaded: fleet %v work %v events %v, error %v", m.fleetLoaded, m.workLoaded, m.eventsLoaded, m.firstErr())
	}

	out := ui.Plain(v.Render(120, 40))
	t.Log("\n" + out)
	for _, want := range []string{
		"3 agents", "● live updates connected",
		"ACTIVE 1  INACTIVE 2", "k8s up 1  down 0  unknown 2",
		"edge-1", "edge-2", "edge-3", "never",
		"failing 1 object on 1 agent", "web-frontend", "1F", fmt.Sprintf("stack health read: %d/%d", probeBudget-1, probeBudget+5),
		"pending 1  claimed 0", ui.ShortID(wo.ID), "build",
		"FAILURE", "image pull backoff", "SUCCESS",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("overview lacks %q", want)
		}
	}

	// Now as the program would: every command runs in the background and its messages come
	// back to Update. edge-3 heartbeats (again and again, until the broker has registered
	// the subscription and pushes the frame) and its frame must reach the view.
	msgs := make(chan tea.Msg, 256)
	var spawn func(tea.Cmd)
	spawn = func(c tea.Cmd) {
		if c == nil {
			return
		}
		go func() {
			switch msg := c().(type) {
			case nil:
			case tea.BatchMsg:
				for _, c := range msg {
					spawn(c)
				}
			default:
				msgs <- msg
			}
		}()
	}
	for _, c := range pending {
		spawn(c)
	}
	deadline := time.After(20 * time.Second)
	hb := time.NewTicker(100 * time.Millisecond)
	defer hb.Stop()
	for got := false; !got; {
		select {
		case <-hb.C:
			if err := a3.Client.Agents().Heartbeat(ctx, a3.ID, &client.HeartbeatRequest{K8sReachable: viewtest.Ptr(false)}); err != nil {
				t.Fatal(err)
			}
		case msg := <-msgs:
			if s, ok := msg.(ui.StatusMsg); ok && s.Err != nil {
				t.Fatalf("status: %v", s.Err)
			}
			if f, ok := msg.(FrameMsg); ok && f.Record.AgentID == a3.ID {
				got = true
			}
			_, cmd := v.Update(msg)
			spawn(cmd)
		case <-deadline:
			t.Fatal("no fleet_update frame for edge-3")
		}
	}
	r := m.fleet.byID[a3.ID]
	if r == nil || r.LastHeartbeat == nil || r.K8sReachable == nil || *r.K8sReachable {
		t.Fatalf("edge-3 after the frame: %+v", r)
	}
	if m.fleet.n.k8sDown != 1 || m.fleet.stale[len(m.fleet.stale)-1].AgentID != a3.ID {
		t.Fatalf("counts %+v, freshest %s", m.fleet.n, m.fleet.stale[len(m.fleet.stale)-1].Name)
	}
	if out := ui.Plain(v.Render(120, 40)); !strings.Contains(out, "k8s up 1  down 1  unknown 1") {
		t.Fatalf("render after the frame:\n%s", out)
	}
}
