package server_test

import (
	"net/http"
	"testing"

	"github.com/brokkr/brokkr/client"
)

func TestVerifyPAK(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("ci")
	a := e.createAgent("a1", "c1")

	var got client.AuthResponse
	e.must(200, req{method: "POST", path: "/api/v1/auth/pak", pak: e.admin}).decode(t, &got)
	if !got.Admin || got.ReadOnly || got.Agent != nil || got.Generator != nil {
		t.Fatalf("admin: %+v", got)
	}
	got = client.AuthResponse{}
	e.must(200, req{method: "POST", path: "/api/v1/auth/pak", pak: a.pak}).decode(t, &got)
	if got.Admin || got.Agent == nil || *got.Agent != a.agent.ID {
		t.Fatalf("agent: %+v", got)
	}
	got = client.AuthResponse{}
	e.must(200, req{method: "POST", path: "/api/v1/auth/pak", pak: g.pak}).decode(t, &got)
	if got.Admin || got.Generator == nil || *got.Generator != g.gen.ID {
		t.Fatalf("generator: %+v", got)
	}
	got = client.AuthResponse{}
	e.must(200, req{method: "POST", path: "/api/v1/auth/pak", pak: e.srv.ReadOnlyPAK()}).decode(t, &got)
	if !got.Admin || !got.ReadOnly {
		t.Fatalf("read-only: %+v", got)
	}
}

func TestAuthHeaderForms(t *testing.T) {
	e := newEnv(t)
	for name, header := range map[string]string{
		"bare":             e.admin,
		"bearer":           "Bearer " + e.admin,
		"lowercase bearer": "bearer " + e.admin,
		"padded":           "  Bearer " + e.admin + "  ",
	} {
		t.Run(name, func(t *testing.T) {
			e.must(200, req{method: "GET", path: "/api/v1/agents", headers: map[string]string{"Authorization": header}})
		})
	}
	for name, header := range map[string]string{
		"missing":        "",
		"two parts":      "brokkr_abc",
		"four parts":     "a_b_c_d",
		"unknown key":    "brokkr_BR123456_doesnotexist",
		"bearer only":    "Bearer",
		"non ascii":      "brokkr_é_x",
		"wrong long key": e.admin + "x",
	} {
		t.Run("reject "+name, func(t *testing.T) {
			h := map[string]string{}
			if header != "" {
				h["Authorization"] = header
			}
			e.expectError(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: "/api/v1/agents", headers: h})
		})
	}
}

func TestOnlyLongTokenAuthenticates(t *testing.T) {
	e := newEnv(t)
	// The prefix and short token are not checked; only the long token is.
	parts := splitPAK(t, e.admin)
	e.must(200, req{method: "GET", path: "/api/v1/agents", pak: "other_XXXXXXXX_" + parts[2]})
}

func splitPAK(t *testing.T, key string) [3]string {
	t.Helper()
	var out [3]string
	i, n := 0, 0
	for j := 0; j < len(key); j++ {
		if key[j] == '_' {
			out[n] = key[i:j]
			n++
			i = j + 1
		}
	}
	out[n] = key[i:]
	if n != 2 {
		t.Fatalf("not a PAK: %q", key)
	}
	return out
}

func TestReadOnlyKey(t *testing.T) {
	e := newEnv(t)
	ro := e.srv.ReadOnlyPAK()
	e.must(200, req{method: "GET", path: "/api/v1/agents", pak: ro})
	e.must(200, req{method: "GET", path: "/api/v1/paks", pak: ro})
	e.expectError(http.StatusForbidden, "read_only", req{method: "POST", path: "/api/v1/generators", pak: ro, body: map[string]any{"name": "x"}})
	e.expectError(http.StatusForbidden, "read_only", req{method: "DELETE", path: "/api/v1/agents/00000000-0000-0000-0000-000000000001", pak: ro})
}

func TestRotatedAndDeletedKeysStopWorking(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a1", "c1")
	// Warm the auth cache, then rotate: the old key must fail at once, the new one work.
	e.must(200, req{method: "GET", path: "/api/v1/agents/" + a.agent.ID.String(), pak: a.pak})
	var rot client.RotateAgentPAKResponse
	e.must(200, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/rotate-pak", pak: a.pak}).decode(t, &rot)
	if rot.PAK == "" || rot.PAK == a.pak || rot.Agent.ID != a.agent.ID {
		t.Fatalf("rotate: %+v", rot)
	}
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/agents/" + a.agent.ID.String(), pak: a.pak})
	e.must(200, req{method: "GET", path: "/api/v1/agents/" + a.agent.ID.String(), pak: rot.PAK})

	g := e.createGenerator("ci")
	e.must(200, req{method: "GET", path: "/api/v1/generators/" + g.gen.ID.String(), pak: g.pak})
	var grot client.GeneratorPAKResponse
	e.must(201, req{method: "POST", path: "/api/v1/generators/" + g.gen.ID.String() + "/rotate-pak", pak: g.pak}).decode(t, &grot)
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/generators/" + g.gen.ID.String(), pak: g.pak})
	e.must(200, req{method: "GET", path: "/api/v1/generators/" + g.gen.ID.String(), pak: grot.PAK})

	e.must(204, req{method: "DELETE", path: "/api/v1/agents/" + a.agent.ID.String(), pak: e.admin})
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/agents/" + a.agent.ID.String(), pak: rot.PAK})
	e.must(204, req{method: "DELETE", path: "/api/v1/generators/" + g.gen.ID.String(), pak: e.admin})
	e.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/stacks", pak: grot.PAK})
}

func TestListPAKs(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("ci")
	var got []client.PakSummary
	e.must(200, req{method: "GET", path: "/api/v1/paks", pak: e.admin}).decode(t, &got)
	names := map[string]bool{}
	for _, p := range got {
		names[p.Name] = true
	}
	if !names["ci"] || !names["admin-generator"] || names["__system__"] {
		t.Fatalf("paks: %+v", got)
	}
	e.expectError(403, "admin_required", req{method: "GET", path: "/api/v1/paks", pak: g.pak})
}
