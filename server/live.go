package server

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
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
)

// Internal notices of the live channels, in addition to those of events.go.
const (
	// NoticeAgentHeartbeat pushes the agent's fleet record to fleet subscribers. Data: agent_id.
	NoticeAgentHeartbeat = "internal.agent_heartbeat"
)

// Capacities of the live channels.
const (
	controlLaneSize   = 64   // agent downlink: work orders, target and stack changes
	telemetryLaneSize = 1024 // agent downlink: everything else
	subscriberBuffer  = 1024 // frames buffered per live subscriber
)

// installLive registers the live channels (WebSocket), fleet and telemetry routes and workers.
func (s *Server) installLive(e *echo.Echo, g routes) {
	s.live = newLiveHub(s)
	e.GET("/internal/ws/agent", s.agentSocket)
	// The consumer channels authenticate themselves: browsers can only offer the PAK as a
	// subprotocol, which the API middleware does not read.
	e.GET(apiPrefix+"/stacks/:id/live", s.stackLiveSocket)
	e.GET(apiPrefix+"/fleet/live", s.fleetLiveSocket)

	g.GET("/fleet", s.listFleet)
	g.GET("/agents/:id/fleet-status", s.agentFleetStatus)
	g.GET("/stacks/:id/events", s.listTelemetryEvents)
	g.GET("/stacks/:id/logs", s.listTelemetryLogs)
	g.GET("/admin/ws/connections", s.listWSConnections)

	s.addWorker(worker{
		name:     "fleet-sweep",
		interval: seconds(func(b config.BrokerSettings) int { return b.FleetSweepIntervalSeconds }),
		run:      s.live.sweepFleet,
	})
	s.addWorker(worker{
		name:     "socket-recheck",
		interval: seconds(func(b config.BrokerSettings) int { return b.SocketRecheckIntervalSeconds }),
		run:      s.live.recheckAll,
	})
	s.addWorker(worker{
		name:     "telemetry-eviction",
		interval: seconds(func(b config.BrokerSettings) int { return b.TelemetryEvictionIntervalSeconds }),
		run:      s.evictTelemetry,
	})
	s.bus.Subscribe(s.live.onEvent)
}

// startLive runs the cross-replica side of the live channels until ctx ends; then every
// connection of this replica is closed.
func (s *Server) startLive(ctx context.Context) {
	s.live.start(ctx)
}

// notice publishes an internal notification that is not tied to a transaction.
func (s *Server) notice(typ string, data map[string]any) {
	em := &Emitter{bus: s.bus}
	em.Notice(typ, data)
	em.publish()
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

// liveHub holds this replica's WebSocket connections: agents (one per agent), stack live
// subscribers and fleet subscribers, and what it knows of the agents connected to other
// replicas. Messages meant for sockets held elsewhere travel through PostgreSQL NOTIFY
// (ws_fanout.go).
type liveHub struct {
	s       *Server
	log     *slog.Logger
	replica uuid.UUID // this replica's id on the fan-out channel
	channel string    // the fan-out channel of this database schema
	metrics *liveMetrics

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

func newLiveHub(s *Server) *liveHub {
	h := &liveHub{
		s:       s,
		log:     s.log,
		replica: uuid.New(),
		channel: liveChannel(s.db.Schema()),
		ctx:     context.Background(),
		agents:  map[uuid.UUID]*agentConn{},
		stacks:  map[uuid.UUID]map[*stackSub]struct{}{},
		fleet:   map[*fleetSub]struct{}{},
		remote:  map[uuid.UUID]*remoteReplica{},
		dirty:   map[uuid.UUID]struct{}{},
	}
	h.fan.parts = map[string]*partialMessage{}
	h.rev = newRevocationState(s.db.Schema())
	h.metrics = newLiveMetrics(s.metrics.registry, h)
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

func (h *liveHub) start(ctx context.Context) {
	h.mu.Lock()
	h.ctx = ctx
	h.mu.Unlock()
	h.fan.out = make(chan []string, 4096)
	h.fan.started.Store(true)
	h.startRevocations(ctx)
	h.s.bg.Add(2)
	go func() {
		defer h.s.bg.Done()
		h.publishLoop(ctx)
	}()
	go func() {
		defer h.s.bg.Done()
		h.presenceLoop(ctx)
		h.shutdown()
	}()
}

// shutdown closes every connection of this replica and tells the other replicas.
func (h *liveHub) shutdown() {
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
		h.log.Debug("announce shutdown", slog.Any("err", err))
	}
}

// onEvent turns committed notices into downlink messages and fleet pushes. It never blocks.
func (h *liveHub) onEvent(ev Event) {
	switch ev.Type {
	case NoticeTargetChanged:
		h.downlink(uuidsOf(ev.Data["agent_id"]), client.WSTargetChanged, ev.Data["target"])
	case NoticeStackChanged:
		h.downlink(uuidsOf(ev.Data["agent_ids"]), client.WSStackChanged, ev.Data["stack"])
	case NoticeWorkOrder:
		h.downlink(uuidsOf(ev.Data["agent_ids"]), client.WSWorkOrder, ev.Data["work_order"])
	case NoticeAgentHeartbeat:
		h.fleetChanged(true, uuidsOf(ev.Data["agent_id"])...)
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

// downlink sends a message to agents: to their sockets on this replica at once, and
// through the fan-out channel for agents connected elsewhere. Undeliverable messages are
// dropped; agents poll the REST API anyway.
func (h *liveHub) downlink(agents []uuid.UUID, typ string, body any) {
	if len(agents) == 0 || body == nil {
		return
	}
	f, err := encodeFrame(typ, body)
	if err != nil {
		h.log.Error("encode downlink message", slog.Any("err", err))
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
func (h *liveHub) deliverLocal(agentID uuid.UUID, f frame) bool {
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
// replicas that predate the revocation channel of ws_revoke.go).
func (h *liveHub) revokeLocal(agents ...uuid.UUID) {
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
func (h *liveHub) stackFrame(stackID uuid.UUID, f frame) {
	h.deliverStack(stackID, f.data)
	h.publish(fanoutMessage{Kind: fanStack, Stack: &stackID, Msg: f.data})
}

// deliverStack offers a frame to the stack's subscribers on this replica.
func (h *liveHub) deliverStack(stackID uuid.UUID, data []byte) {
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

// liveMetrics are the live channels' collectors.
type liveMetrics struct {
	messages     *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	revoked      *prometheus.CounterVec
	evictionRuns prometheus.Counter
	evicted      *prometheus.CounterVec
}

func newLiveMetrics(reg *prometheus.Registry, h *liveHub) *liveMetrics {
	m := &liveMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_messages_total",
			Help: "Messages on agent WebSocket connections by direction (in, out) and type.",
		}, []string{"direction", "type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_dropped_total",
			Help: "Live messages dropped by reason (lane_full, subscriber_lag, fanout_too_large, fanout_queue_full, fanout_error).",
		}, []string{"reason"}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_revoked_total",
			Help: "WebSockets closed because their access ended, by reason (credentials, deactivated, stack_access) and by what found it (notice, recheck).",
		}, []string{"reason", "found_by"}),
		evictionRuns: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_ws_log_eviction_runs_total",
			Help: "Runs of the telemetry eviction worker.",
		}),
		evicted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_telemetry_evicted_total",
			Help: "Telemetry rows deleted by the eviction worker, by table.",
		}, []string{"table"}),
	}
	gauge := func(name, help string, f func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return float64(f())
		})
	}
	reg.MustRegister(m.messages, m.dropped, m.revoked, m.evictionRuns, m.evicted,
		gauge("brokkr_ws_connected_agents", "Agents connected to this replica's WebSocket channel.",
			func() int { return len(h.agents) }),
		gauge("brokkr_ws_live_subscribers", "Stack live-tail subscribers on this replica.",
			h.stackSubscribersLocked),
		gauge("brokkr_fleet_live_subscribers", "Fleet live subscribers on this replica.",
			func() int { return len(h.fleet) }),
	)
	return m
}

// stackSubscribersLocked counts stack subscribers; h.mu must be held.
func (h *liveHub) stackSubscribersLocked() int {
	n := 0
	for _, subs := range h.stacks {
		n += len(subs)
	}
	return n
}
