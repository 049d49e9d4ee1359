package server_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/live"
)

// createReadOnlyPAK mints a named read-only PAK as the admin.
func (e *env) createReadOnlyPAK(name string) client.ReadOnlyPAKCreated {
	e.t.Helper()
	var k client.ReadOnlyPAKCreated
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/read-only-paks", pak: e.admin,
		body: map[string]any{"name": name}}).decode(e.t, &k)
	if k.PAK == "" || k.Name != name {
		e.t.Fatalf("created read-only PAK %+v", k)
	}
	return k
}

// readOnlyPAKAudit returns "action/resource_type/actor_type" of the audit entries about
// one resource, oldest first.
func (e *env) readOnlyPAKAudit(resource uuid.UUID) []string {
	e.t.Helper()
	e.srv.FlushAudit(context.Background())
	var out []string
	if err := e.db.SelectContext(context.Background(), &out, `SELECT action || '/' || resource_type || '/' || actor_type
		FROM audit_logs WHERE resource_id = $1 ORDER BY timestamp, id`, resource); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestReadOnlyPAKLifecycle: the admin creates, lists and revokes named read-only PAKs; the
// key is shown once, lists never carry a key or a hash, names are unique among live keys,
// a read-only key reads as the admin but creates and revokes nothing, and every change is
// audited.
func TestReadOnlyPAKLifecycle(t *testing.T) {
	e := newEnv(t)
	k := e.createReadOnlyPAK("dashboards")

	var who client.AuthResponse
	e.must(http.StatusOK, req{method: "POST", path: "/api/v1/auth/pak", pak: k.PAK}).decode(t, &who)
	if !who.Admin || !who.ReadOnly || who.Agent != nil || who.Generator != nil {
		t.Fatalf("a read-only PAK verifies as %+v, want the read-only admin", who)
	}
	a := e.createAgent("ro-agent", "c")
	e.must(http.StatusOK, req{method: "GET", path: v1path("agents", a.agent.ID), pak: k.PAK})
	e.expectError(http.StatusForbidden, "read_only", req{method: "PUT", path: v1path("agents", a.agent.ID), pak: k.PAK,
		body: map[string]any{"status": "ACTIVE"}})

	// Lists carry no key and no hash, for the admin and for the read-only key alike.
	for _, key := range []string{e.admin, k.PAK} {
		res := e.must(http.StatusOK, req{method: "GET", path: "/api/v1/read-only-paks", pak: key})
		var raw []map[string]any
		res.decode(t, &raw)
		if len(raw) != 1 || raw[0]["name"] != "dashboards" || raw[0]["id"] != k.ID.String() {
			t.Fatalf("list %s, want the one key", res.body)
		}
		for field := range raw[0] {
			if field != "id" && field != "name" && field != "created_at" {
				t.Errorf("list carries %q: %s", field, res.body)
			}
		}
	}

	e.expectError(http.StatusConflict, "unique_violation", req{method: "POST", path: "/api/v1/read-only-paks", pak: e.admin,
		body: map[string]any{"name": "dashboards"}})
	e.expectError(http.StatusBadRequest, "invalid_read_only_pak", req{method: "POST", path: "/api/v1/read-only-paks",
		pak: e.admin, body: map[string]any{"name": "  "}})
	e.expectError(http.StatusUnprocessableEntity, "invalid_request_body", req{method: "POST", path: "/api/v1/read-only-paks",
		pak: e.admin, body: map[string]any{}})
	// A read-only key mints and revokes nothing, not even itself.
	e.expectError(http.StatusForbidden, "read_only", req{method: "POST", path: "/api/v1/read-only-paks", pak: k.PAK,
		body: map[string]any{"name": "more"}})
	e.expectError(http.StatusForbidden, "read_only", req{method: "DELETE", path: v1path("read-only-paks", k.ID), pak: k.PAK})
	// Neither do agents or generators.
	g := e.createGenerator("ro-gen")
	e.expectError(http.StatusForbidden, "admin_required", req{method: "GET", path: "/api/v1/read-only-paks", pak: g.pak})
	e.expectError(http.StatusForbidden, "admin_required", req{method: "POST", path: "/api/v1/read-only-paks", pak: a.pak,
		body: map[string]any{"name": "agent-made"}})

	e.must(http.StatusNoContent, req{method: "DELETE", path: v1path("read-only-paks", k.ID), pak: e.admin})
	e.expectError(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: v1path("agents", a.agent.ID), pak: k.PAK})
	e.expectError(http.StatusNotFound, "read_only_pak_not_found", req{method: "DELETE", path: v1path("read-only-paks", k.ID),
		pak: e.admin})
	var list []client.ReadOnlyPAK
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/read-only-paks", pak: e.admin}).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("list after revocation %+v", list)
	}
	// A revoked key's name is free again; the new key is another key.
	again := e.createReadOnlyPAK("dashboards")
	if again.ID == k.ID || again.PAK == k.PAK {
		t.Fatalf("re-created key %+v is the revoked one", again)
	}

	want := []string{"read_only_pak.created/read_only_pak/admin", "read_only_pak.revoked/read_only_pak/admin"}
	if got := e.readOnlyPAKAudit(k.ID); !slices.Equal(got, want) {
		t.Fatalf("audit of the key %v, want %v", got, want)
	}
}

// TestReadOnlyPAKRevocationCrossesReplicas: a read-only key cached and holding sockets on
// replica B is revoked through replica A: B refuses it at once (not after the cache TTL) and
// closes its fleet and stack live sockets. Before that, B's socket re-checks keep them open.
func TestReadOnlyPAKRevocationCrossesReplicas(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	wsEventually(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })

	f := a.liveFixture("ro-revoke")
	k := a.createReadOnlyPAK("on-call")
	other := a.createReadOnlyPAK("other")
	b.must(http.StatusOK, req{method: "GET", path: "/api/v1/fleet", pak: k.PAK}) // cached on b now
	fleet := mustDial(t, b.url, "/api/v1/fleet/live", k.PAK)
	tail := mustDial(t, b.url, stackLivePath(f.stack.ID), k.PAK)
	otherTail := mustDial(t, b.url, stackLivePath(f.stack.ID), other.PAK)
	processTail := mustDial(t, b.url, stackLivePath(f.stack.ID), b.srv.ReadOnlyPAK())
	if !b.srv.RunWorkerOnce(context.Background(), "socket-recheck") {
		t.Fatal("socket-recheck worker missing")
	}
	expectOpen(t, fleet, "the read-only key's fleet socket after a re-check")
	expectOpen(t, tail, "the read-only key's live tail after a re-check")

	a.must(http.StatusNoContent, req{method: "DELETE", path: v1path("read-only-paks", k.ID), pak: a.admin})
	expectRevoked(t, fleet, revokedWithin, "credentials revoked")
	expectRevoked(t, tail, revokedWithin, "credentials revoked")
	waitFor(t, "revoked key refused on the other replica", func() bool {
		return b.do(req{method: "GET", path: "/api/v1/fleet", pak: k.PAK}).status == http.StatusUnauthorized
	})
	expectOpen(t, otherTail, "another read-only key's tail")
	expectOpen(t, processTail, "the read-only admin key's tail")
	b.must(http.StatusOK, req{method: "GET", path: "/api/v1/fleet", pak: other.PAK})
}

// TestReadOnlyPAKResolution: socket re-checks and authentication resolve a read-only key to
// the same identity, and a revoked one to nobody.
func TestReadOnlyPAKResolution(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	k := e.createReadOnlyPAK("resolve")
	revoked := e.createReadOnlyPAK("resolve-revoked")
	e.must(http.StatusNoContent, req{method: "DELETE", path: v1path("read-only-paks", revoked.ID), pak: e.admin})
	hash := func(key string) string {
		h, err := pak.Hash(key)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	got, err := live.ResolveKeys(ctx, e.db, []string{hash(k.PAK), hash(revoked.PAK)})
	if err != nil {
		t.Fatal(err)
	}
	want, err := db.ResolvePAKHash(ctx, e.db, hash(k.PAK))
	if err != nil {
		t.Fatal(err)
	}
	if want != (db.Identity{ReadOnlyPAKID: k.ID}) || got[hash(k.PAK)] != want || len(got) != 1 {
		t.Fatalf("socket resolution %+v, authentication %+v, want the read-only key %s only", got, want, k.ID)
	}
	id, err := e.srv.ResolveForTest(ctx, k.PAK)
	if err != nil || !id.Admin || !id.ReadOnly || id.ReadOnlyPAKID != k.ID {
		t.Fatalf("identity %+v, %v", id, err)
	}
}
