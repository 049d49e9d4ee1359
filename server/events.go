package server

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
)

// Event types emitted by API writes (the webhook catalogue).
const (
	EventAgentRegistered    = "agent.registered"
	EventAgentDeregistered  = "agent.deregistered"
	EventStackCreated       = "stack.created"
	EventStackDeleted       = "stack.deleted"
	EventDeploymentCreated  = "deployment.created"
	EventDeploymentApplied  = "deployment.applied"
	EventDeploymentFailed   = "deployment.failed"
	EventDeploymentDeleted  = "deployment.deleted"
	EventWorkOrderCreated   = "workorder.created"
	EventWorkOrderClaimed   = "workorder.claimed"
	EventWorkOrderCompleted = "workorder.completed"
	EventWorkOrderFailed    = "workorder.failed"
)

// Internal notification types: not webhook events, but facts live channels push to agents.
const (
	NoticeTargetChanged = "internal.target_changed" // Data: AgentTarget
	NoticeStackChanged  = "internal.stack_changed"  // Data: stack_id, Stack
	NoticeWorkOrder     = "internal.work_order"     // Data: agent_ids []uuid.UUID, work_order client.WorkOrder
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
	mu    sync.RWMutex
	hooks []TxHook
	subs  []func(Event)
	log   *slog.Logger
}

// NewBus returns an empty bus.
func NewBus(log *slog.Logger) *Bus { return &Bus{log: log} }

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

// inTx runs fn in a transaction with an emitter; committed events are published afterwards.
func (s *Server) inTx(ctx context.Context, fn func(q db.Queryer, em *Emitter) error) error {
	em := &Emitter{bus: s.bus}
	if err := s.db.InTx(ctx, func(q db.Queryer) error { return fn(q, em) }); err != nil {
		return err
	}
	em.publish()
	return nil
}
