package server_test

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/live"
)

// revokedWithin is how soon a revocation notice must close a socket: far below the default
// re-check interval (30 s), so a socket closed in time was closed by the notice.
const revokedWithin = 5 * time.Second

// expectRevoked waits for the server to close w with 1008 (policy violation) and reason.
func expectRevoked(t testing.TB, w *wsConn, within time.Duration, reason string) {
	t.Helper()
	select {
	case <-w.done:
	case <-time.After(within):
		t.Fatalf("socket still open %v after the revocation (want close %q)", within, reason)
	}
	var ce websocket.CloseError
	if err := w.closeErr(); !errors.As(err, &ce) {
		t.Fatalf("socket ended without a close frame: %v", err)
	}
	if ce.Code != websocket.StatusPolicyViolation || ce.Reason != reason {
		t.Fatalf("closed with %v %q, want %v %q", ce.Code, ce.Reason, websocket.StatusPolicyViolation, reason)
	}
}

// expectOpen checks that w is still open.
func expectOpen(t testing.TB, w *wsConn, what string) {
	t.Helper()
	select {
	case <-w.done:
		t.Fatalf("%s was closed: %v", what, w.closeErr())
	default:
	}
}

func stackLivePath(id uuid.UUID) string { return "/api/v1/stacks/" + id.String() + "/live" }

// setAgentStatus changes an agent's status through the API.
func (e *env) setAgentStatus(id uuid.UUID, status string) {
	e.t.Helper()
	e.must(200, req{method: "PUT", path: v1path("agents", id), pak: e.admin, body: map[string]any{"status": status}})
}

// moveStack gives a stack to another generator (admin only).
func (e *env) moveStack(st client.Stack, to uuid.UUID) {
	e.t.Helper()
	e.must(200, req{method: "PUT", path: v1path("stacks", st.ID), pak: e.admin, body: map[string]any{
		"id": st.ID, "created_at": st.CreatedAt, "updated_at": st.UpdatedAt, "name": st.Name, "generator_id": to,
	}})
}

// revocationCases runs every kind of revocation through actor while the sockets are held by
// holder (the same replica, or another one on the same database).
func revocationCases(t *testing.T, actor, holder *env) {
	t.Run("generator rotation closes its live tails", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		f := actor.liveFixture("gen-rotate")
		tail := mustDial(t, holder.url, stackLivePath(f.stack.ID), f.gen.pak)
		adminTail := mustDial(t, holder.url, stackLivePath(f.stack.ID), holder.admin)
		actor.must(201, req{method: "POST", path: v1path("generators", f.gen.gen.ID, "rotate-pak"), pak: actor.admin})
		expectRevoked(t, tail, revokedWithin, "credentials revoked")
		expectOpen(t, adminTail, "the admin's tail")
	})

	t.Run("generator rotation closes a tail opened with the subprotocol key", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		f := actor.liveFixture("gen-rotate-sub")
		tail, _, err := dialWS(t, wsURL(holder.url, stackLivePath(f.stack.ID)), nil,
			client.WSSubprotocol, client.WSPAKSubprotocolPrefix+f.gen.pak)
		if err != nil {
			t.Fatal(err)
		}
		actor.must(201, req{method: "POST", path: v1path("generators", f.gen.gen.ID, "rotate-pak"), pak: f.gen.pak})
		expectRevoked(t, tail, revokedWithin, "credentials revoked")
	})

	t.Run("generator deletion closes its live tails", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		f := actor.liveFixture("gen-delete")
		tail := mustDial(t, holder.url, stackLivePath(f.stack.ID), f.gen.pak)
		actor.must(204, req{method: "DELETE", path: v1path("generators", f.gen.gen.ID), pak: actor.admin})
		expectRevoked(t, tail, revokedWithin, "credentials revoked")
	})

	t.Run("stack deletion closes the generator's live tails", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		f := actor.liveFixture("stack-delete")
		other := actor.createStack("stack-delete-other", f.gen.gen.ID, f.gen.pak)
		tail := mustDial(t, holder.url, stackLivePath(f.stack.ID), f.gen.pak)
		otherTail := mustDial(t, holder.url, stackLivePath(other.ID), f.gen.pak)
		actor.must(204, req{method: "DELETE", path: v1path("stacks", f.stack.ID), pak: f.gen.pak})
		expectRevoked(t, tail, revokedWithin, "access to the stack revoked")
		expectOpen(t, otherTail, "the tail of another stack of the generator")
	})

	t.Run("moving a stack closes the former generator's live tails", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		f := actor.liveFixture("stack-move")
		to := actor.createGenerator("stack-move-to")
		tail := mustDial(t, holder.url, stackLivePath(f.stack.ID), f.gen.pak)
		adminTail := mustDial(t, holder.url, stackLivePath(f.stack.ID), holder.admin)
		actor.moveStack(f.stack, to.gen.ID)
		expectRevoked(t, tail, revokedWithin, "access to the stack revoked")
		expectOpen(t, adminTail, "the admin's tail")
		// The new owner may watch it, and a further re-check leaves that tail alone.
		newTail := mustDial(t, holder.url, stackLivePath(f.stack.ID), to.pak)
		if !holder.srv.RunWorkerOnce(context.Background(), "socket-recheck") {
			t.Fatal("socket-recheck worker missing")
		}
		expectOpen(t, newTail, "the new owner's tail")
		expectOpen(t, adminTail, "the admin's tail")
	})

	t.Run("agent rotation closes its channel", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		a := actor.createAgent("agent-rotate", "c")
		w := holder.connectAgent(a)
		actor.must(200, req{method: "POST", path: v1path("agents", a.agent.ID, "rotate-pak"), pak: actor.admin})
		expectRevoked(t, w, revokedWithin, "credentials revoked")
	})

	t.Run("agent deletion closes its channel", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		a := actor.createAgent("agent-delete", "c")
		w := holder.connectAgent(a)
		actor.must(204, req{method: "DELETE", path: v1path("agents", a.agent.ID), pak: actor.admin})
		expectRevoked(t, w, revokedWithin, "credentials revoked")
	})

	t.Run("agent deactivation closes its channel", func(t *testing.T) {
		actor, holder := actor.withT(t), holder.withT(t)
		a := actor.createAgent("agent-deactivate", "c")
		actor.setAgentStatus(a.agent.ID, "ACTIVE")
		w := holder.connectAgent(a)
		actor.setAgentStatus(a.agent.ID, "INACTIVE")
		expectRevoked(t, w, revokedWithin, "agent deactivated")

		// An agent that is not ACTIVE may still open the channel (its key authenticates, as on
		// the REST API); re-checks leave that channel open until the agent, once active again,
		// is deactivated again.
		w = holder.connectAgent(a)
		holder.srv.RunWorkerOnce(context.Background(), "socket-recheck")
		actor.setAgentStatus(a.agent.ID, "INACTIVE")
		holder.srv.RunWorkerOnce(context.Background(), "socket-recheck")
		expectOpen(t, w, "the channel of an agent that was never ACTIVE while it was open")
		actor.setAgentStatus(a.agent.ID, "ACTIVE")
		holder.srv.RunWorkerOnce(context.Background(), "socket-recheck") // the holder sees it ACTIVE
		actor.setAgentStatus(a.agent.ID, "PAUSED")
		expectRevoked(t, w, revokedWithin, "agent deactivated")
	})
}

// TestRevocationClosesSockets: on one replica, each kind of revocation closes the affected
// sockets at once, with 1008 and a reason, and no others.
func TestRevocationClosesSockets(t *testing.T) {
	e := newEnv(t)
	start(t, e.srv)
	wsEventually(t, "listener", e.srv.ListeningForTest)
	revocationCases(t, e, e)
}

// TestRevocationClosesSocketsOnOtherReplicas: the sockets are held by replica B while the
// revocations are made through replica A.
func TestRevocationClosesSocketsOnOtherReplicas(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })
	revocationCases(t, a, b)
}

// droppedFanout reads brokkr_ws_dropped_total{reason="fanout_queue_full"} of a replica.
func (e *env) droppedFanout() float64 {
	e.t.Helper()
	m := regexp.MustCompile(`(?m)^brokkr_ws_dropped_total\{reason="fanout_queue_full"\} (\S+)$`).
		FindStringSubmatch(e.scrapeLiveMetrics())
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// TestRevocationSurvivesFanoutFlood: replica A's fan-out queue is kept full of telemetry
// frames (its publisher stalled, so that the queue drops) while an agent's and a generator's
// keys are rotated through A; the agent's channel and the generator's tail held by replica B
// still close promptly.
func TestRevocationSurvivesFanoutFlood(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })

	f := a.liveFixture("flood")
	agent := b.connectAgent(f.agent)
	tail := mustDial(t, b.url, stackLivePath(f.stack.ID), f.gen.pak)
	wsEventually(t, "B knows the agent", func() bool {
		rec, _ := a.fleetRecord(f.agent.agent.ID, "")
		return rec.WSConnected
	})

	release := sync.OnceFunc(a.srv.StallFanoutForTest())
	defer release()
	ctx, stop := context.WithCancel(context.Background())
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		a.srv.FloodFanoutForTest(ctx, uuid.New())
	}()
	defer func() { stop(); <-flooded }()
	before := a.droppedFanout()
	wsEventually(t, "the fan-out queue of A dropping", func() bool { return a.droppedFanout() > before })

	a.must(200, req{method: "POST", path: v1path("agents", f.agent.agent.ID, "rotate-pak"), pak: a.admin})
	a.must(201, req{method: "POST", path: v1path("generators", f.gen.gen.ID, "rotate-pak"), pak: a.admin})
	during := a.droppedFanout()
	expectRevoked(t, agent, 10*time.Second, "credentials revoked")
	expectRevoked(t, tail, 10*time.Second, "credentials revoked")
	if after := a.droppedFanout(); after <= during {
		t.Fatalf("the fan-out queue stopped dropping (%v, then %v): the flood did not last", during, after)
	}
}

// revokedByRecheck reads brokkr_ws_revoked_total{reason, found_by="recheck"} of a replica.
func (e *env) revokedByRecheck(reason string) float64 {
	e.t.Helper()
	m := regexp.MustCompile(`(?m)^brokkr_ws_revoked_total\{found_by="recheck",reason="` + reason + `"\} (\S+)$`).
		FindStringSubmatch(e.scrapeLiveMetrics())
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

// TestSocketRecheckBackstop: the replica that makes the revocations sends no notice and does
// not re-check its own sockets at once; the periodic re-check (every second here) still
// closes every affected socket, on that replica and on the other one.
func TestSocketRecheckBackstop(t *testing.T) {
	a := newEnv(t, func(c *config.Broker) { c.Broker.SocketRecheckIntervalSeconds = 1 })
	b := a.replica()
	a.srv.SuppressRevocationsForTest()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })
	const within = 5 * time.Second // interval 1 s (+10 % jitter) and the close handshake

	fx := a.liveFixture("backstop-gen")
	tailA := mustDial(t, a.url, stackLivePath(fx.stack.ID), fx.gen.pak)
	tailB := mustDial(t, b.url, stackLivePath(fx.stack.ID), fx.gen.pak)

	moved := a.liveFixture("backstop-move")
	to := a.createGenerator("backstop-to")
	movedTail := mustDial(t, b.url, stackLivePath(moved.stack.ID), moved.gen.pak)

	deleted := a.liveFixture("backstop-delete")
	deletedTail := mustDial(t, a.url, stackLivePath(deleted.stack.ID), deleted.gen.pak)

	rotated := a.createAgent("backstop-rotate", "c")
	rotatedChan := b.connectAgent(rotated)

	paused := a.createAgent("backstop-pause", "c")
	a.setAgentStatus(paused.agent.ID, "ACTIVE")
	pausedChan := a.connectAgent(paused)

	fleet := mustDial(t, b.url, "/api/v1/fleet/live", b.admin)
	adminTail := mustDial(t, b.url, stackLivePath(moved.stack.ID), b.admin)

	a.must(201, req{method: "POST", path: v1path("generators", fx.gen.gen.ID, "rotate-pak"), pak: a.admin})
	a.moveStack(moved.stack, to.gen.ID)
	a.must(204, req{method: "DELETE", path: v1path("stacks", deleted.stack.ID), pak: deleted.gen.pak})
	a.must(200, req{method: "POST", path: v1path("agents", rotated.agent.ID, "rotate-pak"), pak: a.admin})
	a.setAgentStatus(paused.agent.ID, "INACTIVE")

	expectRevoked(t, tailA, within, "credentials revoked")
	expectRevoked(t, tailB, within, "credentials revoked")
	expectRevoked(t, movedTail, within, "access to the stack revoked")
	expectRevoked(t, deletedTail, within, "access to the stack revoked")
	expectRevoked(t, rotatedChan, within, "credentials revoked")
	expectRevoked(t, pausedChan, within, "agent deactivated")
	if a.revokedByRecheck("credentials") < 1 || b.revokedByRecheck("credentials") < 2 ||
		a.revokedByRecheck("deactivated") < 1 || a.revokedByRecheck("stack_access") < 1 ||
		b.revokedByRecheck("stack_access") < 1 {
		t.Fatalf("sockets not counted as closed by the periodic re-check:\nA %s\nB %s", a.scrapeLiveMetrics(), b.scrapeLiveMetrics())
	}
	expectOpen(t, fleet, "the admin's fleet subscription")
	expectOpen(t, adminTail, "the admin's tail")

	// The admin key itself replaced behind the broker's back (as a restart with a new
	// broker.pak_hash does): the admin's sockets close too.
	if _, err := a.db.Exec(`UPDATE admin_role SET pak_hash = $1`, "0000000000000000000000000000000000000000000000000000000000000000"); err != nil {
		t.Fatal(err)
	}
	expectRevoked(t, fleet, within, "credentials revoked")
	expectRevoked(t, adminTail, within, "credentials revoked")
}

// TestRevokedKeyOpensNoSocket: a key refused after its rotation cannot open a socket on any
// replica, and the new key can.
func TestRevokedKeyOpensNoSocket(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })
	f := a.liveFixture("reopen")
	var rot client.GeneratorPAKResponse
	a.must(201, req{method: "POST", path: v1path("generators", f.gen.gen.ID, "rotate-pak"), pak: a.admin}).decode(t, &rot)
	for _, r := range []*env{a, b} {
		wsEventually(t, "old key refused", func() bool {
			_, res, err := dialWS(t, wsURL(r.url, stackLivePath(f.stack.ID)), http.Header{"Authorization": {f.gen.pak}})
			return err != nil && res != nil && res.StatusCode == http.StatusUnauthorized
		})
		w := mustDial(t, r.url, stackLivePath(f.stack.ID), rot.PAK)
		r.srv.RunWorkerOnce(context.Background(), "socket-recheck")
		expectOpen(t, w, "the tail opened with the new key")
	}
}

// TestSocketKeyResolutionMatchesAuth: the set-based resolution of socket re-checks agrees
// with the one of authentication for every kind of key, including deleted and rotated ones
// and a hash held by both an agent and a generator (the agent wins).
func TestSocketKeyResolutionMatchesAuth(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	hashOf := func(key string) string {
		h, err := pak.Hash(key)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	g := e.createGenerator("resolve-gen")
	rotated := e.createGenerator("resolve-rotated")
	e.must(201, req{method: "POST", path: v1path("generators", rotated.gen.ID, "rotate-pak"), pak: e.admin})
	deletedGen := e.createGenerator("resolve-deleted-gen")
	e.must(204, req{method: "DELETE", path: v1path("generators", deletedGen.gen.ID), pak: e.admin})
	a := e.createAgent("resolve-agent", "c")
	deletedAgent := e.createAgent("resolve-deleted-agent", "c")
	e.must(204, req{method: "DELETE", path: v1path("agents", deletedAgent.agent.ID), pak: e.admin})
	shared := e.createGenerator("resolve-shared")
	if _, err := e.db.Exec(`UPDATE generators SET pak_hash = $1 WHERE id = $2`, hashOf(a.pak), shared.gen.ID); err != nil {
		t.Fatal(err)
	}
	hashes := []string{
		hashOf(e.admin), hashOf(g.pak), hashOf(rotated.pak), hashOf(deletedGen.pak), hashOf(a.pak),
		hashOf(deletedAgent.pak), hashOf(e.srv.ReadOnlyPAK()), strings.Repeat("ab", 32),
	}
	got, err := live.ResolveKeys(ctx, e.db, hashes)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hashes {
		want, err := db.ResolvePAKHash(ctx, e.db, h)
		id, ok := got[h]
		switch {
		case errors.Is(err, db.ErrNotFound):
			if ok {
				t.Errorf("hash %d: resolved to %+v, authentication knows no such key", i, id)
			}
		case err != nil:
			t.Fatal(err)
		case !ok || id.Admin != want.Admin || id.AgentID != want.AgentID || id.GeneratorID != want.GeneratorID:
			t.Errorf("hash %d: resolved to %+v (found %v), authentication says %+v", i, id, ok, want)
		}
	}
	if id := got[hashOf(a.pak)]; id.AgentID != a.agent.ID {
		t.Errorf("shared hash resolved to %+v, want the agent", id)
	}
	if len(got) != 3 {
		t.Errorf("%d hashes resolved, want 3 (admin, generator, agent): %+v", len(got), got)
	}
}
