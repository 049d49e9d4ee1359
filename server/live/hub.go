// Package live runs the broker's WebSocket channels: the agents' two-way channel, the stack
// live tails and the fleet subscriptions of consumers, their fan-out across replicas through
// PostgreSQL NOTIFY, and the revocation of sockets whose access ended. The HTTP layer
// authenticates and authorizes an upgrade request and hands it to the Hub.
package live

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/heartbeats"
	"github.com/brokkr/brokkr/server/workers"
)

// Capacities of the live channels.
const (
	controlLaneSize   = 64   // agent downlink: work orders, target and stack changes
	telemetryLaneSize = 1024 // agent downlink: everything else
	subscriberBuffer  = 1024 // frames buffered per live subscriber
)

// Options are the dependencies of New.
type Options struct {
	DB       *db.DB
	Logger   *slog.Logger
	Registry prometheus.Registerer
	// RecordAgentEvent stores an agent event an agent reported on its channel, emitting the
	// same webhook event as one posted to the REST API.
	RecordAgentEvent func(ctx context.Context, e db.NewAgentEvent) (db.AgentEvent, error)
	// Heartbeats takes the heartbeats agents send on their channels; the fleet records
	// include the heartbeats it has not written yet. nil: each heartbeat is written at once.
	Heartbeats *heartbeats.Coalescer
}

// Hub holds this replica's WebSocket connections: agents (one per agent), stack live
// subscribers and fleet subscribers, and what it knows of the agents connected to other
// replicas. Messages meant for sockets held elsewhere travel through PostgreSQL NOTIFY
// (fanout.go).
type Hub struct {
	db               *db.DB
	log              *slog.Logger
	recordAgentEvent func(ctx context.Context, e db.NewAgentEvent) (db.AgentEvent, error)
	heartbeats       *heartbeats.Coalescer
	replica          uuid.UUID // this replica's id on the fan-out channel
	channel          string    // the fan-out channel of this database schema
	metrics          *metrics
	wg               sync.WaitGroup // the goroutines of Start

	mu      sync.Mutex
	ctx     context.Context // ends when the server stops
	agents  map[uuid.UUID]*agentConn
	stacks  map[uuid.UUID]map[*stackSub]struct{}
	fleet   map[*fleetSub]struct{}
	remote  map[uuid.UUID]*remoteReplica
	dirty   map[uuid.UUID]struct{} // agents whose fleet record must be pushed
	pushing bool                   // a goroutine is pushing fleet records
	sweep   map[uuid.UUID]fleetSignals
	swept   bool // the first sweep has seeded sweep

	fan fanoutState
	rev revocationState
}

// New returns a hub without connections and registers its metrics. Until Start it runs
// alone: nothing is published to other replicas.
func New(o Options) *Hub {
	h := &Hub{
		db:               o.DB,
		log:              o.Logger,
		recordAgentEvent: o.RecordAgentEvent,
		heartbeats:       o.Heartbeats,
		replica:          uuid.New(),
		channel:          liveChannel(o.DB.Schema()),
		ctx:              context.Background(),
		agents:           map[uuid.UUID]*agentConn{},
		stacks:           map[uuid.UUID]map[*stackSub]struct{}{},
		fleet:            map[*fleetSub]struct{}{},
		remote:           map[uuid.UUID]*remoteReplica{},
		dirty:            map[uuid.UUID]struct{}{},
	}
	h.fan.parts = map[string]*partialMessage{}
	h.rev = newRevocationState(o.DB.Schema())
	h.metrics = newMetrics(o.Registry, h)
	if h.heartbeats == nil {
		h.heartbeats = heartbeats.New(heartbeats.Options{DB: o.DB, Logger: o.Logger})
	}
	h.heartbeats.OnFlush(h.heartbeatsWritten)
	return h
}

// liveChannel names the fan-out channel. NOTIFY channels are per database, so brokers
// confined to different schemas of one database use different channels.
func liveChannel(schema string) string {
	if schema == "" {
		return "brokkr_live"
	}
	f := fnv.New64a()
	_, _ = f.Write([]byte(schema))
	return fmt.Sprintf("brokkr_live_%016x", f.Sum64())
}

// Workers returns the hub's periodic tasks: the fleet sweep and the socket re-check.
func (h *Hub) Workers() []workers.Worker {
	return []workers.Worker{{
		Name:     "fleet-sweep",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.FleetSweepIntervalSeconds }),
		Run:      h.sweepFleet,
	}, {
		Name:     "socket-recheck",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.SocketRecheckIntervalSeconds }),
		Run:      h.recheckAll,
	}}
}

// NotifyHandlers returns the hub's sides of the replica's notification listener: the
// fan-out channel and the revocation channel.
func (h *Hub) NotifyHandlers() []events.Handler {
	return []events.Handler{h.fanoutHandler(), h.revocationHandler()}
}

// Start runs the cross-replica side of the live channels until ctx ends; then every
// connection of this replica is closed.
func (h *Hub) Start(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	h.fan.out = make(chan []string, 4096)
	h.fan.started.Store(true)
	h.startRevocations(ctx)
	h.wg.Go(func() { h.publishLoop(ctx) })
	h.wg.Go(func() {
		h.presenceLoop(ctx)
		h.shutdown()
	})
}

// Wait blocks until the work started by Start has stopped.
func (h *Hub) Wait() { h.wg.Wait() }

// shutdown closes every connection of this replica and tells the other replicas.
func (h *Hub) shutdown() {
	h.mu.Lock()
	conns := make([]*agentConn, 0, len(h.agents))
	for _, c := range h.agents {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.close(statusGoingAway, "broker shutting down")
	}
	h.closeSubscribers()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := h.publishNow(ctx, fanoutMessage{Kind: fanBye}); err != nil {
		h.log.Debug("announce shutdown", slog.Any("error", err))
	}
}

// OnEvent turns committed notices into downlink messages and fleet pushes. It never blocks.
func (h *Hub) OnEvent(ev events.Event) {
	switch ev.Type {
	case events.NoticeTargetChanged:
		h.downlink(uuidsOf(ev.Data["agent_id"]), client.WSTargetChanged, ev.Data["target"])
	case events.NoticeStackChanged:
		h.downlink(uuidsOf(ev.Data["agent_ids"]), client.WSStackChanged, ev.Data["stack"])
	case events.NoticeWorkOrder:
		h.downlink(uuidsOf(ev.Data["agent_ids"]), client.WSWorkOrder, ev.Data["work_order"])
	case events.NoticeAgentHeartbeat:
		// The other replicas are told once the heartbeat is written (heartbeatsWritten).
		h.fleetChanged(false, uuidsOf(ev.Data["agent_id"])...)
	}
}

// uuidsOf reads one or several agent ids from notice data.
func uuidsOf(v any) []uuid.UUID {
	switch x := v.(type) {
	case uuid.UUID:
		return []uuid.UUID{x}
	case *uuid.UUID:
		if x != nil {
			return []uuid.UUID{*x}
		}
	case []uuid.UUID:
		return x
	case string:
		if id, err := uuid.Parse(x); err == nil {
			return []uuid.UUID{id}
		}
	case []string:
		out := make([]uuid.UUID, 0, len(x))
		for _, s := range x {
			if id, err := uuid.Parse(s); err == nil {
				out = append(out, id)
			}
		}
		return out
	case []any:
		var out []uuid.UUID
		for _, e := range x {
			out = append(out, uuidsOf(e)...)
		}
		return out
	}
	return nil
}

// frame is one encoded envelope, ready to be written to any number of sockets.
type frame struct {
	typ  string
	data []byte
}

// encodeFrame encodes an envelope {"type", "body"}.
func encodeFrame(typ string, body any) (frame, error) {
	raw, err := marshalJSON(body)
	if err != nil {
		return frame{}, fmt.Errorf("encode %s body: %w", typ, err)
	}
	data, err := marshalJSON(client.WSMessage{Type: typ, Body: raw})
	if err != nil {
		return frame{}, fmt.Errorf("encode %s: %w", typ, err)
	}
	return frame{typ: typ, data: data}, nil
}

// marshalJSON encodes v without HTML escaping (YAML and log lines read naturally).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// downlink sends a message to agents: to their sockets on this replica at once, and
// through the fan-out channel for agents connected elsewhere. Undeliverable messages are
// dropped; agents poll the REST API anyway.
func (h *Hub) downlink(agents []uuid.UUID, typ string, body any) {
	if len(agents) == 0 || body == nil {
		return
	}
	f, err := encodeFrame(typ, body)
	if err != nil {
		h.log.Error("encode downlink message", slog.Any("error", err))
		return
	}
	var elsewhere []uuid.UUID
	for _, id := range agents {
		if !h.deliverLocal(id, f) {
			elsewhere = append(elsewhere, id)
		}
	}
	if len(elsewhere) > 0 {
		h.publish(fanoutMessage{Kind: fanAgent, Agents: elsewhere, Msg: f.data})
	}
}

// deliverLocal queues f for the agent's socket on this replica; it reports whether the agent
// is connected here (whether or not the lane had room).
func (h *Hub) deliverLocal(agentID uuid.UUID, f frame) bool {
	h.mu.Lock()
	c := h.agents[agentID]
	h.mu.Unlock()
	if c == nil {
		return false
	}
	if !c.enqueue(f) {
		h.metrics.dropped.WithLabelValues("lane_full").Inc()
	}
	return true
}

// revokeLocal closes the agents' connections on this replica (the revocation message of
// replicas that predate the revocation channel of revoke.go).
func (h *Hub) revokeLocal(agents ...uuid.UUID) {
	for _, id := range agents {
		h.mu.Lock()
		c := h.agents[id]
		h.mu.Unlock()
		if c != nil {
			c.close(statusPolicyViolation, "credentials revoked")
		}
	}
}

// stackFrame broadcasts a telemetry frame to the stack's live subscribers on every replica.
func (h *Hub) stackFrame(stackID uuid.UUID, f frame) {
	h.deliverStack(stackID, f.data)
	h.publish(fanoutMessage{Kind: fanStack, Stack: &stackID, Msg: f.data})
}

// deliverStack offers a frame to the stack's subscribers on this replica.
func (h *Hub) deliverStack(stackID uuid.UUID, data []byte) {
	h.mu.Lock()
	subs := make([]*stackSub, 0, len(h.stacks[stackID]))
	for sub := range h.stacks[stackID] {
		subs = append(subs, sub)
	}
	h.mu.Unlock()
	for _, sub := range subs {
		sub.offer(data)
	}
}
