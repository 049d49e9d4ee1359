package server

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
)

// Revocation of open WebSockets. A socket authenticates once, at the upgrade; afterwards the
// broker closes it (status 1008, policy violation, with a reason) when its access ends:
//
//   - a PAK rotated or deleted (evictPAK) closes every socket opened with it: the agent's
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

// agentActive is the status in which an agent works.
const agentActive = "ACTIVE"

// maxRecheckKeys bounds the names a pending re-check holds before it widens to every socket.
const maxRecheckKeys = 4096

// socketGrant is what a socket was opened with.
type socketGrant struct {
	hash string // hash of the PAK presented at the upgrade
	id   Identity
}

// recheck names sockets to verify: those opened with one of Hashes, the channels of Agents
// and the live tails of Stacks; All names every socket. It is also the payload of the
// revocation channel.
type recheck struct {
	Origin uuid.UUID   `json:"o"`
	Seq    uint64      `json:"n"` // makes payloads unique: NOTIFY folds identical ones
	All    bool        `json:"all,omitempty"`
	Hashes []string    `json:"h,omitempty"`
	Agents []uuid.UUID `json:"a,omitempty"`
	Stacks []uuid.UUID `json:"s,omitempty"`
}

func (r recheck) empty() bool {
	return !r.All && len(r.Hashes) == 0 && len(r.Agents) == 0 && len(r.Stacks) == 0
}

// recheckSet accumulates re-checks to do or to announce.
type recheckSet struct {
	all    bool
	hashes map[string]struct{}
	agents map[uuid.UUID]struct{}
	stacks map[uuid.UUID]struct{}
}

func (r *recheckSet) add(c recheck) {
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
func (r *recheckSet) take() (recheck, bool) {
	var c recheck
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

// revokeSockets closes the sockets named by c whose access ended, here at once and on every
// other replica. Call it after the change is committed.
func (s *Server) revokeSockets(c recheck) {
	hashes := c.Hashes[:0:0]
	for _, h := range c.Hashes {
		if h != "" {
			hashes = append(hashes, h)
		}
	}
	c.Hashes = hashes
	if s.live == nil || c.empty() {
		return
	}
	s.live.revoke(c)
}

func (h *liveHub) revoke(c recheck) {
	if h.rev.suppressed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.announceRecheck(ctx, c)
	if err := h.recheck(ctx, c, "notice"); err != nil {
		h.log.Warn("re-check sockets after a revocation; retrying", slog.Any("err", err))
		h.queueRecheck(c)
	}
}

// announceRecheck sends c on the revocation channel; if PostgreSQL cannot take it now, it
// is kept and sent again until it can. Before Start the replica runs alone.
func (h *liveHub) announceRecheck(ctx context.Context, c recheck) {
	h.rev.mu.Lock()
	started := h.rev.started
	h.rev.mu.Unlock()
	if !started {
		return
	}
	if err := h.sendRecheck(ctx, c); err != nil {
		h.log.Warn("announce revocation; retrying", slog.Any("err", err))
		h.rev.mu.Lock()
		h.rev.outbox.add(c)
		h.rev.mu.Unlock()
		wake(h.rev.wakeOut)
	}
}

func (h *liveHub) sendRecheck(ctx context.Context, c recheck) error {
	c.Origin = h.replica
	c.Seq = h.rev.seq.Add(1)
	raw, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode revocation: %w", err)
	}
	if len(raw) > maxNotifyPayload {
		raw, err = json.Marshal(recheck{Origin: h.replica, Seq: c.Seq, All: true})
		if err != nil {
			return fmt.Errorf("encode revocation: %w", err)
		}
	}
	if _, err := h.s.db.ExecContext(ctx, `SELECT pg_notify($1, $2)`, h.rev.channel, string(raw)); err != nil {
		return fmt.Errorf("notify revocation: %w", err)
	}
	return nil
}

// queueRecheck leaves c for the re-check loop.
func (h *liveHub) queueRecheck(c recheck) {
	h.rev.mu.Lock()
	h.rev.inbox.add(c)
	h.rev.mu.Unlock()
	wake(h.rev.wakeIn)
}

// recheckIfRevoked re-checks a socket that just registered when a re-check ran since its
// key was resolved (epoch is the value read before that).
func (h *liveHub) recheckIfRevoked(epoch uint64, c recheck) {
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
func (h *liveHub) revocationHandler() notifyHandler {
	return notifyHandler{
		channel: h.rev.channel,
		notify: func(payload string) {
			var c recheck
			if err := json.Unmarshal([]byte(payload), &c); err != nil {
				h.log.Warn("undecodable revocation", slog.Any("err", err))
				return
			}
			if c.Origin == h.replica {
				return // re-checked here when it was sent
			}
			h.queueRecheck(c)
		},
		// Notices may have been missed: re-check every socket.
		reset: func() { h.queueRecheck(recheck{All: true}) },
	}
}

// startRevocations runs the re-check loop and the announcement retries until ctx ends.
func (h *liveHub) startRevocations(ctx context.Context) {
	h.rev.mu.Lock()
	h.rev.started = true
	h.rev.mu.Unlock()
	h.s.bg.Add(2)
	go func() {
		defer h.s.bg.Done()
		h.recheckLoop(ctx)
	}()
	go func() {
		defer h.s.bg.Done()
		h.announceLoop(ctx)
	}()
}

// recheckLoop does queued re-checks, retrying failed ones with a growing delay.
func (h *liveHub) recheckLoop(ctx context.Context) {
	h.drain(ctx, h.rev.wakeIn, &h.rev.inbox, func(ctx context.Context, c recheck) error {
		return h.recheck(ctx, c, "notice")
	})
}

// announceLoop sends the announcements PostgreSQL refused, until it takes them.
func (h *liveHub) announceLoop(ctx context.Context) {
	h.drain(ctx, h.rev.wakeOut, &h.rev.outbox, h.sendRecheck)
}

func (h *liveHub) drain(ctx context.Context, wakeCh chan struct{}, set *recheckSet, do func(context.Context, recheck) error) {
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
			h.log.Warn("revocation work failed; retrying", slog.Duration("in", delay), slog.Any("err", err))
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
func (h *liveHub) recheckAll(ctx context.Context) error {
	return h.recheck(ctx, recheck{All: true}, "recheck")
}

// recheck verifies the sockets of this replica that c names against the database and closes
// those whose access ended. foundBy labels the metric.
func (h *liveHub) recheck(ctx context.Context, c recheck, foundBy string) error {
	h.rev.epoch.Add(1)
	agents, tails, fleet := h.socketsFor(c)
	if len(agents)+len(tails)+len(fleet) == 0 {
		return nil
	}

	// What the database says now of every key, agent and stack involved.
	var hashes []string
	seen := map[string]bool{}
	addHash := func(g socketGrant) {
		if !g.id.ReadOnly && !seen[g.hash] {
			seen[g.hash] = true
			hashes = append(hashes, g.hash)
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
		if t.grant.id.IsGenerator() {
			stackIDs = append(stackIDs, t.stackID)
		}
	}
	for _, f := range fleet {
		addHash(f.grant)
	}
	keys, err := h.resolveHashes(ctx, hashes)
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

	valid := func(g socketGrant) bool {
		if g.id.ReadOnly {
			return true // the read-only key lives as long as this process
		}
		id, ok := keys[g.hash]
		return ok && id == g.id
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
		case t.grant.id.IsGenerator():
			if owner, ok := owners[t.stackID]; !ok || owner != t.grant.id.GeneratorID {
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
func (h *liveHub) socketsFor(c recheck) ([]*agentConn, []*stackSub, []*fleetSub) {
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
		if c.All || agentSet[id] || hashes[a.grant.hash] {
			agents = append(agents, a)
		}
	}
	var tails []*stackSub
	for id, subs := range h.stacks {
		for t := range subs {
			if c.All || stackSet[id] || hashes[t.grant.hash] {
				tails = append(tails, t)
			}
		}
	}
	var fleet []*fleetSub
	for f := range h.fleet {
		if c.All || hashes[f.grant.hash] {
			fleet = append(fleet, f)
		}
	}
	return agents, tails, fleet
}

// resolveHashes resolves many PAK hashes at once, from the database and never from the
// auth cache, with the precedence of db.ResolvePAKHash (admin, then live agent, then live
// generator). Hashes nobody holds are absent from the result.
func (h *liveHub) resolveHashes(ctx context.Context, hashes []string) (map[string]Identity, error) {
	out := make(map[string]Identity, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	var rows []struct {
		Hash string     `db:"pak_hash"`
		Rank int        `db:"rank"`
		ID   *uuid.UUID `db:"id"`
	}
	err := h.s.db.SelectContext(ctx, &rows, `
		SELECT pak_hash, 1 AS rank, NULL::uuid AS id FROM admin_role WHERE pak_hash = ANY($1::text[])
		UNION ALL
		SELECT pak_hash, 2, id FROM agents
			WHERE pak_hash = ANY($1::text[]) AND deleted_at IS NULL AND pak_hash <> ''
		UNION ALL
		SELECT pak_hash, 3, id FROM generators
			WHERE pak_hash = ANY($1::text[]) AND deleted_at IS NULL AND pak_hash IS NOT NULL
		ORDER BY rank DESC`, hashes)
	if err != nil {
		return nil, fmt.Errorf("resolve socket keys: %w", err)
	}
	// Rows come lowest precedence first: the last write for a hash wins.
	for _, r := range rows {
		switch {
		case r.Rank == 1:
			out[r.Hash] = Identity{Admin: true}
		case r.Rank == 2 && r.ID != nil:
			out[r.Hash] = Identity{AgentID: *r.ID}
		case r.Rank == 3 && r.ID != nil:
			out[r.Hash] = Identity{GeneratorID: *r.ID}
		}
	}
	return out, nil
}

// agentStatuses returns the status of each live agent among ids.
func (h *liveHub) agentStatuses(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := make(map[uuid.UUID]string, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID     uuid.UUID `db:"id"`
		Status string    `db:"status"`
	}
	if err := h.s.db.SelectContext(ctx, &rows, `SELECT id, status FROM agents
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids); err != nil {
		return nil, fmt.Errorf("read agent statuses: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.Status
	}
	return out, nil
}

// stackOwners returns the generator of each live stack among ids.
func (h *liveHub) stackOwners(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]uuid.UUID, error) {
	out := make(map[uuid.UUID]uuid.UUID, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var rows []struct {
		ID          uuid.UUID `db:"id"`
		GeneratorID uuid.UUID `db:"generator_id"`
	}
	if err := h.s.db.SelectContext(ctx, &rows, `SELECT id, generator_id FROM stacks
		WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL`, ids); err != nil {
		return nil, fmt.Errorf("read stack owners: %w", err)
	}
	for _, r := range rows {
		out[r.ID] = r.GeneratorID
	}
	return out, nil
}
