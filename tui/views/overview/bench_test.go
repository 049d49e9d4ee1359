package overview

import (
	"fmt"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
)

// bigMsg is a refresh of a fleet of 1,000 agents and 1,000 stacks, a tenth of them
// unhealthy, with a long work order queue and a page of events.
func bigMsg(m *Model) LoadedMsg {
	const n = 1000
	msg := LoadedMsg{Gen: m.gen, At: now,
		Fleet:  &FleetResult{Records: make([]client.FleetAgentRecord, n)},
		Health: &HealthResult{Stacks: make([]client.Stack, n), Probed: make([]StackHealth, n), Walked: n},
		Work:   &WorkResult{Pending: 5000, Claimed: 120},
		Events: &EventsResult{},
	}
	for i := range n {
		r := &msg.Fleet.Records[i]
		*r = client.FleetAgentRecord{AgentID: id(i), Name: fmt.Sprintf("edge-%04d", i), ClusterName: fmt.Sprintf("cluster-%03d", i%300),
			Status: "ACTIVE", WSConnected: i%10 != 0, K8sReachable: viewtest.Ptr(i%17 != 0)}
		if i%50 != 0 {
			r.LastHeartbeat = ago(time.Duration(i%600) * time.Second)
		} else {
			r.Status = "INACTIVE"
		}
		if i%25 == 0 {
			r.HealthFailing = int64(i % 3)
			r.HealthDegraded = int64(i % 4)
		}
		msg.Health.Stacks[i] = client.Stack{ID: id(10000 + i), Name: fmt.Sprintf("stack-%04d", i)}
		st := "healthy"
		switch i % 20 {
		case 0:
			st = "failing"
		case 1:
			st = "degraded"
		}
		msg.Health.Probed[i] = StackHealth{StackID: id(10000 + i), Status: st, Failing: i % 3, Degraded: i % 2}
	}
	for i := range keepOldest {
		msg.Work.Oldest = append(msg.Work.Oldest, client.WorkOrder{ID: id(20000 + i), WorkType: "build", CreatedAt: now.Add(-time.Duration(keepOldest-i) * time.Hour), MaxRetries: 3})
	}
	for i := range keepEvents {
		text := fmt.Sprintf("applied %d objects", i)
		msg.Events.Events = append(msg.Events.Events, client.AgentEvent{ID: id(30000 + i), AgentID: id(i * 7), EventType: "DEPLOY",
			Status: []string{"SUCCESS", "FAILURE"}[i%2], Message: &text, CreatedAt: now.Add(-time.Duration(i) * time.Minute)})
	}
	return msg
}

// BenchmarkOverviewUpdate measures one live frame — Update with a FleetAgentRecord — and the
// render of the whole overview at 120×40 that follows it, on a fleet of 1,000 agents and
// 1,000 stacks.
func BenchmarkOverviewUpdate(b *testing.B) {
	m := newModel(b)
	m.Update(bigMsg(m))
	if m.fleet.n.total != 1000 || len(m.stacks) != 1000 || len(m.badStacks) != 100 {
		b.Fatalf("seed: %d agents, %d stacks, %d unhealthy", m.fleet.n.total, len(m.stacks), len(m.badStacks))
	}
	frames := make([]FrameMsg, 1000)
	for i := range frames {
		r := client.FleetAgentRecord{AgentID: id(i), Name: fmt.Sprintf("edge-%04d", i), ClusterName: "c", Status: "ACTIVE",
			WSConnected: true, LastHeartbeat: ago(-time.Duration(i) * time.Millisecond), K8sReachable: viewtest.Ptr(i%2 == 0),
			HealthFailing: int64(i % 5 / 4)}
		frames[i] = FrameMsg{Session: m.liveSession, Record: r, At: now}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m.Update(frames[i%len(frames)])
		_ = m.Render(120, 40)
		i++
	}
}

// BenchmarkOverviewSnapshot measures taking in a full refresh of 1,000 agents and 1,000
// stacks (what the fleet poll costs while the live channel is down).
func BenchmarkOverviewSnapshot(b *testing.B) {
	m := newModel(b)
	msg := bigMsg(m)
	b.ReportAllocs()
	for b.Loop() {
		m.Update(msg)
	}
}
