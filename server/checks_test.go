package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// withT returns a copy of e that reports to t, for use inside subtests.
func (e *env) withT(t testing.TB) *env {
	c := *e
	c.t = t
	return &c
}

// v1path joins segments under /api/v1, e.g. v1path("agents", id, "labels").
func v1path(segments ...any) string {
	var b strings.Builder
	b.WriteString("/api/v1")
	for _, s := range segments {
		fmt.Fprint(&b, "/", s)
	}
	return b.String()
}

// jsonObject decodes a response body that must be a JSON object.
func jsonObject(t testing.TB, r resp) map[string]any {
	t.Helper()
	var m map[string]any
	r.decode(t, &m)
	return m
}

// requireNull fails unless every key is present in obj with an explicit JSON null.
func requireNull(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		v, ok := obj[k]
		if !ok {
			t.Errorf("field %q is omitted, want explicit null (object %v)", k, obj)
		} else if v != nil {
			t.Errorf("field %q = %v, want null", k, v)
		}
	}
}

// requireUTC fails unless every key holds an RFC 3339 timestamp string ending in Z.
func requireUTC(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		s, ok := obj[k].(string)
		if !ok {
			t.Errorf("field %q = %v, want a timestamp string", k, obj[k])
			continue
		}
		if !strings.HasSuffix(s, "Z") {
			t.Errorf("field %q = %q, want a UTC timestamp ending in Z", k, s)
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
			t.Errorf("field %q: %v", k, err)
		}
	}
}

// requireAbsent fails when obj has any of the keys.
func requireAbsent(t testing.TB, obj map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := obj[k]; ok {
			t.Errorf("field %q must not be part of the object %v", k, obj)
		}
	}
}

// errorDetail returns details[key] of a JSON error body as a string ("" when absent).
func errorDetail(t testing.TB, r resp, key string) string {
	t.Helper()
	var b client.ErrorBody
	r.decode(t, &b)
	if b.Message == "" {
		t.Errorf("error body without message: %s", r.body)
	}
	v, ok := b.Details[key]
	if !ok {
		return ""
	}
	return fmt.Sprint(v)
}

// expectConstraint checks a 409 unique_violation naming the constraint.
func (e *env) expectConstraint(constraint string, r req) {
	e.t.Helper()
	got := e.expectError(http.StatusConflict, "unique_violation", r)
	if c := errorDetail(e.t, got, "constraint"); c != constraint {
		e.t.Fatalf("%s %s: constraint %q, want %q; body %s", r.method, r.path, c, constraint, got.body)
	}
}

// expectField checks a 422 invalid_request_body naming the offending field.
func (e *env) expectField(field string, r req) {
	e.t.Helper()
	got := e.expectError(http.StatusUnprocessableEntity, "invalid_request_body", r)
	if f := errorDetail(e.t, got, "field"); f != field {
		e.t.Fatalf("%s %s: details.field %q, want %q; body %s", r.method, r.path, f, field, got.body)
	}
}

// getAgent fetches an agent as the admin.
func (e *env) getAgent(id uuid.UUID) client.Agent {
	e.t.Helper()
	var a client.Agent
	e.must(200, req{method: "GET", path: v1path("agents", id), pak: e.admin}).decode(e.t, &a)
	return a
}

// registrationsOf lists an agent's registrations as the admin, as generator ids.
func (e *env) registrationsOf(agent uuid.UUID) []uuid.UUID {
	e.t.Helper()
	var regs []client.AgentGeneratorRegistration
	e.must(200, req{method: "GET", path: v1path("agents", agent, "registrations"), pak: e.admin}).decode(e.t, &regs)
	out := make([]uuid.UUID, 0, len(regs))
	for _, r := range regs {
		if r.AgentID != agent {
			e.t.Fatalf("registration %+v listed for agent %s", r, agent)
		}
		out = append(out, r.GeneratorID)
	}
	return out
}

// systemGeneratorID finds the __system__ generator through an agent's registrations.
func (e *env) systemGeneratorID(agent uuid.UUID) uuid.UUID {
	e.t.Helper()
	for _, g := range e.registrationsOf(agent) {
		var gen client.Generator
		e.must(200, req{method: "GET", path: v1path("generators", g), pak: e.admin}).decode(e.t, &gen)
		if gen.IsSystem {
			if gen.Name != "__system__" {
				e.t.Fatalf("system generator named %q", gen.Name)
			}
			return g
		}
	}
	e.t.Fatalf("agent %s is not registered with the system generator", agent)
	return uuid.Nil
}

func sameIDs(got, want []uuid.UUID) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	cmp := func(x, y uuid.UUID) int { return strings.Compare(x.String(), y.String()) }
	slices.SortFunc(a, cmp)
	slices.SortFunc(b, cmp)
	return slices.Equal(a, b)
}

func agentIDs(agents []client.Agent) []uuid.UUID {
	out := make([]uuid.UUID, len(agents))
	for i, a := range agents {
		out[i] = a.ID
	}
	return out
}

// Tests.
