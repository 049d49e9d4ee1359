package db

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// migCheckSchemaObjects checks that the named constraints, indexes and triggers
// the API and the stores rely on exist on the right tables.
func migCheckSchemaObjects(t *testing.T, conn *pgx.Conn) {
	ctx := context.Background()

	// Constraint names reported in 409/422 bodies, backed by either a table
	// constraint or a unique index.
	uniques := map[string]string{
		"unique_agent_cluster":                                    "agents",
		"unique_stack_name":                                       "stacks",
		"unique_generator_name":                                   "generators",
		"unique_template_version":                                 "stack_templates",
		"unique_agent_stack":                                      "agent_targets",
		"unique_stack_annotation":                                 "stack_annotations",
		"stack_labels_stack_id_label_key":                         "stack_labels",
		"agent_labels_agent_id_label_key":                         "agent_labels",
		"agent_annotations_agent_id_key_key":                      "agent_annotations",
		"template_labels_template_id_label_key":                   "template_labels",
		"template_annotations_template_id_key_key":                "template_annotations",
		"agent_generator_registrations_agent_id_generator_id_key": "agent_generator_registrations",
		"unique_template_stack":                                   "template_targets",
		"unique_agent_deployment_health":                          "deployment_health",
		"deployment_objects_sequence_id_key":                      "deployment_objects",
		"rendered_deployment_objects_deployment_object_id_key":    "rendered_deployment_objects",
		"work_order_targets_work_order_id_agent_id_key":           "work_order_targets",
		"work_order_labels_work_order_id_label_key":               "work_order_labels",
		"work_order_annotations_work_order_id_key_value_key":      "work_order_annotations",
		"idx_deployment_objects_stack_seq_live":                   "deployment_objects",
		"idx_agent_events_agent_object_live":                      "agent_events",
		"idx_agents_pak_hash":                                     "agents",
		"idx_generators_pak_hash":                                 "generators",
		"idx_work_orders_pending_type":                            "work_orders",
		"idx_webhook_deliveries_cleanup":                          "webhook_deliveries",
		"idx_audit_logs_actor":                                    "audit_logs",
		"idx_agr_generator_id":                                    "agent_generator_registrations",
		"idx_agent_pod_logs_stack_created":                        "agent_pod_logs",
		"idx_diagnostic_requests_agent_pending":                   "diagnostic_requests",
		"idx_rendered_deployment_objects_template":                "rendered_deployment_objects",
		"idx_work_order_annotations_key_value":                    "work_order_annotations",
		"idx_template_targets_stack":                              "template_targets",
		"idx_stack_templates_generator":                           "stack_templates",
		"idx_work_order_log_type_completed":                       "work_order_log",
		"idx_agent_k8s_events_stack_created":                      "agent_k8s_events",
		"idx_deployment_health_checked_at":                        "deployment_health",
		"idx_webhook_subscriptions_enabled":                       "webhook_subscriptions",
		"idx_admin_role_id":                                       "admin_role",
		"idx_agent_events_deleted_at":                             "agent_events",
		"idx_deployment_objects_is_deletion_marker":               "deployment_objects",
		"idx_stack_annotations_key":                               "stack_annotations",
		"idx_agent_targets_stack_id":                              "agent_targets",
		"idx_work_orders_last_error":                              "work_orders",
		"idx_diagnostic_results_request":                          "diagnostic_results",
		"idx_webhook_deliveries_subscription":                     "webhook_deliveries",
		"idx_agent_cluster_name":                                  "agents",
		"idx_stacks_generator_id":                                 "stacks",
		"idx_template_annotations_key":                            "template_annotations",
		"idx_template_labels_label":                               "template_labels",
		"idx_work_order_log_claimed_by":                           "work_order_log",
		"idx_generators_deleted_at":                               "generators",
		"idx_agent_labels_object":                                 "agent_labels",
		"idx_agent_annotations_key":                               "agent_annotations",
		"idx_stack_labels_label":                                  "stack_labels",
		"idx_audit_logs_cleanup":                                  "audit_logs",
		"idx_work_orders_stale_claims":                            "work_orders",
		"idx_webhook_deliveries_pending":                          "webhook_deliveries",
		"idx_webhook_deliveries_acquired_expired":                 "webhook_deliveries",
		"idx_webhook_deliveries_retry":                            "webhook_deliveries",
		"idx_agent_k8s_events_created":                            "agent_k8s_events",
		"idx_agent_pod_logs_created":                              "agent_pod_logs",
		"idx_diagnostic_requests_expires":                         "diagnostic_requests",
		"idx_diagnostic_requests_deployment":                      "diagnostic_requests",
		"idx_rendered_deployment_objects_deployment":              "rendered_deployment_objects",
		"idx_stack_templates_name":                                "stack_templates",
		"idx_stack_templates_deleted_at":                          "stack_templates",
		"idx_work_order_targets_order":                            "work_order_targets",
		"idx_work_order_labels_label":                             "work_order_labels",
		"idx_agr_agent_id":                                        "agent_generator_registrations",
		"idx_audit_logs_timestamp":                                "audit_logs",
		"idx_audit_logs_resource":                                 "audit_logs",
		"idx_audit_logs_action":                                   "audit_logs",
		"idx_work_order_log_type":                                 "work_order_log",
		"idx_work_order_log_success":                              "work_order_log",
		"idx_work_order_log_completed_at":                         "work_order_log",
		"idx_work_orders_retry":                                   "work_orders",
		"idx_work_orders_claimed_by":                              "work_orders",
		"idx_deployment_objects_stack_id":                         "deployment_objects",
		"idx_agent_events_agent_id":                               "agent_events",
	}
	for name, table := range uniques {
		var got string
		err := conn.QueryRow(ctx,
			`SELECT c.relname FROM pg_index i
			   JOIN pg_class x ON x.oid = i.indexrelid
			   JOIN pg_class c ON c.oid = i.indrelid
			   JOIN pg_namespace n ON n.oid = x.relnamespace
			  WHERE x.relname = $1 AND n.nspname = 'public'`, name).Scan(&got)
		if err != nil {
			t.Errorf("index %s: %v", name, err)
			continue
		}
		if got != table {
			t.Errorf("index %s is on %s, want %s", name, got, table)
		}
	}

	// Partial unique indexes: unique, with the live-rows predicate.
	for _, name := range []string{"unique_agent_cluster", "unique_stack_name", "unique_generator_name", "unique_template_version"} {
		var def string
		if err := conn.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = 'public' AND indexname = $1`, name).Scan(&def); err != nil {
			t.Fatalf("index %s: %v", name, err)
		}
		if !strings.HasPrefix(def, "CREATE UNIQUE INDEX") || !strings.Contains(def, "WHERE (deleted_at IS NULL)") {
			t.Errorf("index %s: %s", name, def)
		}
	}

	// Named foreign keys and check constraints.
	constraints := map[string]string{
		"fk_agent_labels_agent":            "agent_labels",
		"fk_agent_annotations_agent":       "agent_annotations",
		"fk_stack_labels_stack":            "stack_labels",
		"fk_stack_annotations_stack":       "stack_annotations",
		"fk_template_labels_template":      "template_labels",
		"fk_template_annotations_template": "template_annotations",
		"fk_template_targets_template":     "template_targets",
		"fk_template_targets_stack":        "template_targets",
		"fk_rendered_deployment_object":    "rendered_deployment_objects",
		"fk_rendered_template":             "rendered_deployment_objects",
		"fk_deployment_object":             "agent_events",
		"valid_retry_count":                "work_orders",
		"valid_max_retries":                "work_orders",
		"valid_backoff":                    "work_orders",
		"valid_claim_timeout":              "work_orders",
		"claimed_requires_agent":           "work_orders",
		"valid_retries_attempted":          "work_order_log",
		"valid_health_status":              "deployment_health",
		"valid_diagnostic_request_status":  "diagnostic_requests",
		"valid_delivery_status":            "webhook_deliveries",
		"valid_actor_type":                 "audit_logs",
		"stacks_generator_id_fkey":         "stacks",
	}
	for name, table := range constraints {
		var n int
		if err := conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			  WHERE c.conname = $1 AND r.relname = $2`, name, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("constraint %s on %s: found %d", name, table, n)
		}
	}
	// fk_agent / fk_stack exist on more than one table.
	for _, table := range []string{"agent_targets", "agent_events"} {
		var n int
		if err := conn.QueryRow(ctx,
			`SELECT count(*) FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
			  WHERE c.conname = 'fk_agent' AND r.relname = $1`, table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("fk_agent on %s: found %d", table, n)
		}
	}

	triggers := map[string]string{
		"update_agent_timestamp":                          "agents",
		"cascade_soft_delete_agents":                      "agents",
		"trigger_agent_hard_delete":                       "agents",
		"update_generators_timestamp":                     "generators",
		"cascade_soft_delete_generators":                  "generators",
		"trigger_cascade_soft_delete_generator_templates": "generators",
		"trigger_generator_hard_delete":                   "generators",
		"update_stack_timestamp":                          "stacks",
		"trigger_handle_stack_soft_delete":                "stacks",
		"trigger_stack_hard_delete":                       "stacks",
		"trigger_hard_delete_deployment_objects":          "stacks",
		"update_deployment_object_timestamp":              "deployment_objects",
		"prevent_deployment_object_update":                "deployment_objects",
		"prevent_deployment_object_delete":                "deployment_objects",
		"update_agent_event_timestamp":                    "agent_events",
		"update_admin_role_timestamp":                     "admin_role",
		"prevent_admin_role_delete":                       "admin_role",
		"update_stack_templates_timestamp":                "stack_templates",
		"trigger_stack_template_hard_delete":              "stack_templates",
		"update_work_orders_timestamp":                    "work_orders",
		"update_deployment_health_timestamp":              "deployment_health",
		"update_webhook_subscriptions_updated_at":         "webhook_subscriptions",
		// Change notifications of the replicas' target-state caches.
		"target_state_notify_deployment_objects":            "deployment_objects",
		"target_state_notify_agent_labels":                  "agent_labels",
		"target_state_notify_agent_annotations":             "agent_annotations",
		"target_state_notify_agent_targets":                 "agent_targets",
		"target_state_notify_agent_generator_registrations": "agent_generator_registrations",
		"target_state_notify_agent_events":                  "agent_events",
		"target_state_notify_agents":                        "agents",
		"target_state_notify_stacks":                        "stacks",
		"target_state_notify_stack_labels":                  "stack_labels",
		"target_state_notify_stack_annotations":             "stack_annotations",
		// Rollouts and apply windows.
		"update_rollout_policy_timestamp":    "rollout_policies",
		"update_rollout_timestamp":           "rollouts",
		"update_apply_window_timestamp":      "apply_windows",
		"record_agent_deployment":            "agent_events",
		"target_state_notify_rollouts":       "rollouts",
		"target_state_notify_rollout_agents": "rollout_agents",
		"target_state_notify_apply_windows":  "apply_windows",
	}
	rows, err := conn.Query(ctx,
		`SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		  WHERE NOT t.tgisinternal`)
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]string{}
	for rows.Next() {
		var name, table string
		if err := rows.Scan(&name, &table); err != nil {
			t.Fatal(err)
		}
		found[name] = table
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for name, table := range triggers {
		if found[name] != table {
			t.Errorf("trigger %s: on %q, want %q", name, found[name], table)
		}
	}
	if len(found) != len(triggers) {
		t.Errorf("found %d triggers, want %d: %v", len(found), len(triggers), found)
	}

	wantFuncs := []string{
		"cascade_soft_delete_agents",
		"cascade_soft_delete_generator_templates",
		"cascade_soft_delete_generators",
		"handle_agent_hard_delete",
		"handle_generator_hard_delete",
		"handle_stack_hard_delete",
		"handle_stack_soft_delete",
		"handle_stack_template_hard_delete",
		"hard_delete_deployment_objects_on_stack_delete",
		"notify_target_state_agent",
		"notify_target_state_agent_row",
		"notify_target_state_all",
		"notify_target_state_stack",
		"notify_target_state_windows",
		"prevent_admin_role_delete",
		"prevent_deployment_object_changes",
		"record_agent_deployment",
		"soft_delete",
		"update_timestamp",
	}
	if got := migFunctions(t, conn, "public"); !slices.Equal(got, wantFuncs) {
		t.Errorf("functions:\n got %v\nwant %v", got, wantFuncs)
	}

	// Spot checks of column types, nullability and defaults.
	columns := []struct {
		table, column, typ string
		nullable           bool
		defaultContains    string
	}{
		{"agents", "id", "uuid", false, "gen_random_uuid()"},
		{"agents", "created_at", "timestamp with time zone", false, "CURRENT_TIMESTAMP"},
		{"agents", "deleted_at", "timestamp with time zone", true, ""},
		{"agents", "status", "character varying(50)", false, "'INACTIVE'"},
		{"agents", "pak_hash", "text", false, "''"},
		{"agents", "k8s_api_latency_ms", "integer", true, ""},
		{"generators", "pak_hash", "text", true, ""},
		{"generators", "is_system", "boolean", false, "false"},
		{"deployment_objects", "sequence_id", "bigint", false, "nextval("},
		{"deployment_objects", "is_deletion_marker", "boolean", false, "false"},
		{"stack_templates", "generator_id", "uuid", true, ""},
		{"stack_templates", "checksum", "character varying(64)", false, ""},
		{"work_orders", "claim_timeout_seconds", "integer", false, "3600"},
		{"work_order_log", "id", "uuid", false, ""},
		{"webhook_subscriptions", "event_types", "text[]", false, ""},
		{"webhook_subscriptions", "url_encrypted", "bytea", false, ""},
		{"audit_logs", "details", "jsonb", true, ""},
		{"app_initialization", "id", "integer", false, "nextval("},
		{"agent_generator_registrations", "registered_at", "timestamp with time zone", false, "now()"},
		{"diagnostic_requests", "status", "character varying(20)", false, "'pending'"},
	}
	for _, c := range columns {
		var typ string
		var notNull bool
		var def *string
		err := conn.QueryRow(ctx,
			`SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull, pg_get_expr(d.adbin, d.adrelid)
			   FROM pg_attribute a
			   JOIN pg_class r ON r.oid = a.attrelid
			   JOIN pg_namespace n ON n.oid = r.relnamespace
			   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			  WHERE n.nspname = 'public' AND r.relname = $1 AND a.attname = $2`, c.table, c.column).Scan(&typ, &notNull, &def)
		if err != nil {
			t.Errorf("%s.%s: %v", c.table, c.column, err)
			continue
		}
		if typ != c.typ || notNull == c.nullable {
			t.Errorf("%s.%s: %s not null=%v; want %s not null=%v", c.table, c.column, typ, notNull, c.typ, !c.nullable)
		}
		switch {
		case c.defaultContains == "" && def != nil:
			t.Errorf("%s.%s: unexpected default %s", c.table, c.column, *def)
		case c.defaultContains != "" && (def == nil || !strings.Contains(*def, c.defaultContains)):
			t.Errorf("%s.%s: default %v, want one containing %s", c.table, c.column, def, c.defaultContains)
		}
	}
}

// migrateTo migrates the database at u to version (up or down).
func migrateTo(t *testing.T, u string, version uint) {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMigrator(cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(version); err != nil {
		t.Fatalf("migrate to %d: %v", version, err)
	}
	if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
		t.Fatalf("close migrator: %v %v", srcErr, dbErr)
	}
}

// migCheckBackfill migrates to the version before the registrations table,
// creates explicit targets, and checks that migration (15) registers the
// targeted agents with the generators owning the targeted stacks.
func migCheckBackfill(t *testing.T, u string) {
	ctx := context.Background()
	const registrations = 15
	migrateTo(t, u, registrations-1)

	conn := migConnect(t, u)
	g1 := migInsertGenerator(t, conn, "g1")
	g2 := migInsertGenerator(t, conn, "g2")
	g3 := migInsertGenerator(t, conn, "g3")
	s1a := migInsertStack(t, conn, g1, "s1a")
	s1b := migInsertStack(t, conn, g1, "s1b")
	s2 := migInsertStack(t, conn, g2, "s2")
	migInsertStack(t, conn, g3, "s3")
	a1 := migInsertAgent(t, conn, "a1", "c1")
	a2 := migInsertAgent(t, conn, "a2", "c1")
	migInsertAgent(t, conn, "a3", "c1")
	for _, tgt := range [][2]string{{a1, s1a}, {a1, s1b}, {a1, s2}, {a2, s2}} {
		migExec(t, conn, `INSERT INTO agent_targets (agent_id, stack_id) VALUES ($1, $2)`, tgt[0], tgt[1])
	}

	if err := MigrateUp(ctx, u, ""); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	rows, err := conn.Query(ctx, `SELECT agent_id::text || '/' || generator_id::text FROM agent_generator_registrations ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{a1 + "/" + g1, a1 + "/" + g2, a2 + "/" + g2}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("registrations:\n got %v\nwant %v", got, want)
	}
}

// migCheckTriggers checks the behaviour of the trigger functions and the partial
