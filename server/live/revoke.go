package live

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/server/events"
)

// Revocation of open WebSockets. A socket authenticates once, at the upgrade; afterwards the
// broker closes it (status 1008, policy violation, with a reason) when its access ends:
//
//   - a PAK rotated, deleted or revoked closes every socket opened with it: the agent's
//     channel, a generator's or the admin's live tails, the admin's fleet subscriptions;
//   - a stack deleted or moved to another generator closes the live tails of the stack that
//     a generator no longer owning it opened;
//   - an agent leaving ACTIVE closes its channel (an agent that is not ACTIVE may open a new
//     one: its key still authenticates, as on the REST API).
//
// The replica where the change is made re-checks its own sockets at once and announces a
// re-check on a NOTIFY channel of its own, sent synchronously and retried until PostgreSQL
// takes it: revocations never share the bounded, lossy fan-out queue of telemetry. Every
// replica re-checks the sockets a notice names, all of its sockets after its listener
// reconnected (notices may have been missed meanwhile), and all of them every
// broker.socket_recheck_interval_seconds as the backstop. A re-check asks the database, never
// the auth cache. Pending re-checks coalesce into sets that are bounded: past maxRecheckKeys
// names they become one re-check of every socket, so nothing is ever dropped.

// Close reasons of revoked sockets (at most 123 bytes each).
const (
	reasonCredentials = "credentials revoked"
	reasonDeactivated = "agent deactivated"
	reasonStackAccess = "access to the stack revoked"
)

// maxRecheckKeys bounds the names a pending re-check holds before it widens to every socket.
const maxRecheckKeys = 4096

// Grant is what a socket was opened with.
type Grant struct {
	PAKHash  string      // hash of the PAK presented at the upgrade
	Key      db.Identity // whom the PAK resolved to
	ReadOnly bool        // the process's read-only admin key, valid as long as the process (not a named read-only PAK)
}

// isGenerator reports whether the socket was opened with a generator's key.
func (g Grant) isGenerator() bool { return g.Key.GeneratorID != uuid.Nil }

// Sockets names sockets to verify: those opened with one of Hashes, the channels of Agents
// and the live tails of Stacks; All names every socket.
type Sockets struct {
	All    bool        `json:"all,omitempty"`
	Hashes []string    `json:"h,omitempty"`
	Agents []uuid.UUID `json:"a,omitempty"`
	Stacks []uuid.UUID `json:"s,omitempty"`
}

// recheckNotice is the payload of the revocation channel.
type recheckNotice struct {
	Origin uuid.UUID `json:"o"`
	Seq    uint64    `json:"n"` // makes payloads unique: NOTIFY folds identical ones
	Sockets
}

func (r Sockets) empty() bool {
	return !r.All && len(r.Hashes) == 0 && len(r.Agents) == 0 && len(r.Stacks) == 0
}

// recheckSet accumulates re-checks to do or to announce.
type recheckSet struct {
	all    bool
	hashes map[string]struct{}
	agents map[uuid.UUID]struct{}
	stacks map[uuid.UUID]struct{}
}

func (r *recheckSet) add(c Sockets) {
	if r.all {
		return
	}
	if c.All || len(r.hashes)+len(r.agents)+len(r.stacks)+len(c.Hashes)+len(c.Agents)+len(c.Stacks) > maxRecheckKeys {
		*r = recheckSet{all: true}
		return
	}
	if r.hashes == nil {
		r.hashes, r.agents, r.stacks = map[string]struct{}{}, map[uuid.UUID]struct{}{}, map[uuid.UUID]struct{}{}
	}
	for _, h := range c.Hashes {
		if h != "" {
			r.hashes[h] = struct{}{}
		}
	}
	for _, id := range c.Agents {
		r.agents[id] = struct{}{}
	}
	for _, id := range c.Stacks {
		r.stacks[id] = struct{}{}
	}
}

// take empties the set and returns what it held.
func (r *recheckSet) take() (Sockets, bool) {
	var c Sockets
	c.All = r.all
	for h := range r.hashes {
		c.Hashes = append(c.Hashes, h)
	}
	for id := range r.agents {
		c.Agents = append(c.Agents, id)
	}
	for id := range r.stacks {
		c.Stacks = append(c.Stacks, id)
	}
	*r = recheckSet{}
	return c, !c.empty()
}

// revocationState is the revocation side of a hub.
type revocationState struct {
	channel string // the revocation channel of this database schema
	seq     atomic.Uint64
	// epoch grows before every re-check looks at the sockets. A socket that registers after
	// an epoch change since its key was resolved is re-checked: the re-check may have
	// looked before it was there.
	epoch atomic.Uint64

	mu      sync.Mutex
	inbox   recheckSet // re-checks to do here (notices, listener resets, failed attempts)
	outbox  recheckSet // notices PostgreSQL has not taken yet
	wakeIn  chan struct{}
	wakeOut chan struct{}
	started bool

	suppressed atomic.Bool // tests: no notices and no immediate re-checks, only the periodic one
}

func newRevocationState(schema string) revocationState {
	return revocationState{
		channel: revocationChannel(schema),
		wakeIn:  make(chan struct{}, 1),
		wakeOut: make(chan struct{}, 1),
	}
}

// revocationChannel names the revocation channel; like the fan-out channel it is per schema.
func revocationChannel(schema string) string {
	if schema == "" {
		return "brokkr_revoke"
	}
	f := fnv.New64a()
	_, _ = f.Write([]byte(schema))
	return fmt.Sprintf("brokkr_revoke_%016x", f.Sum64())
}

func wake(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Revoke closes the sockets named by c whose access ended, here at once and on every other
// replica. Call it after the change is committed.
func (h *Hub) Revoke(c Sockets) {
	hashes := c.Hashes[:0:0]
	for _, x := range c.Hashes {
		if x != "" {
			hashes = append(hashes, x)
		}
	}
	c.Hashes = hashes
	if c.empty() {
		return
	}
	if h.rev.suppressed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.announceRecheck(ctx, c)
	if err := h.recheck(ctx, c, "notice"); err != nil {
		h.log.Warn("re-check sockets after a revocation; retrying", slog.Any("error", err))
		h.queueRecheck(c)
	}
}

// announceRecheck sends c on the revocation channel; if PostgreSQL cannot take it now, it
// is kept and sent again until it can. Before Start the replica runs alone.
func (h *Hub) announceRecheck(ctx context.Context, c Sockets) {
	h.rev.mu.Lock()
	started := h.rev.started
	h.rev.mu.Unlock()
	if !started {
		return
	}
	if err := h.sendRecheck(ctx, c); err != nil {
		h.log.Warn("announce revocation; retrying", slog.Any("error", err))
		h.rev.mu.Lock()
		h.rev.outbox.add(c)
		h.rev.mu.Unlock()
		wake(h.rev.wakeOut)
	}
}

func (h *Hub) sendRecheck(ctx context.Context, c Sockets) error {
	n := recheckNotice{Origin: h.replica, Seq: h.rev.seq.Add(1), Sockets: c}
	raw, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	if len(raw) > maxNotifyPayload {
		raw, err = json.Marshal(recheckNotice{Origin: h.replica, Seq: n.Seq, Sockets: Sockets{All: true}})
		if err != nil {
			return fmt.Errorf("encode revocation: %w", err)
		}
	}
	if _, err := h.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, h.rev.channel, string(raw)); err != nil {
		return fmt.Errorf("notify revocation: %w", err)
	}
	return nil
}

// queueRecheck leaves c for the re-check loop.
func (h *Hub) queueRecheck(c Sockets) {
	h.rev.mu.Lock()
	h.rev.inbox.add(c)
	h.rev.mu.Unlock()
	wake(h.rev.wakeIn)
}

// Epoch returns the revocation epoch. Read it before resolving the key of an upgrade request
// and hand it to the Serve method: a socket that registers after a re-check began since then
// is re-checked itself.
func (h *Hub) Epoch() uint64 { return h.rev.epoch.Load() }

// recheckIfRevoked re-checks a socket that just registered when a re-check ran since its
// key was resolved (epoch is the value read before that).
func (h *Hub) recheckIfRevoked(epoch uint64, c Sockets) {
	if h.rev.epoch.Load() == epoch {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.recheck(ctx, c, "notice"); err != nil {
		h.queueRecheck(c)
	}
}

// revocationHandler is the hub's side of the replica's notification listener.
func (h *Hub) revocationHandler() events.Handler {
	return events.Handler{
		Channel: h.rev.channel,
		Notify: func(payload string) {
			var n recheckNotice
			if err := json.Unmarshal([]byte(payload), &n); err != nil {
				h.log.Warn("undecodable revocation", slog.Any("error", err))
				return
			}
			if n.Origin == h.replica {
				return // re-checked here when it was sent
			}
			h.queueRecheck(n.Sockets)
		},
		// Notices may have been missed: re-check every socket.
		Reset: func() { h.queueRecheck(Sockets{All: true}) },
	}
}

// startRevocations runs the re-check loop and the announcement retries until ctx ends.
func (h *Hub) startRevocations(ctx context.Context) {
	h.rev.mu.Lock()
	h.rev.started = true
	h.rev.mu.Unlock()
	h.wg.Go(func() { h.recheckLoop(ctx) })
	h.wg.Go(func() { h.announceLoop(ctx) })
}

// recheckLoop does queued re-checks, retrying failed ones with a growing delay.
func (h *Hub) recheckLoop(ctx context.Context) {
	h.drain(ctx, h.rev.wakeIn, &h.rev.inbox, func(ctx context.Context, c Sockets) error {
		return h.recheck(ctx, c, "notice")
	})
}

// announceLoop sends the announcements PostgreSQL refused, until it takes them.
func (h *Hub) announceLoop(ctx context.Context) {
	h.drain(ctx, h.rev.wakeOut, &h.rev.outbox, h.sendRecheck)
}

func (h *Hub) drain(ctx context.Context, wakeCh chan struct{}, set *recheckSet, do func(context.Context, Sockets) error) {
	const firstDelay, maxDelay = 100 * time.Millisecond, 5 * time.Second
	delay := firstDelay
	for {
		select {
		case <-ctx.Done():
			return
		case <-wakeCh:
		}
		for {
			h.rev.mu.Lock()
			c, ok := set.take()
			h.rev.mu.Unlock()
			if !ok {
				break
			}
			cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err := do(cctx, c)
			cancel()
			if err == nil {
				delay = firstDelay
				continue
			}
			if ctx.Err() != nil {
				return
			}
			h.log.Warn("revocation work failed; retrying", slog.Duration("in", delay), slog.Any("error", err))
			h.rev.mu.Lock()
			set.add(c)
			h.rev.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(delay*2, maxDelay)
		}
	}
}

// recheckAll is the periodic backstop: every socket of this replica is re-checked.
func (h *Hub) recheckAll(ctx context.Context) error {
	return h.recheck(ctx, Sockets{All: true}, "recheck")
}

// recheck verifies the sockets of this replica that c names against the database and closes
// those whose access ended. foundBy labels the metric.
func (h *Hub) recheck(ctx context.Context, c Sockets, foundBy string) error {
	h.rev.epoch.Add(1)
	agents, tails, fleet := h.socketsFor(c)
	if len(agents)+len(tails)+len(fleet) == 0 {
		return nil
	}

	// What the database says now of every key, agent and stack involved.
	var hashes []string
	seen := map[string]bool{}
	addHash := func(g Grant) {
		if !g.ReadOnly && !seen[g.PAKHash] {
			seen[g.PAKHash] = true
			hashes = append(hashes, g.PAKHash)
		}
	}
	agentIDs := make([]uuid.UUID, 0, len(agents))
	for _, a := range agents {
		addHash(a.grant)
		agentIDs = append(agentIDs, a.agentID)
	}
	var stackIDs []uuid.UUID
	for _, t := range tails {
		addHash(t.grant)
		if t.grant.isGenerator() {
			stackIDs = append(stackIDs, t.stackID)
		}
	}
	for _, f := range fleet {
		addHash(f.grant)
	}
	keys, err := ResolveKeys(ctx, h.db, hashes)
	if err != nil {
		return err
	}
	statuses, err := h.agentStatuses(ctx, agentIDs)
	if err != nil {
		return err
	}
	owners, err := h.stackOwners(ctx, stackIDs)
	if err != nil {
		return err
	}

	valid := func(g Grant) bool {
		if g.ReadOnly {
			return true // the read-only key lives as long as this process
		}
		key, ok := keys[g.PAKHash]
		return ok && key == g.Key
	}
	revoked := func(label string) { h.metrics.revoked.WithLabelValues(label, foundBy).Inc() }
	for _, a := range agents {
		status, live := statuses[a.agentID]
		switch {
		case !live || !valid(a.grant):
			a.close(statusPolicyViolation, reasonCredentials)
			revoked("credentials")
		case status == agentActive:
			a.active.Store(true)
		case a.active.Load():
			a.close(statusPolicyViolation, reasonDeactivated)
			revoked("deactivated")
		}
	}
	for _, t := range tails {
		switch {
		case !valid(t.grant):
			t.close(statusPolicyViolation, reasonCredentials)
			revoked("credentials")
		case t.grant.isGenerator():
			if owner, ok := owners[t.stackID]; !ok || owner != t.grant.Key.GeneratorID {
				t.close(statusPolicyViolation, reasonStackAccess)
				revoked("stack_access")
			}
		}
	}
	for _, f := range fleet {
		if !valid(f.grant) {
			f.close(statusPolicyViolation, reasonCredentials)
			revoked("credentials")
		}
	}
	return nil
}

// socketsFor lists this replica's sockets that c names.
func (h *Hub) socketsFor(c Sockets) ([]*agentConn, []*stackSub, []*fleetSub) {
	hashes := make(map[string]bool, len(c.Hashes))
	for _, x := range c.Hashes {
		hashes[x] = true
	}
	agentSet := make(map[uuid.UUID]bool, len(c.Agents))
	for _, x := range c.Agents {
		agentSet[x] = true
	}
	stackSet := make(map[uuid.UUID]bool, len(c.Stacks))
	for _, x := range c.Stacks {
		stackSet[x] = true
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var agents []*agentConn
	for id, a := range h.agents {
		if c.All || agentSet[id] || hashes[a.grant.PAKHash] {
			agents = append(agents, a)
		}
	}
	var tails []*stackSub
	for id, subs := range h.stacks {
		for t := range subs {
			if c.All || stackSet[id] || hashes[t.grant.PAKHash] {
				tails = append(tails, t)
			}
		}
	}
	var fleet []*fleetSub
	for f := range h.fleet {
		if c.All || hashes[f.grant.PAKHash] {
			fleet = append(fleet, f)
		}
	}
	return agents, tails, fleet
}

// ResolveKeys resolves many PAK hashes at once, from the database and never from the
// auth cache, with the precedence of db.ResolvePAKHash (admin, then live agent, then live
// generator, then read-only key not revoked). Hashes nobody holds are absent from the result.
func ResolveKeys(ctx context.Context, q db.Queryer, hashes []string) (map[string]db.Identity, error) {
	out := make(map[string]db.Identity, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	var rows []struct {
		Hash string     `db:"pak_hash"`
		Rank int        `db:"rank"`
		ID   *uuid.UUID `db:"id"`
	}
	err := q.SelectContext(ctx, &rows, `
		SELECT pak_hash, 1 AS rank, NULL::uuid AS id FROM admin_role WHERE pak_hash = ANY($1::text[])
		UNION ALL
		SELECT pak_hash, 2, id FROM agents
			WHERE pak_hash = ANY($1::text[]) AND deleted_at IS NULL AND pak_hash <> ''
		UNION ALL
		SELECT pak_hash, 3, id FROM generators
			WHERE pak_hash = ANY($1::text[]) AND deleted_at IS NULL AND pak_hash IS NOT NULL
		UNION ALL
		SELECT pak_hash, 4, id FROM read_only_paks WHERE pak_hash = ANY($1::text[]) AND revoked_at IS NULL
		ORDER BY rank DESC`, hashes)
	if err != nil {
		return nil, fmt.Errorf("resolve socket keys: %w", err)
	}
	// Rows come lowest precedence first: the last write for a hash wins.
	for _, r := range rows {
		switch {
		case r.Rank == 1:
			out[r.Hash] = db.Identity{Admin: true}
		case r.Rank == 2 && r.ID != nil:
			out[r.Hash] = db.Identity{AgentID: *r.ID}
		case r.Rank == 3 && r.ID != nil:
			out[r.Hash] = db.Identity{GeneratorID: *r.ID}
		case r.Rank == 4 && r.ID != nil:
			out[r.Hash] = db.Identity{ReadOnlyPAKID: *r.ID}
		}
	}
	return out, nil
}

// agentStatuses returns the status of each live agent among ids.
func (h *Hub) agentStatuses(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := make(map[uuid.UUID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     uuid.UUID `db:"id"`
		Status string    `db:"status"`
	}
	if err := h.db.SelectContext(ctx, &rows, `SELECT id, status FROM agents
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids); err != nil {
		return nil, fmt.Errorf("read agent statuses: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Status
	}
	return out, nil
}

// stackOwners returns the generator of each live stack among ids.
func (h *Hub) stackOwners(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]uuid.UUID, error) {
	out := make(map[uuid.UUID]uuid.UUID, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID          uuid.UUID `db:"id"`
		GeneratorID uuid.UUID `db:"generator_id"`
	}
	if err := h.db.SelectContext(ctx, &rows, `SELECT id, generator_id FROM stacks
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids); err != nil {
		return nil, fmt.Errorf("read stack owners: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.GeneratorID
	}
	return out, nil
}
