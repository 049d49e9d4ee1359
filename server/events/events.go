// Package events carries the broker's events: the in-process bus on which API writes emit
// webhook events and internal notices, and the listener that receives the PostgreSQL
// notifications replicas send each other.
package events

import (
	"context"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
)

// Event types emitted by API writes (the webhook catalogue).
const (
	AgentRegistered    = "agent.registered"
	AgentDeregistered  = "agent.deregistered"
	StackCreated       = "stack.created"
	StackDeleted       = "stack.deleted"
	DeploymentCreated  = "deployment.created"
	DeploymentApplied  = "deployment.applied"
	DeploymentFailed   = "deployment.failed"
	DeploymentDeleted  = "deployment.deleted"
	DeploymentDrifted  = "deployment.drifted" // an agent's DRIFT event, DRIFTED or CORRECTED
	WorkOrderCreated   = "workorder.created"
	WorkOrderClaimed   = "workorder.claimed"
	WorkOrderCompleted = "workorder.completed"
	WorkOrderFailed    = "workorder.failed"

	// Progressive rollouts. Data: the rollout without its agents.
	RolloutStarted       = "rollout.started"
	RolloutWaveCompleted = "rollout.wave_completed"
	RolloutHalted        = "rollout.halted"
	RolloutCompleted     = "rollout.completed"
	RolloutAborted       = "rollout.aborted"
)

// Catalogue returns the event types webhooks may subscribe to, in the order
// GET /webhooks/event-types lists them.
func Catalogue() []string {
	return []string{
		AgentRegistered, AgentDeregistered, StackCreated, StackDeleted,
		DeploymentCreated, DeploymentApplied, DeploymentFailed, DeploymentDeleted,
		WorkOrderCreated, WorkOrderClaimed, WorkOrderCompleted, WorkOrderFailed,
		DeploymentDrifted,
		RolloutStarted, RolloutWaveCompleted, RolloutHalted, RolloutCompleted, RolloutAborted,
	}
}

// InternalPrefix starts the type of every internal notice.
const InternalPrefix = "internal."

// Internal notification types: not webhook events, but facts live channels push to agents.
const (
	NoticeTargetChanged = InternalPrefix + "target_changed" // Data: AgentTarget
	NoticeStackChanged  = InternalPrefix + "stack_changed"  // Data: stack_id, Stack
	NoticeWorkOrder     = InternalPrefix + "work_order"     // Data: agent_ids []uuid.UUID, work_order client.WorkOrder
	// NoticeAgentHeartbeat pushes the agent's fleet record to fleet subscribers. Data: agent_id.
	NoticeAgentHeartbeat = InternalPrefix + "agent_heartbeat"
)

// Event is one emission: the webhook envelope plus internal routing data.
type Event struct {
	ID        uuid.UUID      `json:"id"`
	Type      string         `json:"event_type"`
	Timestamp time.Time      `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// TxHook runs inside the transaction of the write that emits an event; an error aborts the
// write. Webhook deliveries are created this way, atomically with their cause.
type TxHook func(ctx context.Context, q db.Queryer, ev Event) error

// Bus fans events out: transaction hooks while the write is open, subscribers after commit.
type Bus struct {
	mu            sync.RWMutex
	hooks         []TxHook
	subs          []func(Event)
	beforePublish func(ctx context.Context, evs []Event)
}

// BeforePublish sets a function run after a transaction committed and before its events
// reach the subscribers (the broker brings its caches up to date with the write there,
// before agents are told to read).
func (b *Bus) BeforePublish(f func(ctx context.Context, evs []Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.beforePublish = f
}

// NewBus returns an empty bus.
func NewBus() *Bus { return &Bus{} }

// AddTxHook registers a hook run inside emitting transactions.
func (b *Bus) AddTxHook(h TxHook) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hooks = append(b.hooks, h)
}

// Subscribe registers a function called for every committed event. It must not block.
func (b *Bus) Subscribe(f func(Event)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.subs = append(b.subs, f)
}

// InTx runs fn in a transaction of store with an emitter; the events it emitted are
// published once the transaction committed.
func (b *Bus) InTx(ctx context.Context, store *db.DB, fn func(q db.Queryer, em *Emitter) error) error {
	em := &Emitter{bus: b}
	if err := store.InTx(ctx, func(q db.Queryer) error { return fn(q, em) }); err != nil {
		return err
	}
	b.mu.RLock()
	before := b.beforePublish
	b.mu.RUnlock()
	if before != nil && len(em.pending) > 0 {
		before(ctx, em.pending)
	}
	em.publish()
	return nil
}

// Notice publishes an internal notification that is not tied to a transaction.
func (b *Bus) Notice(typ string, data map[string]any) {
	em := &Emitter{bus: b}
	em.Notice(typ, data)
	em.publish()
}

// Emitter collects the events of one transaction.
type Emitter struct {
	bus     *Bus
	pending []Event
}

// Emit records an event inside transaction q, running the transaction hooks now.
func (e *Emitter) Emit(ctx context.Context, q db.Queryer, typ string, data map[string]any) error {
	ev := Event{ID: uuid.New(), Type: typ, Timestamp: time.Now().UTC(), Data: data}
	e.bus.mu.RLock()
	hooks := e.bus.hooks
	e.bus.mu.RUnlock()
	for _, h := range hooks {
		if err := h(ctx, q, ev); err != nil {
			return err
		}
	}
	e.pending = append(e.pending, ev)
	return nil
}

// Notice records an internal notification (no transaction hooks).
func (e *Emitter) Notice(typ string, data map[string]any) {
	e.pending = append(e.pending, Event{ID: uuid.New(), Type: typ, Timestamp: time.Now().UTC(), Data: data})
}

// publish hands the collected events to subscribers; call after commit.
func (e *Emitter) publish() {
	e.bus.mu.RLock()
	subs := e.bus.subs
	e.bus.mu.RUnlock()
	for _, ev := range e.pending {
		for _, f := range subs {
			f(ev)
		}
	}
	e.pending = nil
}
