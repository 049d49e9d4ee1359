package main

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// sim is what every simulated agent of a run shares.
type sim struct {
	ops   Ops
	stats *stats
	dist  *distTracker
	fetch *targetFetcher
}

// simAgent does on the wire what brokkr-agent does, without a cluster: every interval it
// fetches its full target state (conditionally, with the ETag of the last answer it acted
// on) and reports SUCCESS for deployment objects it has not reported yet, sends a heartbeat
// and reads its status back, and lists its pending work orders and diagnostics; -ops picks
// which of these it does. With a channel, a stack_changed or target_changed push starts a
// target-state pass at once. It is kept small: a fleet holds tens of thousands.
type simAgent struct {
	idx      int
	id       uuid.UUID
	pak      string
	c        *client.Client
	sim      *sim
	mu       sync.Mutex    // one reconcile pass at a time, as the agent
	reported []uuid.UUID   // deployment objects reported
	etag     string        // of the last target state acted on in full
	frames   atomic.Uint64 // channel frames written (flood)
	due      time.Time     // next cycle (scheduler)
}

// cycle is one polling cycle: the operations of -ops in the agent's order.
func (a *simAgent) cycle(ctx context.Context) {
	ops, s := a.sim.ops, a.sim.stats
	if ops.TargetState {
		a.reconcile(ctx)
	}
	beat := true
	if ops.Heartbeat {
		report := &client.HeartbeatRequest{K8sReachable: new(true)}
		beat = s.time(ctx, opHeartbeat, func() error { return a.c.Agents().Heartbeat(ctx, a.id, report) }) == nil
	}
	if ops.Status && beat {
		_ = s.time(ctx, opSelf, func() error { _, err := a.c.Agents().Get(ctx, a.id); return err })
	}
	if ops.WorkOrders {
		_ = s.time(ctx, opWorkOrders, func() error { _, err := a.c.WorkOrders().Pending(ctx, a.id, ""); return err })
	}
	if ops.Diagnostics {
		_ = s.time(ctx, opDiagnostics, func() error { _, err := a.c.Diagnostics().Pending(ctx, a.id); return err })
	}
}

// reconcile fetches the full target state and, with the event operation, reports SUCCESS for
// every new object. The answer's ETag is kept only once every object in it is reported, so
// that a failed report is tried again at the next poll rather than hidden behind a 304.
func (a *simAgent) reconcile(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.sim.stats
	var target []client.DeploymentObject
	var etag string
	var notModified bool
	err := s.time(ctx, opTargetState, func() error {
		var err error
		target, etag, notModified, err = a.sim.fetch.fetch(ctx, a, a.etag)
		return err
	})
	switch {
	case err != nil:
		return
	case notModified:
		s.ops[opTargetState].notModified.Add(1)
		if etag != "" {
			a.etag = etag
		}
		return
	}
	complete := true
	for _, obj := range target {
		if !a.sim.ops.Event || slices.Contains(a.reported, obj.ID) {
			continue
		}
		msg := "applied by fleetsim"
		ev := client.NewAgentEvent{AgentID: a.id, DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS", Message: &msg}
		if s.time(ctx, opEvent, func() error { _, err := a.c.Agents().CreateEvent(ctx, a.id, ev); return err }) != nil {
			complete = false
			continue
		}
		a.remember(obj.ID)
		a.sim.dist.reported(obj.ID, a.idx, time.Now())
	}
	if complete {
		a.etag = etag
	}
}

// remember notes a reported object; the few most recent are enough, as the agent only ever
// sees the latest object of each stack.
func (a *simAgent) remember(id uuid.UUID) {
	const keep = 8
	if len(a.reported) == keep {
		a.reported = slices.Delete(a.reported, 0, 1)
	}
	a.reported = append(a.reported, id)
}

// channel holds the agent's WebSocket channel for the run, dialling again after a loss
// (1 s apart), and reacts to pushes. With flood, it also writes heartbeat frames as fast
// as the channel takes them.
func (a *simAgent) channel(ctx context.Context, ws *client.Client, flood bool) {
	for ctx.Err() == nil {
		var ch *client.AgentChannel
		err := a.sim.stats.time(ctx, opChannelDial, func() error {
			var err error
			ch, err = ws.AgentChannel(ctx)
			return err
		})
		if err != nil {
			sleep(ctx, time.Second)
			continue
		}
		a.serve(ctx, ch, flood)
		_ = ch.Close()
	}
}

func (a *simAgent) serve(ctx context.Context, ch *client.AgentChannel, flood bool) {
	chCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	if flood {
		wg.Go(func() {
			defer cancel()
			for chCtx.Err() == nil {
				m, err := client.NewWSMessage(client.WSHeartbeat, client.Heartbeat{AgentID: a.id, SentAt: time.Now().UTC(), K8sReachable: new(true)})
				if err == nil {
					err = ch.Send(chCtx, m)
				}
				if err != nil {
					return
				}
				a.frames.Add(1)
			}
		})
	}
	kick := make(chan struct{}, 1)
	wg.Go(func() {
		for {
			select {
			case <-chCtx.Done():
				return
			case <-kick:
				a.reconcile(chCtx)
			}
		}
	})
	for {
		m, err := ch.Next(chCtx)
		if err != nil {
			return
		}
		if m.Type == client.WSStackChanged || m.Type == client.WSTargetChanged {
			select {
			case kick <- struct{}{}:
			default: // a pass is already due
			}
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
