package db

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// unique indexes on a migrated database.
func migCheckTriggers(t *testing.T, conn *pgx.Conn) {
	ctx := context.Background()

	t.Run("StackSoftDeleteInsertsOneMarker", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-stack-soft")
		stack := migInsertStack(t, conn, gen, "stack-soft")
		other := migInsertStack(t, conn, gen, "stack-soft-other")
		o1 := migInsertObject(t, conn, stack, "a: 1")
		o2 := migInsertObject(t, conn, stack, "a: 2")
		otherObj := migInsertObject(t, conn, other, "b: 1")

		var deletedAt time.Time
		migQueryRow(t, conn, `UPDATE stacks SET deleted_at = now() - interval '1 minute' WHERE id = $1 RETURNING deleted_at`, []any{stack}, &deletedAt)

		for _, id := range []string{o1, o2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM deployment_objects WHERE id = $1`, []any{id}, &d)
			if d == nil || !d.Equal(deletedAt) {
				t.Errorf("object %s deleted_at = %v, want %v", id, d, deletedAt)
			}
		}
		var d *time.Time
		migQueryRow(t, conn, `SELECT deleted_at FROM deployment_objects WHERE id = $1`, []any{otherObj}, &d)
		if d != nil {
			t.Errorf("object of another stack was soft-deleted")
		}

		type marker struct {
			yaml, checksum string
			submitted      time.Time
			deleted        *time.Time
			seq            int64
		}
		readMarkers := func() []marker {
			rows, err := conn.Query(ctx, `SELECT yaml_content, yaml_checksum, submitted_at, deleted_at, sequence_id
				FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker`, stack)
			if err != nil {
				t.Fatal(err)
			}
			var out []marker
			for rows.Next() {
				var m marker
				if err := rows.Scan(&m.yaml, &m.checksum, &m.submitted, &m.deleted, &m.seq); err != nil {
					t.Fatal(err)
				}
				out = append(out, m)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
		markers := readMarkers()
		if len(markers) != 1 {
			t.Fatalf("%d deletion markers, want 1", len(markers))
		}
		mk := markers[0]
		if mk.yaml != "" || mk.checksum != migMD5Empty || !mk.submitted.Equal(deletedAt) || mk.deleted != nil {
			t.Errorf("marker = %+v; want empty yaml, checksum %s, submitted_at %v, live", mk, migMD5Empty, deletedAt)
		}
		var maxSeq int64
		migQueryRow(t, conn, `SELECT max(sequence_id) FROM deployment_objects WHERE stack_id = $1`, []any{stack}, &maxSeq)
		if mk.seq != maxSeq {
			t.Errorf("marker sequence %d is not the stack's newest (%d)", mk.seq, maxSeq)
		}

		// Further updates of a deleted stack add no marker.
		migExec(t, conn, `UPDATE stacks SET description = 'x' WHERE id = $1`, stack)
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		if n := len(readMarkers()); n != 1 {
			t.Errorf("%d deletion markers after more updates, want 1", n)
		}
	})

	t.Run("DeploymentObjectsAreImmutable", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-immutable")
		stack := migInsertStack(t, conn, gen, "stack-immutable")
		obj := migInsertObject(t, conn, stack, "c: 1")

		for _, stmt := range []string{
			`UPDATE deployment_objects SET yaml_content = 'c: 2' WHERE id = $1`,
			`UPDATE deployment_objects SET yaml_checksum = 'x' WHERE id = $1`,
			`UPDATE deployment_objects SET is_deletion_marker = TRUE WHERE id = $1`,
		} {
			_, err := conn.Exec(ctx, stmt, obj)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != "P0001" {
				t.Errorf("%s: err = %v, want a raised exception", stmt, err)
			}
		}
		var yaml string
		migQueryRow(t, conn, `SELECT yaml_content FROM deployment_objects WHERE id = $1`, []any{obj}, &yaml)
		if yaml != "c: 1" {
			t.Errorf("yaml_content changed to %q", yaml)
		}

		// Soft delete is allowed; a second change of a deleted object is not.
		migExec(t, conn, `UPDATE deployment_objects SET deleted_at = now() WHERE id = $1`, obj)
		if _, err := conn.Exec(ctx, `UPDATE deployment_objects SET deleted_at = NULL WHERE id = $1`, obj); err == nil {
			t.Error("un-deleting a deployment object succeeded")
		}

		// Deletion markers may be updated.
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		var marker string
		migQueryRow(t, conn, `SELECT id FROM deployment_objects WHERE stack_id = $1 AND is_deletion_marker`, []any{stack}, &marker)
		migExec(t, conn, `UPDATE deployment_objects SET submitted_at = now() WHERE id = $1`, marker)

		// Hard deletes are allowed.
		migExec(t, conn, `DELETE FROM deployment_objects WHERE id = $1`, obj)
	})

	t.Run("GeneratorSoftDeleteCascades", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-cascade")
		keep := migInsertGenerator(t, conn, "gen-keep")
		s1 := migInsertStack(t, conn, gen, "cascade-s1")
		s2 := migInsertStack(t, conn, gen, "cascade-s2")
		sKeep := migInsertStack(t, conn, keep, "cascade-keep")
		migInsertObject(t, conn, s1, "x: 1")
		migInsertObject(t, conn, s1, "x: 2")
		migInsertObject(t, conn, s2, "y: 1")
		keepObj := migInsertObject(t, conn, sKeep, "z: 1")
		t1 := migInsertTemplate(t, conn, &gen, "tpl-cascade", 1)
		t2 := migInsertTemplate(t, conn, &gen, "tpl-cascade", 2)
		tOld := migInsertTemplate(t, conn, &gen, "tpl-cascade-old", 1)
		var oldDeleted time.Time
		migQueryRow(t, conn, `UPDATE stack_templates SET deleted_at = now() - interval '1 day' WHERE id = $1 RETURNING deleted_at`, []any{tOld}, &oldDeleted)
		tKeep := migInsertTemplate(t, conn, &keep, "tpl-keep", 1)
		tSystem := migInsertTemplate(t, conn, nil, "tpl-system-cascade", 1)

		var genDeleted time.Time
		migQueryRow(t, conn, `UPDATE generators SET deleted_at = now() - interval '1 hour' WHERE id = $1 RETURNING deleted_at`, []any{gen}, &genDeleted)

		for _, s := range []string{s1, s2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM stacks WHERE id = $1`, []any{s}, &d)
			if d == nil || !d.Equal(genDeleted) {
				t.Errorf("stack %s deleted_at = %v, want %v", s, d, genDeleted)
			}
			var markers, live int
			migQueryRow(t, conn, `SELECT count(*) FILTER (WHERE is_deletion_marker), count(*) FILTER (WHERE deleted_at IS NULL)
				FROM deployment_objects WHERE stack_id = $1`, []any{s}, &markers, &live)
			if markers != 1 {
				t.Errorf("stack %s has %d deletion markers, want 1", s, markers)
			}
			if live != 0 {
				t.Errorf("stack %s has %d live objects after the generator was deleted", s, live)
			}
		}
		for _, tpl := range []string{t1, t2} {
			var d *time.Time
			migQueryRow(t, conn, `SELECT deleted_at FROM stack_templates WHERE id = $1`, []any{tpl}, &d)
			if d == nil || !d.Equal(genDeleted) {
				t.Errorf("template %s deleted_at = %v, want %v", tpl, d, genDeleted)
			}
		}
		var d *time.Time
		migQueryRow(t, conn, `SELECT deleted_at FROM stack_templates WHERE id = $1`, []any{tOld}, &d)
		if d == nil || !d.Equal(oldDeleted) {
			t.Errorf("already deleted template: deleted_at = %v, want unchanged %v", d, oldDeleted)
		}
		for _, q := range []struct{ sql, id string }{
			{`SELECT deleted_at FROM stacks WHERE id = $1`, sKeep},
			{`SELECT deleted_at FROM deployment_objects WHERE id = $1`, keepObj},
			{`SELECT deleted_at FROM stack_templates WHERE id = $1`, tKeep},
			{`SELECT deleted_at FROM stack_templates WHERE id = $1`, tSystem},
		} {
			var d *time.Time
			migQueryRow(t, conn, q.sql, []any{q.id}, &d)
			if d != nil {
				t.Errorf("%s (%s): soft-deleted by another generator's cascade", q.sql, q.id)
			}
		}
	})

	t.Run("AgentSoftDeleteCascadesToEvents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-agent-soft")
		stack := migInsertStack(t, conn, gen, "stack-agent-soft")
		obj := migInsertObject(t, conn, stack, "e: 1")
		a := migInsertAgent(t, conn, "agent-soft", "cl")
		b := migInsertAgent(t, conn, "agent-soft-other", "cl")
		for _, ag := range []string{a, a, b} {
			migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, ag, obj)
		}
		var deletedAt time.Time
		migQueryRow(t, conn, `UPDATE agents SET deleted_at = now() WHERE id = $1 RETURNING deleted_at`, []any{a}, &deletedAt)
		var matching, otherLive int
		migQueryRow(t, conn, `SELECT count(*) FROM agent_events WHERE agent_id = $1 AND deleted_at = $2`, []any{a, deletedAt}, &matching)
		migQueryRow(t, conn, `SELECT count(*) FROM agent_events WHERE agent_id = $1 AND deleted_at IS NULL`, []any{b}, &otherLive)
		if matching != 2 || otherLive != 1 {
			t.Errorf("events soft-deleted with the agent: %d (want 2); other agent's live events: %d (want 1)", matching, otherLive)
		}
	})

	t.Run("StackHardDeleteRemovesDependents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-hard")
		stack := migInsertStack(t, conn, gen, "stack-hard")
		obj := migInsertObject(t, conn, stack, "h: 1")
		agent := migInsertAgent(t, conn, "agent-hard", "cl")
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, agent, stack)
		migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, agent, obj)
		migExec(t, conn, `INSERT INTO deployment_health (agent_id, deployment_object_id, status, checked_at) VALUES ($1, $2, 'healthy', now())`, agent, obj)
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, stack)
		migExec(t, conn, `DELETE FROM stacks WHERE id = $1`, stack)
		var n int
		migQueryRow(t, conn, `SELECT (SELECT count(*) FROM deployment_objects WHERE stack_id = $1)
			+ (SELECT count(*) FROM agent_targets WHERE stack_id = $1)
			+ (SELECT count(*) FROM agent_events WHERE deployment_object_id = $2)
			+ (SELECT count(*) FROM deployment_health WHERE deployment_object_id = $2)`, []any{stack, obj}, &n)
		if n != 0 {
			t.Errorf("%d dependent rows left after the stack was hard-deleted", n)
		}

		// A generator still owning a (soft-deleted) stack cannot be removed.
		s2 := migInsertStack(t, conn, gen, "stack-hard-2")
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, s2)
		_, err := conn.Exec(ctx, `DELETE FROM generators WHERE id = $1`, gen)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "stacks_generator_id_fkey" {
			t.Errorf("deleting a generator with stacks: %v, want FK violation stacks_generator_id_fkey", err)
		}
	})

	t.Run("AgentHardDeleteRemovesDependents", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-agent-hard")
		stack := migInsertStack(t, conn, gen, "stack-agent-hard")
		obj := migInsertObject(t, conn, stack, "ah: 1")
		agent := migInsertAgent(t, conn, "agent-hard-del", "cl")
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, agent, stack)
		migExec(t, conn, `INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status) VALUES ($1, $2, 'DEPLOY', 'SUCCESS')`, agent, obj)
		migExec(t, conn, `INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'env')`, agent)
		migExec(t, conn, `INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)`, agent, gen)
		migExec(t, conn, `DELETE FROM agents WHERE id = $1`, agent)
		var n int
		migQueryRow(t, conn, `SELECT (SELECT count(*) FROM agent_targets WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_events WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_labels WHERE agent_id = $1)
			+ (SELECT count(*) FROM agent_generator_registrations WHERE agent_id = $1)`, []any{agent}, &n)
		if n != 0 {
			t.Errorf("%d dependent rows left after the agent was hard-deleted", n)
		}
	})

	t.Run("AdminRoleCannotBeDeleted", func(t *testing.T) {
		var id string
		migQueryRow(t, conn, `INSERT INTO admin_role (pak_hash) VALUES ('h') RETURNING id`, nil, &id)
		if _, err := conn.Exec(ctx, `DELETE FROM admin_role WHERE id = $1`, id); err == nil {
			t.Fatal("deleting the admin role succeeded")
		}
		var n int
		migQueryRow(t, conn, `SELECT count(*) FROM admin_role WHERE id = $1`, []any{id}, &n)
		if n != 1 {
			t.Fatal("admin role row is gone")
		}
	})

	t.Run("UpdatedAtIsMaintained", func(t *testing.T) {
		id := migInsertAgent(t, conn, "agent-ts", "cl")
		migExec(t, conn, `UPDATE agents SET updated_at = '2000-01-01T00:00:00Z' WHERE id = $1`, id)
		var updated time.Time
		migQueryRow(t, conn, `UPDATE agents SET status = 'ACTIVE' WHERE id = $1 RETURNING updated_at`, []any{id}, &updated)
		if time.Since(updated) > time.Hour {
			t.Errorf("updated_at = %v, not refreshed", updated)
		}
	})

	t.Run("PartialUniqueAgentCluster", func(t *testing.T) {
		first := migInsertAgent(t, conn, "dup-agent", "dup-cluster")
		_, err := conn.Exec(ctx, `INSERT INTO agents (name, cluster_name) VALUES ('dup-agent', 'dup-cluster')`)
		migAssertUnique(t, err, "unique_agent_cluster")
		// Same name on another cluster is fine.
		migInsertAgent(t, conn, "dup-agent", "other-cluster")
		// After a soft delete the name can be reused, once.
		migExec(t, conn, `UPDATE agents SET deleted_at = now() WHERE id = $1`, first)
		migInsertAgent(t, conn, "dup-agent", "dup-cluster")
		_, err = conn.Exec(ctx, `INSERT INTO agents (name, cluster_name) VALUES ('dup-agent', 'dup-cluster')`)
		migAssertUnique(t, err, "unique_agent_cluster")
	})

	t.Run("PartialUniqueStackAndGeneratorNames", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "dup-gen")
		_, err := conn.Exec(ctx, `INSERT INTO generators (name) VALUES ('dup-gen')`)
		migAssertUnique(t, err, "unique_generator_name")

		s := migInsertStack(t, conn, gen, "dup-stack")
		_, err = conn.Exec(ctx, `INSERT INTO stacks (name, generator_id) VALUES ('dup-stack', $1)`, gen)
		migAssertUnique(t, err, "unique_stack_name")
		migExec(t, conn, `UPDATE stacks SET deleted_at = now() WHERE id = $1`, s)
		migInsertStack(t, conn, gen, "dup-stack")

		migExec(t, conn, `UPDATE generators SET deleted_at = now() WHERE id = $1`, gen)
		migInsertGenerator(t, conn, "dup-gen")
	})

	t.Run("UniqueTemplateVersionNullsNotDistinct", func(t *testing.T) {
		sys := migInsertTemplate(t, conn, nil, "dup-tpl", 1)
		_, err := conn.Exec(ctx, `INSERT INTO stack_templates (generator_id, name, version, template_content, parameters_schema, checksum)
			VALUES (NULL, 'dup-tpl', 1, 'x', '{}', 'c')`)
		migAssertUnique(t, err, "unique_template_version")
		migInsertTemplate(t, conn, nil, "dup-tpl", 2)
		gen := migInsertGenerator(t, conn, "gen-tpl")
		migInsertTemplate(t, conn, &gen, "dup-tpl", 1)
		_, err = conn.Exec(ctx, `INSERT INTO stack_templates (generator_id, name, version, template_content, parameters_schema, checksum)
			VALUES ($1, 'dup-tpl', 1, 'x', '{}', 'c')`, gen)
		migAssertUnique(t, err, "unique_template_version")
		migExec(t, conn, `UPDATE stack_templates SET deleted_at = now() WHERE id = $1`, sys)
		migInsertTemplate(t, conn, nil, "dup-tpl", 1)
	})

	t.Run("NamedConstraintViolations", func(t *testing.T) {
		gen := migInsertGenerator(t, conn, "gen-named")
		stack := migInsertStack(t, conn, gen, "stack-named")
		agent := migInsertAgent(t, conn, "agent-named", "cl")
		tpl := migInsertTemplate(t, conn, &gen, "tpl-named", 1)
		cases := []struct {
			insert     string
			args       []any
			constraint string
		}{
			{`INSERT INTO stack_labels (stack_id, label) VALUES ($1, 'l')`, []any{stack}, "stack_labels_stack_id_label_key"},
			{`INSERT INTO stack_annotations (stack_id, key, value) VALUES ($1, 'k', 'v')`, []any{stack}, "unique_stack_annotation"},
			{`INSERT INTO agent_labels (agent_id, label) VALUES ($1, 'l')`, []any{agent}, "agent_labels_agent_id_label_key"},
			{`INSERT INTO agent_annotations (agent_id, key, value) VALUES ($1, 'k', 'v')`, []any{agent}, "agent_annotations_agent_id_key_key"},
			{`INSERT INTO template_labels (template_id, label) VALUES ($1, 'l')`, []any{tpl}, "template_labels_template_id_label_key"},
			{`INSERT INTO template_annotations (template_id, key, value) VALUES ($1, 'k', 'v')`, []any{tpl}, "template_annotations_template_id_key_key"},
			{`INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, []any{agent, stack}, "unique_agent_stack"},
			{`INSERT INTO agent_generator_registrations (agent_id, generator_id) VALUES ($1, $2)`, []any{agent, gen}, "agent_generator_registrations_agent_id_generator_id_key"},
		}
		for _, c := range cases {
			migExec(t, conn, c.insert, c.args...)
			_, err := conn.Exec(ctx, c.insert, c.args...)
			migAssertUnique(t, err, c.constraint)
		}

		_, err := conn.Exec(ctx, `INSERT INTO work_orders (work_type, yaml_content, status) VALUES ('build', 'x', 'CLAIMED')`)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" || pgErr.ConstraintName != "claimed_requires_agent" {
			t.Errorf("claimed work order without agent: %v, want check violation claimed_requires_agent", err)
		}
		_, err = conn.Exec(ctx, `INSERT INTO stack_labels (stack_id, label) VALUES (gen_random_uuid(), 'l')`)
		if !errors.As(err, &pgErr) || pgErr.Code != "23503" || pgErr.ConstraintName != "fk_stack_labels_stack" {
			t.Errorf("label of a missing stack: %v, want FK violation fk_stack_labels_stack", err)
		}
	})
}
