package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
)

// BenchmarkPAKVerification measures resolving an Authorization header to an identity, with
// the auth cache (the steady state of a polling agent) and without it (every call reads
// PostgreSQL through the partial pak_hash indexes).
func BenchmarkPAKVerification(b *testing.B) {
	for _, tc := range []struct {
		name string
		ttl  int
	}{{"cached", 60}, {"uncached", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			e := newEnv(b, func(c *config.Broker) { c.Broker.AuthCacheTTLSeconds = tc.ttl })
			// A realistic table: 1,000 agents, the caller among them.
			for i := 0; i < 999; i++ {
				if _, err := db.CreateAgent(context.Background(), e.db, fmt.Sprintf("agent-%d", i), "bench", fmt.Sprintf("%064x", i)); err != nil {
					b.Fatal(err)
				}
			}
			a := e.createAgent("caller", "bench")
			header := "Bearer " + a.pak
			ctx := context.Background()
			if _, err := e.srv.ResolveForTest(ctx, header); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				id, err := e.srv.ResolveForTest(ctx, header)
				if err != nil || id.AgentID != a.agent.ID {
					b.Fatalf("resolve: %+v %v", id, err)
				}
			}
		})
	}
}

// BenchmarkTargetState measures target-state for an agent whose labels match 100 of 10,000
// stacks (each stack with two deployment objects), through the store and over HTTP.
func BenchmarkTargetState(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	g := e.createGenerator("bench")
	a := e.createAgent("bench-agent", "bench", g.gen.ID)
	e.must(201, req{method: "POST", path: "/api/v1/agents/" + a.agent.ID.String() + "/labels", pak: e.admin,
		body: map[string]any{"agent_id": a.agent.ID, "label": "team:bench"}})
	seed := []string{
		`INSERT INTO stacks (name, generator_id) SELECT 'stack-' || i, $1 FROM generate_series(1, 10000) i`,
		`INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
			SELECT s.id, 'kind: ConfigMap # ' || v, md5(s.id::text || v) FROM stacks s, generate_series(1, 2) v ORDER BY v`,
		`INSERT INTO stack_labels (stack_id, label) SELECT id, 'team:other' FROM stacks`,
		`INSERT INTO stack_labels (stack_id, label) SELECT id, 'team:bench' FROM stacks ORDER BY name LIMIT 100`,
		`ANALYZE`,
	}
	for i, q := range seed {
		var args []any
		if i == 0 {
			args = append(args, g.gen.ID)
		}
		if _, err := e.db.ExecContext(ctx, q, args...); err != nil {
			b.Fatalf("seed: %v", err)
		}
	}
	objs, err := db.TargetState(ctx, e.db, a.agent.ID, true)
	if err != nil || len(objs) != 100 {
		b.Fatalf("target state: %d objects, %v", len(objs), err)
	}
	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := db.TargetState(ctx, e.db, a.agent.ID, true); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http", func(b *testing.B) {
		// A plain client: the response validator of the tests is not part of the measurement.
		r, err := http.NewRequest("GET", e.url+"/api/v1/agents/"+a.agent.ID.String()+"/target-state", nil)
		if err != nil {
			b.Fatal(err)
		}
		r.Header.Set("Authorization", "Bearer "+a.pak)
		b.ReportAllocs()
		for b.Loop() {
			res, err := http.DefaultClient.Do(r)
			if err != nil {
				b.Fatal(err)
			}
			n, _ := io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || n < 1000 {
				b.Fatalf("target-state: %d, %d bytes", res.StatusCode, n)
			}
		}
	})
}
