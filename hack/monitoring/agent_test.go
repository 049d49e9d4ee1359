package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/agent/httpserver"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
)

// simAgent is an agent without a cluster: it heartbeats, polls its target state, reports
// events and health, streams Kubernetes events and log lines over its WebSocket and
// delivers the webhooks handed to it, all for real against the broker, and keeps the
// agent's own metrics (agent/httpserver) as the agent does. What a cluster would do (apply
// durations, Kubernetes requests) is simulated.
type simAgent struct {
	name    string
	id      uuid.UUID
	c       *client.Client
	m       *httpserver.Metrics
	srv     *httptest.Server
	stacks  []uuid.UUID
	applied map[uuid.UUID]int // deployment object → objects it holds
	rnd     *rand.Rand
	failing bool    // half of its applies fail
	edge    bool    // carries env:edge, so it delivers webhooks
	useWS   bool    // heartbeats and telemetry over the WebSocket too
	lostAt  float64 // fraction of the run after which the agent is gone (0: never)
	lastOK  atomic.Int64
}

func newSimAgent(t *testing.T, a servertest.Agent, url string, i int) *simAgent {
	t.Helper()
	c, err := client.New(url, client.WithPAK(a.PAK))
	if err != nil {
		t.Fatal(err)
	}
	reg := httpserver.NewRegistry()
	s := &simAgent{name: a.Name, id: a.ID, c: c, m: httpserver.NewMetrics(reg), applied: map[uuid.UUID]int{},
		rnd: rand.New(rand.NewPCG(uint64(i), 7)), failing: i%5 == 3, edge: i%3 == 0, useWS: i%2 == 0}
	if i == 1 {
		s.lostAt = 0.3
	}
	s.srv = httptest.NewServer(httpserver.New("", s, reg, "sim", nil).Handler())
	t.Cleanup(s.srv.Close)
	return s
}

// KubeCheck implements httpserver.Status: the simulated cluster always answers.
func (s *simAgent) KubeCheck(context.Context) error { return nil }

// BrokerStatus implements httpserver.Status.
func (s *simAgent) BrokerStatus() (bool, time.Time) {
	last := s.lastOK.Load()
	return last != 0, time.Unix(0, last)
}

// run works every period (with jitter) until ctx ends, or until the agent is lost.
func (s *simAgent) run(ctx context.Context, period, total time.Duration) {
	var ws *client.AgentChannel
	if s.useWS {
		if ch, err := s.c.AgentChannel(ctx); err == nil {
			ws = ch
			defer ch.Close()
			go drain(ctx, ch)
		}
	}
	begin := time.Now()
	for {
		jitter := time.Duration(s.rnd.Int64N(int64(period) / 5))
		select {
		case <-ctx.Done():
			return
		case <-time.After(period - period/10 + jitter):
		}
		if s.lostAt > 0 && time.Since(begin) > time.Duration(s.lostAt*float64(total)) {
			s.srv.Close() // the process is gone: its scrapes fail and its heartbeats stop
			return
		}
		s.cycle(ctx, ws)
	}
}

// drain reads what the broker pushes on the agent channel.
func drain(ctx context.Context, ch *client.AgentChannel) {
	for ctx.Err() == nil {
		if _, err := ch.Next(ctx); err != nil && ctx.Err() != nil {
			return
		}
	}
}

func (s *simAgent) cycle(ctx context.Context, ws *client.AgentChannel) {
	reachable, latency := true, int32(5+s.rnd.IntN(20))
	err := s.c.Agents().Heartbeat(ctx, s.id, &client.HeartbeatRequest{K8sReachable: &reachable, K8sAPILatencyMs: &latency})
	s.m.SetBrokerUp(err == nil)
	s.m.SetKubernetesUp(true)
	if err == nil {
		s.m.HeartbeatSent()
		s.lastOK.Store(time.Now().UnixNano())
	}
	if ws != nil {
		s.send(ctx, ws, client.WSHeartbeat, client.Heartbeat{AgentID: s.id, SentAt: time.Now()})
	}
	start := time.Now()
	objs, err := s.c.Agents().TargetState(ctx, s.id, true)
	s.m.ObservePoll(time.Since(start), err)
	if err != nil {
		return
	}
	s.reconcile(ctx, objs)
	if ws != nil {
		s.telemetry(ctx, ws)
	}
	if s.edge {
		s.deliverWebhooks(ctx)
	}
}

// reconcile "applies" new deployment objects and reports events and health as the agent
// does; the Kubernetes side is simulated.
func (s *simAgent) reconcile(ctx context.Context, objs []client.DeploymentObject) {
	managed := 0
	var health []client.DeploymentObjectHealthUpdate
	s.m.ObserveKubeOp(httpserver.OpList, s.simulated(5, 30))
	for _, o := range objs {
		n, ok := s.applied[o.ID]
		if ok {
			s.m.ObjectsApplied(httpserver.ResultUnchanged, n)
		} else {
			n = 1 + s.rnd.IntN(4)
			s.applied[o.ID] = n
			var total time.Duration
			for range n {
				get, apply := s.simulated(3, 20), s.simulated(10, 120)
				s.m.ObserveKubeOp(httpserver.OpGet, get)
				s.m.ObserveKubeOp(httpserver.OpApply, apply)
				total += get + apply
			}
			s.m.ObserveApply(total + s.simulated(20, 400))
			status, result := "SUCCESS", httpserver.ResultApplied
			if s.failing && s.rnd.IntN(2) == 0 {
				status, result = "FAILURE", httpserver.ResultFailed
			}
			s.m.ObjectsApplied(result, n)
			if s.rnd.IntN(3) == 0 {
				s.m.ObserveKubeOp(httpserver.OpDelete, s.simulated(5, 40))
				s.m.ObjectsPruned(1)
			}
			msg := fmt.Sprintf("%d objects", n)
			_, _ = s.c.Agents().CreateEvent(ctx, s.id, client.NewAgentEvent{AgentID: s.id, DeploymentObjectID: o.ID,
				EventType: "DEPLOY", Status: status, Message: &msg})
		}
		managed += n
		state := client.HealthHealthy
		if s.failing {
			state = client.HealthDegraded
		}
		health = append(health, client.DeploymentObjectHealthUpdate{ID: o.ID, Status: state, CheckedAt: time.Now()})
	}
	_ = s.c.DeploymentHealth().Report(ctx, s.id, health)
	s.m.SetManagedObjects(managed)
	s.m.SetDeploymentObjects(len(objs))
}

// simulated is a made-up duration between lo and hi milliseconds.
func (s *simAgent) simulated(lo, hi int) time.Duration {
	return time.Duration(lo+s.rnd.IntN(hi-lo)) * time.Millisecond
}

// telemetry streams an event and a few log lines of each of the agent's stacks.
func (s *simAgent) telemetry(ctx context.Context, ws *client.AgentChannel) {
	ns := "default"
	for _, st := range s.stacks {
		s.send(ctx, ws, client.WSK8sEvent, client.K8sEvent{AgentID: s.id, StackID: st, ObservedAt: time.Now(),
			Reason: "Pulled", Message: "Container image already present on machine", EventType: "Normal",
			InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: &ns, Name: "app-0"}})
		lines := 1 + s.rnd.IntN(4)
		for i := range lines {
			s.send(ctx, ws, client.WSPodLogLine, client.PodLogLine{AgentID: s.id, StackID: st, Namespace: "default",
				Pod: "app-0", Container: "app", TS: time.Now(), Line: fmt.Sprintf("served request %d", i)})
		}
		s.m.PodLogs().LogLinesSent(lines)
	}
	s.m.PodLogs().LogFollowers(len(s.stacks), 0)
}

func (s *simAgent) send(ctx context.Context, ws *client.AgentChannel, typ string, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		return
	}
	if err := ws.Send(ctx, client.WSMessage{Type: typ, Body: raw}); err != nil {
		s.m.TelemetryDropped(typ)
		return
	}
	if typ != client.WSHeartbeat {
		s.m.TelemetrySent(typ)
	}
}

// deliverWebhooks sends the deliveries the broker hands to the agent and reports results.
func (s *simAgent) deliverWebhooks(ctx context.Context) {
	pending, err := s.c.Webhooks().Pending(ctx, s.id)
	if err != nil {
		return
	}
	for _, p := range pending {
		start := time.Now()
		code, err := postWebhook(ctx, p)
		ms := time.Since(start).Milliseconds()
		res := client.DeliveryResultRequest{Success: err == nil && code < 300, DurationMs: &ms}
		if code != 0 {
			c := int32(code)
			res.StatusCode = &c
		}
		s.m.WebhookDelivered(res.Success)
		_, _ = s.c.Webhooks().ReportResult(ctx, p.ID, res)
	}
}
