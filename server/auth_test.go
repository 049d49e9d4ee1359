package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/pak"
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

// TestReadOnlyKeyCannotClaimWebhookDeliveries: GET /agents/{id}/webhooks/pending claims the
// agent's deliveries and answers their decrypted URLs and auth headers, so the read-only key
// is refused (403 read_only) and the delivery stays for the agent.
func TestReadOnlyKeyCannotClaimWebhookDeliveries(t *testing.T) {
	e := newEnv(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(hook.Close)
	g := e.createGenerator("ci")
	a := e.createAgent("a1", "c1", g.gen.ID)
	st := e.createStack("web", g.gen.ID, g.pak)
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/labels", pak: e.admin,
		body: map[string]any{"agent_id": a.agent.ID, "label": "hooks"}})
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/webhooks", pak: e.admin,
		body: map[string]any{"name": "h", "url": hook.URL + "/secret-token", "auth_header": "Bearer hook-secret",
			"event_types": []string{"deployment.created"}, "target_labels": []string{"hooks"}}})
	e.createObject(st.ID, g.pak, cmYAML)

	path := "/api/v1/agents/" + a.agent.ID.String() + "/webhooks/pending"
	res := e.expectError(http.StatusForbidden, "read_only", req{method: "GET", path: path, pak: e.srv.ReadOnlyPAK()})
	if strings.Contains(string(res.body), "secret-token") || strings.Contains(string(res.body), "hook-secret") {
		t.Fatalf("refusal reveals a secret: %s", res.body)
	}
	var pending []client.PendingWebhookDelivery
	e.must(http.StatusOK, req{method: "GET", path: path, pak: a.pak}).decode(t, &pending)
	if len(pending) != 1 || pending[0].URL != hook.URL+"/secret-token" {
		t.Fatalf("the agent got %+v, want the one delivery the read-only key must not have claimed", pending)
	}
}

// TestRevokedPAKCannotReenterTheAuthCache: a request whose PAK lookup found the key valid,
// with the key revoked (and evicted from the cache) before the lookup's answer was cached,
// must not put the revoked key back in the cache: the next request with it is refused. The
// interleaving is forced with a hook between the lookup and the cache insert.
func TestRevokedPAKCannotReenterTheAuthCache(t *testing.T) {
	e := newEnv(t) // the auth cache keeps resolutions for 60 s
	a := e.createAgent("a1", "c1")
	g := e.createGenerator("ci")
	agentPath := "/api/v1/agents/" + a.agent.ID.String()
	genPath := "/api/v1/generators/" + g.gen.ID.String()
	for _, tc := range []struct {
		name, key, probe string
		revoke           func(e *env)
	}{
		{"agent rotation", a.pak, agentPath,
			func(e *env) {
				e.must(http.StatusOK, req{method: "POST", path: agentPath + "/rotate-pak", pak: e.admin})
			}},
		{"generator deletion", g.pak, genPath,
			func(e *env) { e.must(http.StatusNoContent, req{method: "DELETE", path: genPath, pak: e.admin}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.authzView(t)
			parsed, err := pak.FromHeader("Bearer " + tc.key)
			if err != nil {
				t.Fatal(err)
			}
			hash, err := pak.Hash(parsed)
			if err != nil {
				t.Fatal(err)
			}
			found, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			e.srv.SetPAKLookupHookForTest(func(h string) {
				if h == hash {
					once.Do(func() {
						close(found)
						<-release
					})
				}
			})
			t.Cleanup(func() { e.srv.SetPAKLookupHookForTest(nil) })

			// The request in flight: its lookup finds the key valid and waits in the hook.
			status := make(chan int, 1)
			go func() {
				r, _ := http.NewRequest(http.MethodGet, e.url+tc.probe, nil)
				r.Header.Set("Authorization", "Bearer "+tc.key)
				res, err := http.DefaultClient.Do(r)
				if err != nil {
					status <- 0
					return
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
				status <- res.StatusCode
			}()
			<-found
			tc.revoke(e) // commits the revocation and evicts the hash
			close(release)
			// It was authenticated before the revocation; what the handler then finds is
			// not the point (a deleted generator is not found).
			if got := <-status; got == 0 || got == http.StatusUnauthorized {
				t.Fatalf("the request authenticated before the revocation got %d", got)
			}
			e.expectError(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: tc.probe, pak: tc.key})
		})
	}
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
