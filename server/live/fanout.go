package live

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/server/events"
)

// Cross-replica fan-out. Every replica LISTENs on one channel; messages for sockets that may
// be held by another replica (agent downlinks, stack live frames, fleet changes, presence)
// are published there with pg_notify and each replica delivers them to its own sockets,
// skipping the messages it published itself.
//
// NOTIFY payloads are limited to 8000 bytes: a larger message is split into parts sent in
// one transaction (so they arrive together) and reassembled by the receivers; messages
// above maxFanoutMessage are dropped and counted.

// Kinds of fan-out messages.
const (
	fanAgent  = "agent"  // Msg for the sockets of Agents
	fanStack  = "stack"  // Msg for the live subscribers of Stack
	fanFleet  = "fleet"  // the fleet records of Agents changed
	fanRevoke = "revoke" // close the connections of Agents (sent by earlier versions only: see revoke.go)
	fanUp     = "up"     // agent Agents[0] connected to the origin (Conn, Since)
	fanDown   = "down"   // agent Agents[0] disconnected from the origin (Conn)
	fanSnap   = "snap"   // the origin's full presence list
	fanSync   = "sync"   // every replica should send its presence list now
	fanBye    = "bye"    // the origin is shutting down
)

const (
	maxNotifyPayload = 7800    // below PostgreSQL's 8000-byte limit
	maxFanoutMessage = 1 << 20 // larger messages are dropped
	partTimeout      = 30 * time.Second
	presenceInterval = 10 * time.Second // presence lists are re-sent this often
	presenceExpiry   = 35 * time.Second // a silent replica's agents count as disconnected after this
)

// fanoutMessage is one cross-replica message.
type fanoutMessage struct {
	Origin   uuid.UUID       `json:"o"`
	Seq      uint64          `json:"n"` // makes payloads unique: NOTIFY folds identical ones
	Kind     string          `json:"k"`
	Agents   []uuid.UUID     `json:"a,omitempty"`
	Stack    *uuid.UUID      `json:"s,omitempty"`
	Msg      json.RawMessage `json:"m,omitempty"`
	Conn     *uuid.UUID      `json:"c,omitempty"`
	Since    *time.Time      `json:"t,omitempty"`
	Presence []presenceEntry `json:"p,omitempty"`
}

// presenceEntry is one agent connection in a presence list.
type presenceEntry struct {
	Agent uuid.UUID `json:"a"`
	Conn  uuid.UUID `json:"c"`
	Since time.Time `json:"t"`
}

// fanoutState is the publishing and reassembly state of a hub.
type fanoutState struct {
	started atomic.Bool
	out     chan []string // payload groups waiting for the publisher
	seq     atomic.Uint64
	hold    sync.RWMutex // read-held while publishing; holding it stalls the publisher (tests)

	mu    sync.Mutex
	parts map[string]*partialMessage
}

type partialMessage struct {
	parts []string
	have  int
	first time.Time
}

// remoteReplica is what this replica knows of another one.
type remoteReplica struct {
	seen   time.Time
	agents map[uuid.UUID]presenceEntry
}

// encodePayloads turns a message into NOTIFY payloads: the JSON itself when it fits, else
// parts "#<origin>:<message id>:<index>:<count>:<chunk>".
func (h *Hub) encodePayloads(m fanoutMessage) ([]string, error) {
	m.Origin = h.replica
	m.Seq = h.fan.seq.Add(1)
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode fan-out message: %w", err)
	}
	if len(raw) <= maxNotifyPayload {
		return []string{string(raw)}, nil
	}
	if len(raw) > maxFanoutMessage {
		return nil, errTooLarge
	}
	id := uuid.NewString()
	var chunks []string
	s := string(raw)
	const room = maxNotifyPayload - 100 // header space
	for len(s) > 0 {
		n := min(room, len(s))
		for n < len(s) && !utf8.RuneStart(s[n]) {
			n-- // never split a character: payloads must be valid text
		}
		chunks = append(chunks, s[:n])
		s = s[n:]
	}
	out := make([]string, len(chunks))
	for i, c := range chunks {
		out[i] = fmt.Sprintf("#%s:%s:%d:%d:%s", h.replica, id, i, len(chunks), c)
	}
	return out, nil
}

var errTooLarge = fmt.Errorf("fan-out message larger than %d bytes", maxFanoutMessage)

// publish queues a message for the other replicas without blocking. Before Start there is
// no fan-out: the replica runs alone.
func (h *Hub) publish(m fanoutMessage) {
	if !h.fan.started.Load() {
		return
	}
	payloads, err := h.encodePayloads(m)
	if err != nil {
		h.metrics.dropped.WithLabelValues("fanout_too_large").Inc()
		h.log.Warn("fan-out message dropped", slog.String("kind", m.Kind), slog.Any("error", err))
		return
	}
	select {
	case h.fan.out <- payloads:
	default:
		h.metrics.dropped.WithLabelValues("fanout_queue_full").Inc()
	}
}

// publishNow sends a message synchronously.
func (h *Hub) publishNow(ctx context.Context, m fanoutMessage) error {
	payloads, err := h.encodePayloads(m)
	if err != nil {
		return err
	}
	return h.notify(ctx, payloads)
}

// notify sends payloads in one statement, hence one transaction: they arrive in order and
// without other messages in between.
func (h *Hub) notify(ctx context.Context, payloads []string) error {
	_, err := h.db.ExecContext(ctx, `SELECT pg_notify($1, p)
		FROM unnest($2::text[]) WITH ORDINALITY AS t(p, i) ORDER BY i`, h.channel, payloads)
	if err != nil {
		return fmt.Errorf("notify: %w", err)
	}
	return nil
}

// publishLoop sends queued messages, batching whatever is waiting, until ctx ends.
func (h *Hub) publishLoop(ctx context.Context) {
	const maxBatch = 256
	for {
		var batch []string
		select {
		case <-ctx.Done():
			return
		case p := <-h.fan.out:
			batch = append(batch, p...)
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case p := <-h.fan.out:
				batch = append(batch, p...)
			default:
				break fill
			}
		}
		h.fan.hold.RLock()
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := h.notify(sctx, batch)
		cancel()
		h.fan.hold.RUnlock()
		if err != nil && ctx.Err() == nil {
			h.metrics.dropped.WithLabelValues("fanout_error").Add(float64(len(batch)))
			h.log.Warn("publish live messages", slog.Int("payloads", len(batch)), slog.Any("error", err))
		}
	}
}

// fanoutHandler is the fan-out side of the replica's notification listener.
func (h *Hub) fanoutHandler() events.Handler {
	return events.Handler{
		Channel: h.channel,
		Notify:  h.receive,
		Reset: func() {
			// Messages may have been missed: ask every replica for its presence list.
			h.publish(fanoutMessage{Kind: fanSync})
		},
	}
}

// receive handles one notification of the fan-out channel.
func (h *Hub) receive(payload string) {
	if strings.HasPrefix(payload, "#") {
		var ok bool
		if payload, ok = h.reassemble(payload); !ok {
			return
		}
	}
	var m fanoutMessage
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		h.log.Warn("undecodable fan-out message", slog.Any("error", err))
		return
	}
	if m.Origin == h.replica {
		return // delivered locally when it was published
	}
	h.seen(m.Origin)
	switch m.Kind {
	case fanAgent:
		f := frame{typ: frameType(m.Msg), data: m.Msg}
		for _, id := range m.Agents {
			h.deliverLocal(id, f)
		}
	case fanStack:
		if m.Stack != nil {
			h.deliverStack(*m.Stack, m.Msg)
		}
	case fanFleet:
		h.fleetChanged(false, m.Agents...)
	case fanRevoke:
		h.revokeLocal(m.Agents...)
	case fanUp:
		if len(m.Agents) == 1 && m.Conn != nil && m.Since != nil {
			h.remoteUp(m.Origin, presenceEntry{Agent: m.Agents[0], Conn: *m.Conn, Since: *m.Since})
		}
	case fanDown:
		if len(m.Agents) == 1 && m.Conn != nil {
			h.remoteDown(m.Origin, m.Agents[0], *m.Conn)
		}
	case fanSnap:
		h.remoteSnapshot(m.Origin, m.Presence)
	case fanSync:
		h.announce()
	case fanBye:
		h.remoteGone(m.Origin)
	}
}

// frameType reads the type of an encoded envelope (for metrics).
func frameType(data []byte) string {
	var env struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(data, &env)
	return env.Type
}

// reassemble collects the parts of a split message; it returns the whole message once the
// last part arrived. Parts this replica sent itself are ignored at once.
func (h *Hub) reassemble(p string) (string, bool) {
	fields := strings.SplitN(p[1:], ":", 5)
	if len(fields) != 5 {
		return "", false
	}
	if fields[0] == h.replica.String() {
		return "", false
	}
	i, err1 := strconv.Atoi(fields[2])
	n, err2 := strconv.Atoi(fields[3])
	if err1 != nil || err2 != nil || n <= 0 || n > maxFanoutMessage/100 || i < 0 || i >= n {
		return "", false
	}
	key := fields[0] + ":" + fields[1]
	now := time.Now()
	h.fan.mu.Lock()
	defer h.fan.mu.Unlock()
	for k, pm := range h.fan.parts {
		if now.Sub(pm.first) > partTimeout {
			delete(h.fan.parts, k)
		}
	}
	pm := h.fan.parts[key]
	if pm == nil {
		pm = &partialMessage{parts: make([]string, n), first: now}
		h.fan.parts[key] = pm
	}
	if len(pm.parts) != n || pm.parts[i] != "" {
		return "", false
	}
	pm.parts[i] = fields[4]
	pm.have++
	if pm.have < n {
		return "", false
	}
	delete(h.fan.parts, key)
	return strings.Join(pm.parts, ""), true
}

// Presence: which agents are connected to which replica. Each replica announces its own
// connections and disconnections as they happen and its whole list every presenceInterval;
// a replica not heard from for presenceExpiry is taken to be gone with its connections.

// presenceLoop re-announces this replica's connections and forgets silent replicas.
func (h *Hub) presenceLoop(ctx context.Context) {
	h.announce()
	h.publish(fanoutMessage{Kind: fanSync})
	t := time.NewTicker(presenceInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			h.announce()
			h.expireReplicas(time.Now().Add(-presenceExpiry))
		}
	}
}

// announce publishes this replica's presence list.
func (h *Hub) announce() {
	h.mu.Lock()
	list := make([]presenceEntry, 0, len(h.agents))
	for _, c := range h.agents {
		list = append(list, presenceEntry{Agent: c.agentID, Conn: c.id, Since: c.since})
	}
	h.mu.Unlock()
	h.publish(fanoutMessage{Kind: fanSnap, Presence: list})
}

// seen records that a replica is alive.
func (h *Hub) seen(replica uuid.UUID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.remoteLocked(replica).seen = time.Now()
}

func (h *Hub) remoteLocked(replica uuid.UUID) *remoteReplica {
	r := h.remote[replica]
	if r == nil {
		r = &remoteReplica{agents: map[uuid.UUID]presenceEntry{}}
		h.remote[replica] = r
	}
	return r
}

// remoteUp records a connection on another replica; a local connection of the same agent
// that is older is closed, so that an agent holds one connection across all replicas.
func (h *Hub) remoteUp(replica uuid.UUID, e presenceEntry) {
	h.mu.Lock()
	h.remoteLocked(replica).agents[e.Agent] = e
	local := h.agents[e.Agent]
	h.mu.Unlock()
	if local != nil && newer(e, local.presence()) {
		local.close(statusNormalClosure, "replaced by a newer connection")
	}
	h.fleetChanged(false, e.Agent)
}

// newer reports whether connection a is more recent than b (ties broken by connection id).
func newer(a, b presenceEntry) bool {
	if !a.Since.Equal(b.Since) {
		return a.Since.After(b.Since)
	}
	return a.Conn.String() > b.Conn.String()
}

func (h *Hub) remoteDown(replica, agent, conn uuid.UUID) {
	h.mu.Lock()
	r := h.remoteLocked(replica)
	if e, ok := r.agents[agent]; ok && e.Conn == conn {
		delete(r.agents, agent)
	}
	h.mu.Unlock()
	h.fleetChanged(false, agent)
}

// remoteSnapshot replaces what is known of a replica's connections.
func (h *Hub) remoteSnapshot(replica uuid.UUID, list []presenceEntry) {
	h.mu.Lock()
	r := h.remoteLocked(replica)
	next := make(map[uuid.UUID]presenceEntry, len(list))
	var changed []uuid.UUID
	for _, e := range list {
		next[e.Agent] = e
		if old, ok := r.agents[e.Agent]; !ok || old != e {
			changed = append(changed, e.Agent)
		}
	}
	for id := range r.agents {
		if _, ok := next[id]; !ok {
			changed = append(changed, id)
		}
	}
	r.agents = next
	var replaced []*agentConn
	for _, e := range list {
		if local := h.agents[e.Agent]; local != nil && newer(e, local.presence()) {
			replaced = append(replaced, local)
		}
	}
	h.mu.Unlock()
	for _, c := range replaced {
		c.close(statusNormalClosure, "replaced by a newer connection")
	}
	if len(changed) > 0 {
		h.fleetChanged(false, changed...)
	}
}

// remoteGone forgets a replica.
func (h *Hub) remoteGone(replica uuid.UUID) {
	h.mu.Lock()
	r := h.remote[replica]
	delete(h.remote, replica)
	h.mu.Unlock()
	if r == nil {
		return
	}
	ids := make([]uuid.UUID, 0, len(r.agents))
	for id := range r.agents {
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		h.fleetChanged(false, ids...)
	}
}

// expireReplicas forgets replicas not heard from since before.
func (h *Hub) expireReplicas(before time.Time) {
	h.mu.Lock()
	var gone []uuid.UUID
	for id, r := range h.remote {
		if r.seen.Before(before) {
			gone = append(gone, id)
		}
	}
	h.mu.Unlock()
	for _, id := range gone {
		h.remoteGone(id)
	}
}

// presence returns the most recent connection of every agent connected to any replica.
func (h *Hub) presence() map[uuid.UUID]time.Time {
	cutoff := time.Now().Add(-presenceExpiry)
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[uuid.UUID]time.Time, len(h.agents))
	for id, c := range h.agents {
		out[id] = c.since
	}
	for _, r := range h.remote {
		if r.seen.Before(cutoff) {
			continue
		}
		for id, e := range r.agents {
			if t, ok := out[id]; !ok || e.Since.After(t) {
				out[id] = e.Since
			}
		}
	}
	return out
}
