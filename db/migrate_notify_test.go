package db

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// migCheckTargetStateNotify checks what the target-state triggers announce for each kind of
// change: exactly the payloads "public|<kind>:<id>" the brokers' caches act on.
func migCheckTargetStateNotify(t *testing.T, conn *pgx.Conn) {
	ctx := context.Background()
	gen := migInsertGenerator(t, conn, "gen-notify")
	stack := migInsertStack(t, conn, gen, "stack-notify")
	agent := migInsertAgent(t, conn, "agent-notify", "c")
	migExec(t, conn, `LISTEN brokkr_target_state`)
	defer migExec(t, conn, `UNLISTEN brokkr_target_state`)

	// received collects the notifications that arrive within a moment.
	received := func() []string {
		var out []string
		for {
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				return out
			}
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, n.Payload)
		}
	}
	const s, a, g = "public|s:", "public|a:", "public|g:"
	var object, event string
	cases := []struct {
		name string
		run  func()
		want []string
	}{
		{"deployment object", func() { object = migInsertObject(t, conn, stack, "a: 1") }, []string{s + stack}},
		{"agent label", func() { migExec(t, conn, `INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'l')`, agent) }, []string{a + agent}},
		{"agent annotation", func() {
			migExec(t, conn, `INSERT INTO agent_annotations (agent_id, key, value) VALUES ($1, 'k', 'v')`, agent)
		}, []string{a + agent}},
		{"target", func() {
			migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, agent, stack)
		}, []string{a + agent}},
		{"registration", func() {
			migExec(t, conn, `INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)`, agent, gen)
		}, []string{a + agent}},
		{"event", func() {
			migQueryRow(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status)
				VALUES ($1, $2, 'DEPLOY', 'SUCCESS') RETURNING id`, []any{agent, object}, &event)
		}, []string{a + agent}},
		{"event deleted", func() { migExec(t, conn, `DELETE FROM agent_events WHERE id = $1`, event) }, []string{a + agent}},
		{"stack label", func() { migExec(t, conn, `INSERT INTO stack_labels (stack_id, label) VALUES ($1, 'l')`, stack) }, []string{g}},
		{"stack annotation", func() {
			migExec(t, conn, `INSERT INTO stack_annotations (stack_id, key, value) VALUES ($1, 'k', 'v')`, stack)
		}, []string{g}},
		{"unrelated stack update", func() { migExec(t, conn, `UPDATE stacks SET description = 'd' WHERE id = $1`, stack) }, nil},
		{"heartbeat", func() { migExec(t, conn, `UPDATE agents SET last_heartbeat = now() WHERE id = $1`, agent) }, nil},
		// Soft-deleting the stack retires its objects and appends a deletion marker.
		{"stack soft-deleted", func() { migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack) }, []string{g, s + stack}},
		{"agent soft-deleted", func() { migExec(t, conn, `UPDATE agents SET deleted_at = now() WHERE id = $1`, agent) }, []string{a + agent}},
	}
	received()
	for _, c := range cases {
		c.run()
		got := received()
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: notifications %q, want %q", c.name, got, c.want)
		}
	}
}
