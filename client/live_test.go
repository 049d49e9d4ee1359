package client_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

func TestLiveChannels(t *testing.T) {
	b := newBroker(t)
	c := ctx(t)
	admin := b.client(b.admin)
	gen := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "ci"}))(t)
	otherGen := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "other"}))(t)
	st := must(admin.Stacks().Create(c, client.CreateStackRequest{Name: "web", GeneratorID: gen.Generator.ID}))(t)
	created := must(admin.Agents().Create(c, client.CreateAgentRequest{Name: "edge", ClusterName: "eu",
		GeneratorIDs: []uuid.UUID{gen.Generator.ID}}))(t)
	agent := b.client(created.InitialPAK)

	t.Run("refusals", func(t *testing.T) {
		if _, err := agent.Live().Fleet(c); !client.IsForbidden(err) {
			t.Fatalf("fleet channel for an agent: %v", err)
		}
		if _, err := b.client("brokkr_BRnope_nope").Live().Fleet(c); !client.IsUnauthorized(err) {
			t.Fatalf("fleet channel for an unknown key: %v", err)
		}
		if _, err := b.client(otherGen.PAK).Live().Stack(c, st.ID); !client.IsForbidden(err) {
			t.Fatalf("stack channel for another generator: %v", err)
		}
		if _, err := admin.AgentChannel(c); !client.IsForbidden(err) {
			t.Fatalf("agent channel for the admin: %v", err)
		} else if e, _ := client.AsError(err); e.Path != "/internal/ws/agent" || e.Method != "GET" {
			t.Fatalf("refusal %+v", e)
		}
	})

	t.Run("fleet update on heartbeat", func(t *testing.T) {
		ro := b.client(b.srv.ReadOnlyPAK()) // the read-only admin key may watch the fleet
		fleet := must(ro.Live().Fleet(c))(t)
		defer fleet.Close()
		eventually(t, "fleet subscriber", func() bool { return strings.Contains(scrape(t, b.url), "brokkr_fleet_live_subscribers 1") })
		ok(t, agent.Agents().Heartbeat(c, created.Agent.ID, nil))
		m := must(fleet.Next(c))(t)
		var rec client.FleetAgentRecord
		ok(t, m.Decode(&rec))
		if m.Type != client.WSFleetUpdate || rec.AgentID != created.Agent.ID || rec.LastHeartbeat == nil || rec.WSConnected {
			t.Fatalf("frame %s %+v", m.Type, rec)
		}
		ok(t, fleet.Close())
		eventually(t, "fleet subscriber gone", func() bool { return strings.Contains(scrape(t, b.url), "brokkr_fleet_live_subscribers 0") })
	})

	t.Run("agent channel", func(t *testing.T) {
		ch := must(agent.AgentChannel(c))(t)
		eventually(t, "agent connection", func() bool { return must(admin.Admin().WSConnections(c))(t).ConnectedAgents == 1 })
		hb := must(client.NewWSMessage(client.WSHeartbeat, client.Heartbeat{AgentID: created.Agent.ID, SentAt: time.Now(),
			K8sReachable: ptr(false)}))(t)
		ok(t, ch.Send(c, hb))
		eventually(t, "heartbeat over the channel", func() bool {
			a := must(admin.Agents().Get(c, created.Agent.ID))(t)
			return a.LastHeartbeat != nil && a.K8sReachable != nil && !*a.K8sReachable
		})
		// A target binding is pushed to the agent.
		must(admin.Agents().AddTarget(c, created.Agent.ID, st.ID))(t)
		m := must(ch.Next(c))(t)
		var tg client.AgentTarget
		ok(t, m.Decode(&tg))
		if m.Type != client.WSTargetChanged || tg.StackID != st.ID {
			t.Fatalf("frame %s %s", m.Type, m.Body)
		}
		// Rotating the key closes the channel.
		must(agent.Agents().RotatePAK(c, created.Agent.ID))(t)
		if _, err := ch.Next(c); err == nil || errors.Is(err, io.EOF) {
			t.Fatalf("next after rotation: %v", err)
		}
		ok(t, ch.Close())
	})

}
