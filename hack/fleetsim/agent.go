package main

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// The operations measured, in the order of the report.
const (
	opTargetState = "target-state"
	opHeartbeat   = "heartbeat"
	opSelf        = "agent-status"
	opWorkOrders  = "pending-work-orders"
	opDiagnostics = "pending-diagnostics"
	opEvent       = "event"
	opChannelDial = "channel-dial"
)

var opOrder = []string{opTargetState, opHeartbeat, opSelf, opWorkOrders, opDiagnostics, opEvent, opChannelDial}

// opStats are one operation's latencies and outcomes.
type opStats struct {
	hist      Histogram
	errors    atomic.Uint64
	throttled atomic.Uint64 // 429 answers, not counted as errors
	lastErr   atomic.Value  // string
}

// stats are the measurements of a run, shared by every simulated agent.
type stats struct {
	ops map[string]*opStats
}

func newStats() *stats {
	s := &stats{ops: map[string]*opStats{}}
	for _, op := range opOrder {
		s.ops[op] = &opStats{}
	}
	return s
}

// time runs one request and records it: latency of successful requests, 429s and errors
// apart. Requests cut short by the end of the run are not counted.
func (s *stats) time(ctx context.Context, op string, f func() error) error {
	start := time.Now()
	err := f()
	o := s.ops[op]
	switch {
	case err == nil:
		o.hist.Record(time.Since(start))
	case ctx.Err() != nil:
	case isStatus(err, http.StatusTooManyRequests):
		o.throttled.Add(1)
	default:
		o.errors.Add(1)
		o.lastErr.Store(err.Error())
	}
	return err
}

func isStatus(err error, status int) bool {
	ce, ok := client.AsError(err)
	return ok && ce.StatusCode == status
}

// simAgent does on the wire what brokkr-agent does, without a cluster: every interval it
// fetches its full target state and reports SUCCESS for deployment objects it has not
// reported yet, sends a heartbeat and reads its status back, and lists its pending work
// orders and diagnostics. With a channel, a stack_changed or target_changed push starts a
// target-state pass at once.
type simAgent struct {
	idx    int
	id     uuid.UUID
	pak    string
	c      *client.Client
	stats  *stats
	dist   *distTracker
	mu     sync.Mutex         // one reconcile pass at a time, as the agent
	done   map[uuid.UUID]bool // deployment objects reported
	frames atomic.Uint64      // channel frames written (flood)
}

// loop runs the polling cycle every interval, the first one after phase.
func (a *simAgent) loop(ctx context.Context, phase, interval time.Duration) {
	t := time.NewTimer(phase)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		a.cycle(ctx)
		// a cycle longer than the interval delays the next one, as the agent's loops do
		t.Reset(max(interval-time.Since(start), 0))
	}
}

func (a *simAgent) cycle(ctx context.Context) {
	a.reconcile(ctx)
	report := &client.HeartbeatRequest{K8sReachable: new(true)}
	if a.stats.time(ctx, opHeartbeat, func() error { return a.c.Agents().Heartbeat(ctx, a.id, report) }) == nil {
		_ = a.stats.time(ctx, opSelf, func() error { _, err := a.c.Agents().Get(ctx, a.id); return err })
	}
	_ = a.stats.time(ctx, opWorkOrders, func() error { _, err := a.c.WorkOrders().Pending(ctx, a.id, ""); return err })
	_ = a.stats.time(ctx, opDiagnostics, func() error { _, err := a.c.Diagnostics().Pending(ctx, a.id); return err })
}

// reconcile fetches the full target state and reports SUCCESS for every new object.
func (a *simAgent) reconcile(ctx context.Context) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var target []client.DeploymentObject
	err := a.stats.time(ctx, opTargetState, func() error {
		var err error
		target, err = a.c.Agents().TargetState(ctx, a.id, true)
		return err
	})
	if err != nil {
		return
	}
	for _, obj := range target {
		if a.done[obj.ID] {
			continue
		}
		msg := "applied by fleetsim"
		ev := client.NewAgentEvent{AgentID: a.id, DeploymentObjectID: obj.ID, EventType: "DEPLOY", Status: "SUCCESS", Message: &msg}
		if a.stats.time(ctx, opEvent, func() error { _, err := a.c.Agents().CreateEvent(ctx, a.id, ev); return err }) == nil {
			a.done[obj.ID] = true
			a.dist.reported(obj.ID, a.idx, time.Now())
		}
	}
}

// channel holds the agent's WebSocket channel for the run, dialling again after a loss
// (1 s apart), and reacts to pushes. With flood, it also writes heartbeat frames as fast
// as the channel takes them.
func (a *simAgent) channel(ctx context.Context, ws *client.Client, flood bool) {
	for ctx.Err() == nil {
		var ch *client.AgentChannel
		err := a.stats.time(ctx, opChannelDial, func() error {
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

// distTracker measures one distribution: from the POST of a deployment object until
// every simulated agent has reported SUCCESS for it.
type distTracker struct {
	mu     sync.Mutex
	object uuid.UUID
	posted time.Time
	// early holds reports that arrived before the POST answered with the object's id.
	early map[uuid.UUID]map[int]time.Time
	at    map[int]time.Time
	want  int
	all   chan struct{}
}

func newDistTracker(want int) *distTracker {
	return &distTracker{early: map[uuid.UUID]map[int]time.Time{}, at: map[int]time.Time{}, want: want, all: make(chan struct{})}
}

// begin marks the POST's start; reports until started name objects of the past.
func (d *distTracker) begin() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.posted = time.Now()
}

// started names the posted object.
func (d *distTracker) started(obj uuid.UUID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.object = obj
	for i, t := range d.early[obj] {
		d.record(i, t)
	}
	d.early = nil
}

func (d *distTracker) reported(obj uuid.UUID, idx int, t time.Time) {
	if d == nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch {
	case d.posted.IsZero():
	case d.object == uuid.Nil:
		if d.early[obj] == nil {
			d.early[obj] = map[int]time.Time{}
		}
		d.early[obj][idx] = t
	case obj == d.object:
		d.record(idx, t)
	}
}

func (d *distTracker) record(idx int, t time.Time) {
	if _, ok := d.at[idx]; ok {
		return
	}
	d.at[idx] = t
	if len(d.at) == d.want {
		close(d.all)
	}
}

// result summarises the distribution so far.
func (d *distTracker) result() *DistReport {
	d.mu.Lock()
	defer d.mu.Unlock()
	var h Histogram
	for _, t := range d.at {
		h.Record(t.Sub(d.posted))
	}
	r := &DistReport{Object: d.object.String(), Agents: d.want, Reported: len(d.at), Complete: len(d.at) == d.want,
		Latency: latencies(&h)}
	if r.Complete {
		r.AllMs = ms(h.Max())
	}
	return r
}

var errDistTimeout = errors.New("distribution did not complete")
