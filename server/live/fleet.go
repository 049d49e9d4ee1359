package live

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
)

// FleetRecords builds the fleet records of the selected agents: stored signals from one
// set-based query updated by the heartbeats this replica has not written yet, WebSocket
// presence from what this replica knows of every replica.
func (h *Hub) FleetRecords(ctx context.Context, f db.FleetFilter) ([]client.FleetAgentRecord, error) {
	rows, err := db.ListFleet(ctx, h.db, f)
	if err != nil {
		return nil, err
	}
	h.heartbeats.MergeFleet(rows)
	present := h.presence()
	out := make([]client.FleetAgentRecord, len(rows))
	for i, r := range rows {
		out[i] = toFleetRecord(r, present)
	}
	return out, nil
}

func toFleetRecord(r db.FleetRow, present map[uuid.UUID]time.Time) client.FleetAgentRecord {
	rec := client.FleetAgentRecord{
		AgentID: r.AgentID, Name: r.Name, ClusterName: r.ClusterName, Status: r.Status,
		LastHeartbeat: utcp(r.LastHeartbeat), HeartbeatAgeSeconds: r.HeartbeatAgeSeconds,
		PendingObjectCount: r.PendingObjectCount, PendingWorkOrders: r.PendingWorkOrders,
		ClaimedWorkOrders: r.ClaimedWorkOrders, LastEventAt: utcp(r.LastEventAt),
		SecondsSinceLastEvent: r.SecondsSinceLastEvent, HealthFailing: r.HealthFailing,
		HealthDegraded: r.HealthDegraded, K8sReachable: r.K8sReachable,
	}
	if r.K8sAPILatencyMs != nil {
		v := int64(*r.K8sAPILatencyMs)
		rec.K8sAPILatencyMs = &v
	}
	if since, ok := present[r.AgentID]; ok {
		rec.WSConnected = true
		rec.ConnectedSince = utcp(&since)
	}
	return rec
}

// fleetChanged schedules a fleet_update push for the agents to this replica's fleet
// subscribers; with publish set, every other replica is told to do the same. Records are
// computed in the background, several agents per query, and only while someone watches.
func (h *Hub) fleetChanged(publish bool, ids ...uuid.UUID) {
	if len(ids) == 0 {
		return
	}
	if publish {
		h.publish(fanoutMessage{Kind: fanFleet, Agents: ids})
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.fleet) == 0 {
		return
	}
	for _, id := range ids {
		h.dirty[id] = struct{}{}
	}
	if !h.pushing {
		h.pushing = true
		go h.pushFleet(h.ctx)
	}
}

// fleetAgentsPerMessage bounds the agents of one fleet fan-out message (well below
// maxFanoutMessage).
const fleetAgentsPerMessage = 5000

// heartbeatsWritten tells the other replicas that the fleet records of agents changed once
// their announced heartbeats are in the database, where the other replicas read them.
func (h *Hub) heartbeatsWritten(agents []uuid.UUID) {
	for len(agents) > 0 {
		n := min(len(agents), fleetAgentsPerMessage)
		h.publish(fanoutMessage{Kind: fanFleet, Agents: agents[:n]})
		agents = agents[n:]
	}
}

// pushFleet pushes the records of dirty agents until none is left.
func (h *Hub) pushFleet(ctx context.Context) {
	for {
		h.mu.Lock()
		if len(h.dirty) == 0 || len(h.fleet) == 0 || ctx.Err() != nil {
			clear(h.dirty)
			h.pushing = false
			h.mu.Unlock()
			return
		}
		ids := make([]uuid.UUID, 0, len(h.dirty))
		for id := range h.dirty {
			ids = append(ids, id)
		}
		clear(h.dirty)
		h.mu.Unlock()
		qctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		records, err := h.FleetRecords(qctx, db.FleetFilter{AgentIDs: ids})
		cancel()
		if err != nil {
			h.log.Warn("compute fleet records", slog.Int("agents", len(ids)), slog.Any("error", err))
			continue
		}
		h.pushRecords(records)
	}
}

func (h *Hub) pushRecords(records []client.FleetAgentRecord) {
	for _, r := range records {
		f, err := encodeFrame(client.WSFleetUpdate, r)
		if err != nil {
			h.log.Error("encode fleet update", slog.Any("error", err))
			continue
		}
		h.broadcastFleet(f.data)
	}
}

// fleetSignals are the parts of a fleet record the sweep compares: everything but the
// values that move with the clock alone (ages) and the heartbeat time, whose changes the
// heartbeat pushes carry.
type fleetSignals struct {
	name, cluster, status string
	connected             bool
	connectedSince        time.Time
	pendingObjects        int64
	pendingOrders         int64
	claimedOrders         int64
	lastEvent             time.Time
	failing, degraded     int64
	reachable             int8 // -1 unknown, 0 false, 1 true
	latency               int64
	latencyKnown          bool
}

func signalsOf(r client.FleetAgentRecord) fleetSignals {
	s := fleetSignals{
		name: r.Name, cluster: r.ClusterName, status: r.Status, connected: r.WSConnected,
		pendingObjects: r.PendingObjectCount, pendingOrders: r.PendingWorkOrders,
		claimedOrders: r.ClaimedWorkOrders, failing: r.HealthFailing, degraded: r.HealthDegraded,
		reachable: -1,
	}
	if r.ConnectedSince != nil {
		s.connectedSince = *r.ConnectedSince
	}
	if r.LastEventAt != nil {
		s.lastEvent = *r.LastEventAt
	}
	if r.K8sReachable != nil {
		s.reachable = 0
		if *r.K8sReachable {
			s.reachable = 1
		}
	}
	if r.K8sAPILatencyMs != nil {
		s.latency, s.latencyKnown = *r.K8sAPILatencyMs, true
	}
	return s
}

// sweepFleet is the fleet-sweep worker: it recomputes every record and pushes those whose
// signals changed since the previous sweep of this replica. The first sweep only seeds;
// nothing is computed while this replica has no fleet subscriber.
func (h *Hub) sweepFleet(ctx context.Context) error {
	h.mu.Lock()
	watched := len(h.fleet) > 0
	h.mu.Unlock()
	if !watched {
		return nil
	}
	records, err := h.FleetRecords(ctx, db.FleetFilter{})
	if err != nil {
		return err
	}
	next := make(map[uuid.UUID]fleetSignals, len(records))
	var changed []client.FleetAgentRecord
	h.mu.Lock()
	seeded := h.swept
	for _, r := range records {
		sig := signalsOf(r)
		next[r.AgentID] = sig
		if old, ok := h.sweep[r.AgentID]; seeded && (!ok || old != sig) {
			changed = append(changed, r)
		}
	}
	h.sweep, h.swept = next, true
	h.mu.Unlock()
	h.pushRecords(changed)
	return nil
}

// Connections lists this replica's agent connections, oldest first.
func (h *Hub) Connections() client.WSConnections {
	h.mu.Lock()
	out := client.WSConnections{
		ConnectedAgents: int64(len(h.agents)),
		Connections:     make([]client.WSConnection, 0, len(h.agents)),
		LiveSubscribers: int64(h.stackSubscribersLocked()),
	}
	for _, conn := range h.agents {
		out.Connections = append(out.Connections, client.WSConnection{
			AgentID: conn.agentID, ConnectedSince: conn.since,
			MessagesIn: conn.in.Load(), MessagesOut: conn.out.Load(),
		})
	}
	h.mu.Unlock()
	sortConnections(out.Connections)
	return out
}

// sortConnections orders connections oldest first.
func sortConnections(cs []client.WSConnection) {
	slices.SortFunc(cs, func(a, b client.WSConnection) int {
		if c := a.ConnectedSince.Compare(b.ConnectedSince); c != 0 {
			return c
		}
		return strings.Compare(a.AgentID.String(), b.AgentID.String())
	})
}

// utcp returns t in UTC (nil stays nil).
func utcp(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
