package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/brokkr/brokkr/client"
)

// BenchmarkRolloutStep measures one step of a rollout over 1,000 agents in three waves, all
// of the first wave applied: what every replica does every broker.rollout_interval_seconds
// per rollout under way, and after agents' reports.
func BenchmarkRolloutStep(b *testing.B) {
	e := newEnv(b)
	ctx := context.Background()
	g := e.createGenerator("bench")
	st := e.createStack("bench", g.gen.ID, g.pak)
	e.addStackLabel(st.ID, "fleet")
	seed := []string{
		`INSERT INTO agents (name, cluster_name, pak_hash) SELECT 'agent-' || i, 'bench', md5(i::text) FROM generate_series(1, 1000) i`,
		`INSERT INTO agent_labels (agent_id, label) SELECT id, 'fleet' FROM agents`,
		`INSERT INTO agent_labels (agent_id, label)
			SELECT id, 'wave-' || (row_number() OVER (ORDER BY name)) % 3 FROM agents`,
		`INSERT INTO agent_generator_registrations (agent_id, generator_id) SELECT id, $1 FROM agents`,
		`ANALYZE`,
	}
	for i, q := range seed {
		var args []any
		if i == 3 {
			args = append(args, g.gen.ID)
		}
		if _, err := e.db.ExecContext(ctx, q, args...); err != nil {
			b.Fatal(err)
		}
	}
	var waves []map[string]any
	for w := range 3 {
		waves = append(waves, map[string]any{"name": fmt.Sprint("w", w), "selector": map[string]any{"labels": []string{fmt.Sprint("wave-", w)}}})
	}
	e.must(200, req{method: "PUT", path: v1path("stacks", st.ID, "rollout-policy"), pak: g.pak,
		body: map[string]any{"waves": waves, "pause": "manual"}})
	obj := e.createObject(st.ID, g.pak, cmYAML)
	if _, err := e.db.ExecContext(ctx, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status)
		SELECT agent_id, $1, 'DEPLOY', 'SUCCESS' FROM rollout_agents`, obj.ID); err != nil {
		b.Fatal(err)
	}
	e.srv.RunWorkerOnce(ctx, "rollout-controller")
	var r client.Rollout
	e.must(200, req{method: "GET", path: v1path("stacks", st.ID, "rollout"), pak: g.pak}).decode(b, &r)
	if r.Status != client.RolloutWaiting || len(r.Agents) != 1000 || r.Waves[0].Passed != 333 {
		b.Fatalf("rollout %s with %d agents, wave 0 %+v", r.Status, len(r.Agents), r.Waves[0])
	}
	b.ReportAllocs()
	for b.Loop() {
		if !e.srv.RunWorkerOnce(ctx, "rollout-controller") {
			b.Fatal("the controller did not run")
		}
	}
}
