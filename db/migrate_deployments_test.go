package db

import (
	"context"
	"testing"
)

// migCheckAgentDeployments migrates to the version before agent_deployments, records DEPLOY
// events, and checks that migration 18 fills agent_deployments from them (the object of each
// agent's latest DEPLOY event per stack) and that its trigger keeps it up to date afterwards:
// a later DEPLOY event moves it, another event type does not.
func migCheckAgentDeployments(t *testing.T, u string) {
	ctx := context.Background()
	migrateTo(t, u, 17)
	conn := migConnect(t, u)
	g := migInsertGenerator(t, conn, "g")
	s := migInsertStack(t, conn, g, "s")
	a := migInsertAgent(t, conn, "a", "c")
	v1 := migInsertObject(t, conn, s, "v1")
	v2 := migInsertObject(t, conn, s, "v2")
	event := func(obj, typ, status, at string) {
		migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, created_at)
			VALUES ($1, $2, $3, $4, $5::timestamptz)`, a, obj, typ, status, at)
	}
	event(v1, "DEPLOY", "SUCCESS", "2026-01-01T00:00:00Z")
	event(v2, "DEPLOY", "FAILURE", "2026-01-02T00:00:00Z")
	event(v1, "DRIFT", "DRIFTED", "2026-01-03T00:00:00Z")

	if err := MigrateUp(ctx, u, ""); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	has := func(want, wantStatus, when string) {
		t.Helper()
		var obj, status string
		migQueryRow(t, conn, `SELECT deployment_object_id::text, status FROM agent_deployments WHERE agent_id = $1 AND stack_id = $2`,
			[]any{a, s}, &obj, &status)
		if obj != want || status != wantStatus {
			t.Fatalf("%s: agent_deployments has %s %s, want %s %s", when, obj, status, want, wantStatus)
		}
	}
	has(v2, "FAILURE", "after the backfill")
	event(v1, "DEPLOY", "SUCCESS", "2026-01-04T00:00:00Z")
	has(v1, "SUCCESS", "after a newer DEPLOY event")
	event(v2, "DEPENDENCY", "WAITING", "2026-01-05T00:00:00Z")
	has(v1, "SUCCESS", "after an event of another type")
	event(v2, "DEPLOY", "SUCCESS", "2025-12-31T00:00:00Z")
	has(v1, "SUCCESS", "after a DEPLOY event older than the recorded one")
}
