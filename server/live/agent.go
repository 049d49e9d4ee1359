package live

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/heartbeats"
)

// Close codes used by the broker.
const (
	statusNormalClosure   = websocket.StatusNormalClosure
	statusGoingAway       = websocket.StatusGoingAway
	statusPolicyViolation = websocket.StatusPolicyViolation
)

const (
	agentReadLimit = 1 << 20          // largest frame an agent may send
	writeTimeout   = 10 * time.Second // a socket that cannot take a frame this long is closed
	pingInterval   = 30 * time.Second // keepalive probes detect dead peers
	grantTTL       = 30 * time.Second // how long a stack association check is trusted
)

// agentActive is the status in which an agent works.
const agentActive = "ACTIVE"

// acceptOptions are the upgrade options of every channel. Any origin may connect: the
// channels authenticate with PAKs, never with ambient browser credentials.
func acceptOptions(subprotocols ...string) *websocket.AcceptOptions {
	return &websocket.AcceptOptions{Subprotocols: subprotocols, OriginPatterns: []string{"*"}}
}

// ServeAgent upgrades an authenticated request of agent agentID to its two-way channel and
// serves it until it ends. status is the agent's status when its key was resolved (leaving
// ACTIVE later closes the channel); epoch is Epoch read before that.
func (h *Hub) ServeAgent(w http.ResponseWriter, r *http.Request, agentID uuid.UUID, status string, g Grant, epoch uint64) {
	ws, err := websocket.Accept(w, r, acceptOptions())
	if err != nil {
		return // Accept has answered
	}
	h.serveAgent(agentID, g, status == agentActive, epoch, ws)
}

// agentConn is one agent's connection to this replica.
type agentConn struct {
	hub       *Hub
	id        uuid.UUID
	agentID   uuid.UUID
	since     time.Time
	ws        *websocket.Conn
	ctx       context.Context
	cancel    context.CancelFunc
	control   chan frame
	telemetry chan frame
	in, out   atomic.Int64
	closing   sync.Once
	grants    map[uuid.UUID]stackGrant // reader goroutine only
	grant     Grant                    // what the channel was opened with
	// active is set while the agent is known to be ACTIVE: leaving ACTIVE then closes the
	// channel. A channel opened by an agent that is not ACTIVE stays open until the agent
	// has been seen ACTIVE.
	active atomic.Bool
}

// stackGrant caches whether the agent may report telemetry for a stack.
type stackGrant struct {
	ok    bool
	until time.Time
}

func (c *agentConn) presence() presenceEntry {
	return presenceEntry{Agent: c.agentID, Conn: c.id, Since: c.since}
}

// isControl tells the downlink lane of a message type.
func isControl(typ string) bool {
	switch typ {
	case client.WSWorkOrder, client.WSTargetChanged, client.WSStackChanged:
		return true
	}
	return false
}

// enqueue queues a downlink frame without blocking; false when the lane is full or the
// connection is closing.
func (c *agentConn) enqueue(f frame) bool {
	if c.ctx.Err() != nil {
		return false
	}
	lane := c.telemetry
	if isControl(f.typ) {
		lane = c.control
	}
	select {
	case lane <- f:
		return true
	default:
		return false
	}
}

// close performs the close handshake in the background, then ends the connection.
func (c *agentConn) close(code websocket.StatusCode, reason string) {
	c.closing.Do(func() {
		go func() {
			_ = c.ws.Close(code, reason)
			c.cancel()
		}()
	})
}

// serveAgent runs an accepted agent connection until it ends. epoch is the revocation
// epoch read before the agent's key was resolved.
func (h *Hub) serveAgent(agentID uuid.UUID, grant Grant, active bool, epoch uint64, ws *websocket.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &agentConn{
		hub: h, id: uuid.New(), agentID: agentID, since: time.Now().UTC().Truncate(time.Microsecond),
		ws: ws, ctx: ctx, cancel: cancel,
		control:   make(chan frame, controlLaneSize),
		telemetry: make(chan frame, telemetryLaneSize),
		grants:    map[uuid.UUID]stackGrant{},
		grant:     grant,
	}
	c.active.Store(active)
	ws.SetReadLimit(agentReadLimit)
	h.register(c)
	defer h.unregister(c)
	h.recheckIfRevoked(epoch, Sockets{Hashes: []string{grant.PAKHash}, Agents: []uuid.UUID{agentID}})
	go c.writeLoop()
	for {
		typ, data, err := ws.Read(ctx)
		if err != nil {
			break
		}
		if typ != websocket.MessageText {
			continue // binary frames are ignored
		}
		c.in.Add(1)
		h.uplink(c, data)
	}
	c.close(statusNormalClosure, "")
	cancel()
}

// writeLoop writes downlink frames, control lane first, until the connection ends.
func (c *agentConn) writeLoop() {
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	for {
		select {
		case f := <-c.control:
			if !c.write(f) {
				return
			}
			continue
		default:
		}
		select {
		case <-c.ctx.Done():
			return
		case f := <-c.control:
			if !c.write(f) {
				return
			}
		case f := <-c.telemetry:
			// Control frames that arrived meanwhile still go first.
			for more := true; more; {
				select {
				case cf := <-c.control:
					if !c.write(cf) {
						return
					}
				default:
					more = false
				}
			}
			if !c.write(f) {
				return
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				c.cancel()
				return
			}
		}
	}
}

func (c *agentConn) write(f frame) bool {
	wctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, f.data); err != nil {
		c.cancel()
		return false
	}
	c.out.Add(1)
	c.hub.metrics.messages.WithLabelValues("out", f.typ).Inc()
	return true
}

// register makes c the agent's connection on this replica, closing an older one.
func (h *Hub) register(c *agentConn) {
	h.mu.Lock()
	old := h.agents[c.agentID]
	h.agents[c.agentID] = c
	h.mu.Unlock()
	if old != nil {
		old.close(statusNormalClosure, "replaced by a newer connection")
	}
	since := c.since
	h.publish(fanoutMessage{Kind: fanUp, Agents: []uuid.UUID{c.agentID}, Conn: &c.id, Since: &since})
	h.fleetChanged(false, c.agentID)
}

// unregister forgets c unless a newer connection replaced it already.
func (h *Hub) unregister(c *agentConn) {
	h.mu.Lock()
	removed := h.agents[c.agentID] == c
	if removed {
		delete(h.agents, c.agentID)
	}
	h.mu.Unlock()
	if removed {
		h.publish(fanoutMessage{Kind: fanDown, Agents: []uuid.UUID{c.agentID}, Conn: &c.id})
		h.fleetChanged(false, c.agentID)
	}
}

// uplink handles one text frame from an agent. The authenticated agent is authoritative:
// frames about another agent are dropped, as are undecodable frames and downlink types.
func (h *Hub) uplink(c *agentConn, data []byte) {
	var env client.WSMessage
	if err := json.Unmarshal(data, &env); err != nil || env.Type == "" {
		h.drop(c, "invalid", "undecodable frame", err)
		return
	}
	var err error
	switch env.Type {
	case client.WSHeartbeat:
		err = h.onHeartbeat(c, env.Body)
	case client.WSAgentEvent:
		err = h.onAgentEvent(c, env.Body)
	case client.WSAgentHealth:
		err = h.onAgentHealth(c, env.Body)
	case client.WSK8sEvent:
		err = h.onK8sEvent(c, env.Body)
	case client.WSPodLogLine:
		err = h.onPodLogLine(c, env.Body)
	case client.WSLogGap:
		err = h.onLogGap(c, env.Body)
	default:
		h.drop(c, "invalid", "frame type not accepted from agents: "+env.Type, nil)
		return
	}
	h.metrics.messages.WithLabelValues("in", env.Type).Inc()
	if err != nil {
		h.drop(c, env.Type, "frame not applied", err)
	}
}

// errForeignAgent marks a frame about another agent.
var errForeignAgent = errors.New("frame names another agent")

// errNotAssociated marks telemetry for a stack the agent does not serve.
var errNotAssociated = errors.New("stack not associated with the agent")

func (h *Hub) drop(c *agentConn, typ, why string, err error) {
	if typ == "invalid" {
		h.metrics.messages.WithLabelValues("in", "invalid").Inc()
	}
	reason := "invalid_frame"
	switch {
	case errors.Is(err, errForeignAgent):
		reason = "foreign_agent"
	case errors.Is(err, errNotAssociated):
		reason = "not_associated"
	}
	h.metrics.dropped.WithLabelValues(reason).Inc()
	h.log.Debug("agent frame dropped", slog.String("agent_id", c.agentID.String()), slog.String("type", typ),
		slog.String("why", why), slog.Any("error", err))
}

// decodeBody decodes a frame body and checks that it is about the connected agent.
func decodeBody(c *agentConn, body json.RawMessage, v any, agentID func() uuid.UUID) error {
	if err := json.Unmarshal(body, v); err != nil {
		return err
	}
	if agentID() != c.agentID {
		return errForeignAgent
	}
	return nil
}

func (h *Hub) onHeartbeat(c *agentConn, body json.RawMessage) error {
	var b client.Heartbeat
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	return h.heartbeats.Record(c.ctx, c.agentID, heartbeats.Beat{
		Reported: b.K8sReachable != nil, Reachable: b.K8sReachable, LatencyMs: b.K8sAPILatencyMs,
	})
}

func (h *Hub) onAgentEvent(c *agentConn, body json.RawMessage) error {
	var b struct {
		AgentID            uuid.UUID  `json:"agent_id"`
		DeploymentObjectID *uuid.UUID `json:"deployment_object_id"`
		EventType          *string    `json:"event_type"`
		Status             *string    `json:"status"`
		Message            *string    `json:"message"`
	}
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	if b.DeploymentObjectID == nil || b.EventType == nil || b.Status == nil ||
		*b.EventType == "" || len(*b.EventType) > 50 || *b.Status == "" || len(*b.Status) > 10 {
		return errors.New("agent_event needs deployment_object_id, event_type (1-50 bytes) and status (1-10 bytes)")
	}
	// Unlike the reference, an event reported over the WebSocket emits the same webhook
	// event as one posted to the REST API.
	_, err := h.recordAgentEvent(c.ctx, db.NewAgentEvent{
		AgentID: c.agentID, DeploymentObjectID: *b.DeploymentObjectID,
		EventType: *b.EventType, Status: *b.Status, Message: b.Message,
	})
	return err
}

func (h *Hub) onAgentHealth(c *agentConn, body json.RawMessage) error {
	var b struct {
		AgentID            uuid.UUID  `json:"agent_id"`
		DeploymentObjectID *uuid.UUID `json:"deployment_object_id"`
		Status             *string    `json:"status"`
		Summary            *string    `json:"summary"`
		CheckedAt          *time.Time `json:"checked_at"`
	}
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	if b.DeploymentObjectID == nil || b.Status == nil || b.CheckedAt == nil {
		return errors.New("agent_health needs deployment_object_id, status and checked_at")
	}
	if !db.ValidHealthStatus(*b.Status) {
		return errors.New("agent_health status must be healthy, degraded, failing or unknown")
	}
	return db.UpsertHealth(c.ctx, h.db, c.agentID, []db.HealthUpdate{{
		DeploymentObjectID: *b.DeploymentObjectID, Status: *b.Status, Summary: b.Summary, CheckedAt: *b.CheckedAt,
	}})
}

// mayReport reports whether the agent serves the stack (explicit target, or label or
// annotation match within a registered generator); answers are cached for grantTTL.
func (h *Hub) mayReport(c *agentConn, stackID uuid.UUID) (bool, error) {
	now := time.Now()
	if g, ok := c.grants[stackID]; ok && now.Before(g.until) {
		return g.ok, nil
	}
	ok, err := db.IsStackAssociated(c.ctx, h.db, c.agentID, stackID)
	if err != nil {
		return false, err
	}
	if len(c.grants) > 1000 {
		clear(c.grants)
	}
	c.grants[stackID] = stackGrant{ok: ok, until: now.Add(grantTTL)}
	return ok, nil
}

// telemetryFor checks a telemetry frame's stack.
func (h *Hub) telemetryFor(c *agentConn, stackID uuid.UUID) error {
	ok, err := h.mayReport(c, stackID)
	if err != nil {
		return err
	}
	if !ok {
		return errNotAssociated
	}
	return nil
}

func (h *Hub) onK8sEvent(c *agentConn, body json.RawMessage) error {
	var b client.K8sEvent
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	if err := h.telemetryFor(c, b.StackID); err != nil {
		return err
	}
	b.ObservedAt = b.ObservedAt.UTC()
	f, err := encodeFrame(client.WSK8sEvent, b)
	if err != nil {
		return err
	}
	h.stackFrame(b.StackID, f)
	obj, err := json.Marshal(b.InvolvedObject)
	if err != nil {
		return err
	}
	_, err = db.InsertK8sEvent(c.ctx, h.db, db.K8sEvent{
		AgentID: c.agentID, StackID: b.StackID, ObservedAt: b.ObservedAt, Reason: b.Reason, Message: b.Message,
		EventType: b.EventType, Source: b.Source, InvolvedObject: obj,
	})
	return err
}

func (h *Hub) onPodLogLine(c *agentConn, body json.RawMessage) error {
	var b client.PodLogLine
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	if err := h.telemetryFor(c, b.StackID); err != nil {
		return err
	}
	b.TS = b.TS.UTC()
	f, err := encodeFrame(client.WSPodLogLine, b)
	if err != nil {
		return err
	}
	h.stackFrame(b.StackID, f)
	_, err = db.InsertPodLog(c.ctx, h.db, db.PodLog{
		AgentID: c.agentID, StackID: b.StackID, Namespace: b.Namespace, Pod: b.Pod, Container: b.Container,
		TS: b.TS, Line: b.Line,
	})
	return err
}

func (h *Hub) onLogGap(c *agentConn, body json.RawMessage) error {
	var b client.LogGap
	if err := decodeBody(c, body, &b, func() uuid.UUID { return b.AgentID }); err != nil {
		return err
	}
	switch b.Reason {
	case client.GapRateLimit, client.GapBufferFull, client.GapDisconnected:
	default:
		return errors.New("log_gap reason must be rate_limit, buffer_full or disconnected")
	}
	if err := h.telemetryFor(c, b.StackID); err != nil {
		return err
	}
	b.SinceTS = b.SinceTS.UTC()
	f, err := encodeFrame(client.WSLogGap, b)
	if err != nil {
		return err
	}
	h.stackFrame(b.StackID, f)
	return nil
}
