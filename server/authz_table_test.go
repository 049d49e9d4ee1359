package server_test

import (
	"net/http"
	"net/url"
	"slices"
)

// authzTable is the table, in the order of api.md §5.
func authzTable() []authzRow {
	agentSelfRead := authzAllow(http.StatusOK, "agent_pak_mismatch", callerAdmin, callerReadOnly, callerSelf)
	adminRead := authzAllow(http.StatusOK, "admin_required", callerAdmin, callerReadOnly)
	stackOwnedRead := authzAllow(http.StatusOK, "stack_not_owned", callerAdmin, callerReadOnly, callerOwner)
	stackMetaRead := authzAllow(http.StatusOK, "stack_not_accessible", callerAdmin, callerReadOnly, callerOwner, callerSelf)
	generatorSelf := func(status int) authzWants {
		return authzWrite(status, "generator_not_owned", callerAdmin, callerOwner)
	}
	targetRule := func(status int) authzWants {
		return authzWrite(status, "target_create_denied", callerAdmin, callerOwner).
			with(callerOtherGen, authzForbidden("target_generator_mismatch"))
	}
	objectRead := authzAllow(http.StatusOK, "", callerAdmin, callerReadOnly, callerSelf, callerOwner).
		with(callerOtherAgent, authzForbidden("agent_not_associated")).
		with(callerOtherGen, authzForbidden("generator_not_associated"))

	return slices.Concat([]authzRow{
		// §5.1 Auth and tenants.
		{op: "verify_pak", method: "POST", route: "/auth/pak", path: authzConstPath("/auth/pak"),
			want: authzAllow(http.StatusOK, "", callerAdmin, callerReadOnly, callerSelf, callerOtherAgent, callerOwner, callerOtherGen)},
		{op: "list_paks", method: "GET", route: "/paks", path: authzConstPath("/paks"), want: adminRead},

		// §5.2 Agents.
		{op: "list_agents", method: "GET", route: "/agents", path: authzConstPath("/agents"),
			want: authzAllow(http.StatusOK, "generator_required", callerAdmin, callerReadOnly, callerOwner, callerOtherGen)},
		{op: "create_agent", method: "POST", route: "/agents", path: authzConstPath("/agents"),
			body: func(f authzFixture) any { return map[string]any{"name": "new-" + f.tag, "cluster_name": "cluster"} },
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "search_agent", method: "GET", route: "/agents/",
			path: func(f authzFixture) string {
				return "/agents/?" + url.Values{"name": {f.a1.agent.Name}, "cluster_name": {f.a1.agent.ClusterName}}.Encode()
			},
			want: agentSelfRead},
		{op: "get_agent", method: "GET", route: "/agents/{id}", path: authzFixture.agentPath, want: agentSelfRead},
		{op: "update_agent", method: "PUT", route: "/agents/{id}", path: authzFixture.agentPath,
			body: func(f authzFixture) any { return map[string]any{"status": "ACTIVE"} },
			want: authzWrite(http.StatusOK, "agent_pak_mismatch", callerAdmin, callerSelf)},
		{op: "delete_agent", method: "DELETE", route: "/agents/{id}", fresh: true, path: authzFixture.agentPath,
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},
		{op: "list_events", method: "GET", route: "/agents/{id}/events",
			path: func(f authzFixture) string { return f.agentPath() + "/events" }, want: agentSelfRead},
		{op: "create_event", method: "POST", route: "/agents/{id}/events",
			path: func(f authzFixture) string { return f.agentPath() + "/events" },
			body: func(f authzFixture) any {
				return map[string]any{"agent_id": f.a1.agent.ID, "deployment_object_id": f.obj.ID, "event_type": "DEPLOY", "status": "FAILURE"}
			},
			want: authzWrite(http.StatusCreated, "agent_pak_mismatch", callerAdmin, callerSelf)},
		{op: "agents_list_labels", method: "GET", route: "/agents/{id}/labels",
			path: func(f authzFixture) string { return f.agentPath() + "/labels" }, want: agentSelfRead},
		{op: "agents_add_label", method: "POST", route: "/agents/{id}/labels",
			path: func(f authzFixture) string { return f.agentPath() + "/labels" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a1.agent.ID, "label": "added-" + f.tag} },
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "agents_remove_label", method: "DELETE", route: "/agents/{id}/labels/{label}", fresh: true,
			path: func(f authzFixture) string { return f.agentPath() + "/labels/" + url.PathEscape(authzSharedLabel) },
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},
		{op: "agents_list_annotations", method: "GET", route: "/agents/{id}/annotations",
			path: func(f authzFixture) string { return f.agentPath() + "/annotations" }, want: agentSelfRead},
		{op: "agents_add_annotation", method: "POST", route: "/agents/{id}/annotations",
			path: func(f authzFixture) string { return f.agentPath() + "/annotations" },
			body: func(f authzFixture) any {
				return map[string]any{"agent_id": f.a1.agent.ID, "key": "added-" + f.tag, "value": "v"}
			},
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "agents_remove_annotation", method: "DELETE", route: "/agents/{id}/annotations/{key}", fresh: true,
			path: func(f authzFixture) string {
				return f.agentPath() + "/annotations/" + url.PathEscape(authzSharedAnnotation)
			},
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},
		{op: "list_targets", method: "GET", route: "/agents/{id}/targets",
			path: func(f authzFixture) string { return f.agentPath() + "/targets" }, want: agentSelfRead},
		{op: "add_target", method: "POST", route: "/agents/{id}/targets", fresh: true,
			path: func(f authzFixture) string { return f.agentPath() + "/targets" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a1.agent.ID, "stack_id": f.s2.ID} },
			want: targetRule(http.StatusCreated)},
		{op: "remove_target", method: "DELETE", route: "/agents/{id}/targets/{stack_id}", fresh: true,
			path: func(f authzFixture) string { return f.agentPath() + "/targets/" + f.s1.ID.String() },
			want: targetRule(http.StatusNoContent)},
		{op: "record_heartbeat", method: "POST", route: "/agents/{id}/heartbeat",
			path: func(f authzFixture) string { return f.agentPath() + "/heartbeat" },
			want: authzWrite(http.StatusNoContent, "agent_pak_mismatch", callerSelf)},
		{op: "get_target_state", method: "GET", route: "/agents/{id}/target-state",
			path: func(f authzFixture) string { return f.agentPath() + "/target-state" }, want: agentSelfRead},
		{op: "get_associated_stacks", method: "GET", route: "/agents/{id}/stacks",
			path: func(f authzFixture) string { return f.agentPath() + "/stacks" }, want: agentSelfRead},
		{op: "rotate_agent_pak", method: "POST", route: "/agents/{id}/rotate-pak", fresh: true,
			path: func(f authzFixture) string { return f.agentPath() + "/rotate-pak" },
			want: authzWrite(http.StatusOK, "agent_pak_mismatch", callerAdmin, callerSelf)},
		{op: "list_agent_registrations", method: "GET", route: "/agents/{id}/registrations",
			path: func(f authzFixture) string { return f.agentPath() + "/registrations" }, want: agentSelfRead},

		// §5.3 Agent events (global).
		{op: "list_agent_events", method: "GET", route: "/agent-events", path: authzConstPath("/agent-events"), want: adminRead},
		{op: "get_agent_event", method: "GET", route: "/agent-events/{id}",
			path: func(f authzFixture) string { return "/agent-events/" + f.event.ID.String() }, want: adminRead},

		// §5.4 Generators and registrations.
		{op: "list_generators", method: "GET", route: "/generators", path: authzConstPath("/generators"), want: adminRead},
		{op: "create_generator", method: "POST", route: "/generators", path: authzConstPath("/generators"),
			body: func(f authzFixture) any { return map[string]any{"name": "new-" + f.tag} },
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "get_generator", method: "GET", route: "/generators/{id}", path: authzFixture.genPath,
			want: authzAllow(http.StatusOK, "generator_not_owned", callerAdmin, callerReadOnly, callerOwner)},
		{op: "update_generator", method: "PUT", route: "/generators/{id}", path: authzFixture.genPath,
			body: func(f authzFixture) any { return f.g1.gen }, want: generatorSelf(http.StatusOK)},
		{op: "delete_generator", method: "DELETE", route: "/generators/{id}", fresh: true, path: authzFixture.genPath,
			want: generatorSelf(http.StatusNoContent)},
		{op: "rotate_generator_pak", method: "POST", route: "/generators/{id}/rotate-pak", fresh: true,
			path: func(f authzFixture) string { return f.genPath() + "/rotate-pak" },
			want: generatorSelf(http.StatusCreated)},
		// An agent registers itself (the body is ignored): A1 already is registered with G1.
		{op: "register_agent", method: "POST", route: "/generators/{id}/register", fresh: true,
			path: func(f authzFixture) string { return f.genPath() + "/register" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a2.agent.ID} },
			want: authzWrite(http.StatusCreated, "forbidden", callerAdmin, callerOtherAgent).
				with(callerSelf, authzExpect{http.StatusConflict, "already_registered"})},
		// A missing registration is not an error, so A2 deregisters successfully too.
		{op: "deregister_agent", method: "DELETE", route: "/generators/{id}/register", fresh: true,
			path: func(f authzFixture) string { return f.genPath() + "/register" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a1.agent.ID} },
			want: authzWrite(http.StatusNoContent, "forbidden", callerAdmin, callerSelf, callerOtherAgent)},
		{op: "list_generator_registered_agents", method: "GET", route: "/generators/{id}/registered-agents",
			path: func(f authzFixture) string { return f.genPath() + "/registered-agents" },
			want: authzAllow(http.StatusOK, "not_authorized", callerAdmin, callerReadOnly, callerOwner)},

		// §5.5 Stacks.
		{op: "list_stacks", method: "GET", route: "/stacks", path: authzConstPath("/stacks"),
			want: authzAllow(http.StatusOK, "stacks_list_denied", callerAdmin, callerReadOnly, callerOwner, callerOtherGen)},
		{op: "create_stack", method: "POST", route: "/stacks", path: authzConstPath("/stacks"),
			body: func(f authzFixture) any { return map[string]any{"name": "new-" + f.tag, "generator_id": f.g1.gen.ID} },
			want: authzWrite(http.StatusCreated, "stack_create_denied", callerAdmin, callerOwner).
				with(callerOtherGen, authzForbidden("stack_generator_mismatch"))},
		{op: "get_stack", method: "GET", route: "/stacks/{id}", path: authzFixture.stackPath, want: stackOwnedRead},
		{op: "update_stack", method: "PUT", route: "/stacks/{id}", path: authzFixture.stackPath,
			body: func(f authzFixture) any { return f.s1 },
			want: authzWrite(http.StatusOK, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "delete_stack", method: "DELETE", route: "/stacks/{id}", fresh: true, path: authzFixture.stackPath,
			want: authzWrite(http.StatusNoContent, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "list_deployment_objects", method: "GET", route: "/stacks/{id}/deployment-objects",
			path: func(f authzFixture) string { return f.stackPath() + "/deployment-objects" }, want: stackOwnedRead},
		{op: "create_deployment_object", method: "POST", route: "/stacks/{id}/deployment-objects",
			path: func(f authzFixture) string { return f.stackPath() + "/deployment-objects" },
			body: func(f authzFixture) any { return map[string]any{"yaml_content": cmYAML} },
			want: authzWrite(http.StatusCreated, "stack_not_owned", callerAdmin, callerOwner)},
		// The stack is checked before the template: G2 may read the system template but
		// does not own S1.
		{op: "instantiate_template", variant: "system-template", method: "POST",
			route: "/stacks/{stack_id}/deployment-objects/from-template",
			path:  func(f authzFixture) string { return f.stackPath() + "/deployment-objects/from-template" },
			body: func(f authzFixture) any {
				return map[string]any{"template_id": f.sysTemplate.ID, "parameters": map[string]any{}}
			},
			want: authzWrite(http.StatusCreated, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "instantiate_template", variant: "owned-template", method: "POST",
			route: "/stacks/{stack_id}/deployment-objects/from-template",
			path:  func(f authzFixture) string { return f.stackPath() + "/deployment-objects/from-template" },
			body: func(f authzFixture) any {
				return map[string]any{"template_id": f.ownTemplate.ID, "parameters": map[string]any{}}
			},
			want: authzWrite(http.StatusCreated, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "stacks_list_labels", method: "GET", route: "/stacks/{id}/labels",
			path: func(f authzFixture) string { return f.stackPath() + "/labels" }, want: stackMetaRead},
		{op: "stacks_add_label", method: "POST", route: "/stacks/{id}/labels",
			path: func(f authzFixture) string { return f.stackPath() + "/labels" },
			body: func(f authzFixture) any { return "added-" + f.tag },
			want: authzWrite(http.StatusCreated, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "stacks_remove_label", method: "DELETE", route: "/stacks/{id}/labels/{label}", fresh: true,
			path: func(f authzFixture) string { return f.stackPath() + "/labels/" + url.PathEscape(authzStackLabel) },
			want: authzWrite(http.StatusNoContent, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "stacks_list_annotations", method: "GET", route: "/stacks/{id}/annotations",
			path: func(f authzFixture) string { return f.stackPath() + "/annotations" }, want: stackMetaRead},
		{op: "stacks_add_annotation", method: "POST", route: "/stacks/{id}/annotations",
			path: func(f authzFixture) string { return f.stackPath() + "/annotations" },
			body: func(f authzFixture) any {
				return map[string]any{"stack_id": f.s1.ID, "key": "added-" + f.tag, "value": "v"}
			},
			want: authzWrite(http.StatusCreated, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "stacks_remove_annotation", method: "DELETE", route: "/stacks/{id}/annotations/{key}", fresh: true,
			path: func(f authzFixture) string {
				return f.stackPath() + "/annotations/" + url.PathEscape(authzStackAnnotation)
			},
			want: authzWrite(http.StatusNoContent, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "list_telemetry_events", method: "GET", route: "/stacks/{id}/events",
			path: func(f authzFixture) string { return f.stackPath() + "/events" }, want: stackOwnedRead},
		{op: "list_telemetry_logs", method: "GET", route: "/stacks/{id}/logs",
			path: func(f authzFixture) string { return f.stackPath() + "/logs" }, want: stackOwnedRead},

		// §5.6 Deployment objects. A2 carries S2's label and S3's annotation but is not
		// registered with G1, so neither stack is associated with it.
		{op: "get_deployment_object", variant: "explicit-target", method: "GET", route: "/deployment-objects/{id}",
			path: func(f authzFixture) string { return "/deployment-objects/" + f.obj.ID.String() }, want: objectRead},
		{op: "get_deployment_object", variant: "label-match", method: "GET", route: "/deployment-objects/{id}",
			path: func(f authzFixture) string { return "/deployment-objects/" + f.objS2.ID.String() }, want: objectRead},
		{op: "get_deployment_object", variant: "annotation-match", method: "GET", route: "/deployment-objects/{id}",
			path: func(f authzFixture) string { return "/deployment-objects/" + f.objS3.ID.String() }, want: objectRead},
		// The read-only admin may request diagnostics (§2.4).
		{op: "create_diagnostic_request", method: "POST", route: "/deployment-objects/{id}/diagnostics",
			path: func(f authzFixture) string { return "/deployment-objects/" + f.obj.ID.String() + "/diagnostics" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a1.agent.ID} },
			want: authzAllow(http.StatusCreated, "admin_required", callerAdmin, callerReadOnly)},
		{op: "get_deployment_health", method: "GET", route: "/deployment-objects/{id}/health",
			path: func(f authzFixture) string { return "/deployment-objects/" + f.obj.ID.String() + "/health" }, want: adminRead},
		{op: "get_stack_health", method: "GET", route: "/stacks/{id}/health",
			path: func(f authzFixture) string { return f.stackPath() + "/health" }, want: adminRead},

		// §5.7 Diagnostics.
		{op: "get_diagnostic", method: "GET", route: "/diagnostics/{id}",
			path: func(f authzFixture) string { return "/diagnostics/" + f.diag.ID.String() },
			want: authzAllow(http.StatusOK, "diagnostic_not_owned", callerAdmin, callerReadOnly, callerSelf)},
		{op: "get_pending_diagnostics", method: "GET", route: "/agents/{id}/diagnostics/pending",
			path: func(f authzFixture) string { return f.agentPath() + "/diagnostics/pending" }, want: agentSelfRead},
		{op: "claim_diagnostic", method: "POST", route: "/diagnostics/{id}/claim", fresh: true,
			path: func(f authzFixture) string { return "/diagnostics/" + f.diag.ID.String() + "/claim" },
			want: authzWrite(http.StatusOK, "diagnostic_not_owned", callerAdmin, callerSelf)},
		// Only the assigned agent may submit; it gets past authorization to the state check.
		{op: "submit_diagnostic_result", method: "POST", route: "/diagnostics/{id}/result",
			path: func(f authzFixture) string { return "/diagnostics/" + f.diag.ID.String() + "/result" },
			body: func(f authzFixture) any {
				return map[string]any{"pod_statuses": "[]", "events": "[]", "collected_at": "2026-01-01T00:00:00Z"}
			},
			want: authzWrite(http.StatusConflict, "diagnostic_not_owned", callerSelf)},

		// §5.8 Deployment health.
		{op: "update_health_status", method: "PATCH", route: "/agents/{id}/health-status",
			path: func(f authzFixture) string { return f.agentPath() + "/health-status" },
			body: func(f authzFixture) any {
				return map[string]any{"deployment_objects": []any{map[string]any{"id": f.obj.ID, "status": "healthy", "checked_at": "2026-01-01T00:00:00Z"}}}
			},
			want: authzWrite(http.StatusOK, "agent_pak_mismatch", callerAdmin, callerSelf)},
	}, authzTemplateRows(), []authzRow{
		// §5.10 Work orders.
		{op: "list_work_orders", method: "GET", route: "/work-orders", path: authzConstPath("/work-orders"), want: adminRead},
		{op: "create_work_order", method: "POST", route: "/work-orders", path: authzConstPath("/work-orders"),
			body: func(f authzFixture) any {
				return map[string]any{"work_type": "build", "yaml_content": "kind: Build", "targeting": map[string]any{"labels": []string{authzSharedLabel}}}
			},
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "get_work_order", method: "GET", route: "/work-orders/{id}",
			path: func(f authzFixture) string { return "/work-orders/" + f.order.ID.String() }, want: adminRead},
		{op: "delete_work_order", method: "DELETE", route: "/work-orders/{id}", fresh: true,
			path: func(f authzFixture) string { return "/work-orders/" + f.order.ID.String() },
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},
		{op: "list_pending_for_agent", method: "GET", route: "/agents/{agent_id}/work-orders/pending",
			path: func(f authzFixture) string { return f.agentPath() + "/work-orders/pending" }, want: agentSelfRead},
		{op: "claim_work_order", method: "POST", route: "/work-orders/{id}/claim", fresh: true,
			path: func(f authzFixture) string { return "/work-orders/" + f.order.ID.String() + "/claim" },
			body: func(f authzFixture) any { return map[string]any{"agent_id": f.a1.agent.ID} },
			want: authzWrite(http.StatusOK, "agent_pak_mismatch", callerAdmin, callerSelf)},
		{op: "complete_work_order", variant: "claimed", method: "POST", route: "/work-orders/{id}/complete", fresh: true,
			path: func(f authzFixture) string { return "/work-orders/" + f.claimedOrder.ID.String() + "/complete" },
			body: func(f authzFixture) any { return map[string]any{"success": true} },
			want: authzWrite(http.StatusOK, "work_order_not_claimed_by_agent", callerAdmin, callerSelf)},
		// Only the admin or the claiming agent may complete an order; on an unclaimed order
		// that leaves the admin (the reference also lets generators through).
		{op: "complete_work_order", variant: "unclaimed", method: "POST", route: "/work-orders/{id}/complete", fresh: true,
			path: func(f authzFixture) string { return "/work-orders/" + f.order.ID.String() + "/complete" },
			body: func(f authzFixture) any { return map[string]any{"success": true} },
			want: authzWrite(http.StatusOK, "work_order_not_claimed_by_agent", callerAdmin)},
		{op: "list_work_order_log", method: "GET", route: "/work-order-log", path: authzConstPath("/work-order-log"), want: adminRead},
		{op: "get_work_order_log", method: "GET", route: "/work-order-log/{id}",
			path: func(f authzFixture) string { return "/work-order-log/" + f.loggedOrder.ID.String() }, want: adminRead},

		// §5.11 Fleet.
		{op: "list_fleet", method: "GET", route: "/fleet", path: authzConstPath("/fleet"), want: adminRead},
		{op: "get_agent_fleet_status", method: "GET", route: "/agents/{id}/fleet-status",
			path: func(f authzFixture) string { return f.agentPath() + "/fleet-status" }, want: adminRead},

		// §5.12 Admin. The test broker has no reloadable configuration, so the admin gets
		// past authorization to 503.
		{op: "list_audit_logs", method: "GET", route: "/admin/audit-logs", path: authzConstPath("/admin/audit-logs"), want: adminRead},
		{op: "reload_config", method: "POST", route: "/admin/config/reload", path: authzConstPath("/admin/config/reload"),
			want: authzWrite(http.StatusServiceUnavailable, "admin_required", callerAdmin).
				with(callerAdmin, authzExpect{http.StatusServiceUnavailable, "config_reload_disabled"})},
		{op: "list_ws_connections", method: "GET", route: "/admin/ws/connections", path: authzConstPath("/admin/ws/connections"),
			want: adminRead},

		// §5.13 Webhooks.
		{op: "list_webhooks", method: "GET", route: "/webhooks", path: authzConstPath("/webhooks"), want: adminRead},
		{op: "list_event_types", method: "GET", route: "/webhooks/event-types", path: authzConstPath("/webhooks/event-types"),
			want: adminRead},
		{op: "create_webhook", method: "POST", route: "/webhooks", path: authzConstPath("/webhooks"),
			body: func(f authzFixture) any {
				return map[string]any{"name": "new-" + f.tag, "url": f.hookURL, "event_types": []string{"stack.deleted"},
					"filters": map[string]any{"stack_id": f.s1.ID}}
			},
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "get_webhook", method: "GET", route: "/webhooks/{id}", path: authzFixture.webhookPath, want: adminRead},
		{op: "update_webhook", method: "PUT", route: "/webhooks/{id}", path: authzFixture.webhookPath,
			body: func(f authzFixture) any { return map[string]any{"name": "renamed-" + f.tag} },
			want: authzWrite(http.StatusOK, "admin_required", callerAdmin)},
		{op: "delete_webhook", method: "DELETE", route: "/webhooks/{id}", fresh: true, path: authzFixture.webhookPath,
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},
		{op: "list_deliveries", method: "GET", route: "/webhooks/{id}/deliveries",
			path: func(f authzFixture) string { return f.webhookPath() + "/deliveries" }, want: adminRead},
		{op: "test_webhook", method: "POST", route: "/webhooks/{id}/test",
			path: func(f authzFixture) string { return f.webhookPath() + "/test" },
			want: authzWrite(http.StatusOK, "admin_required", callerAdmin)},
		// A read that claims deliveries and answers their decrypted URLs and auth headers:
		// refused to the read-only admin like a write.
		{op: "get_pending_agent_webhooks", method: "GET", route: "/agents/{agent_id}/webhooks/pending",
			path: func(f authzFixture) string { return f.agentPath() + "/webhooks/pending" },
			want: agentSelfRead.with(callerReadOnly, authzReadOnly)},
		// Only an agent reports, and only on a delivery it holds: A2 is refused although it
		// is an agent.
		{op: "report_delivery_result", method: "POST", route: "/webhook-deliveries/{id}/result", fresh: true,
			path: func(f authzFixture) string { return "/webhook-deliveries/" + f.delivery.ID.String() + "/result" },
			body: func(f authzFixture) any { return map[string]any{"success": true, "duration_ms": 5} },
			want: authzWrite(http.StatusOK, "agent_pak_required", callerSelf).
				with(callerOtherAgent, authzForbidden("delivery_not_acquired_by_agent"))},

		// Additive: named read-only PAKs. A read-only key lists them but creates and revokes none.
		{op: "create_read_only_pak", method: "POST", route: "/read-only-paks", path: authzConstPath("/read-only-paks"),
			body: func(f authzFixture) any { return map[string]any{"name": "new-" + f.tag} },
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "list_read_only_paks", method: "GET", route: "/read-only-paks", path: authzConstPath("/read-only-paks"),
			want: adminRead},
		{op: "revoke_read_only_pak", method: "DELETE", route: "/read-only-paks/{id}", fresh: true,
			path: func(f authzFixture) string { return "/read-only-paks/" + f.readOnly.ID.String() },
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},

		// Additive: drift and stack dependencies.
		{op: "agent_stack_settings", method: "GET", route: "/agents/{id}/stack-settings",
			path: func(f authzFixture) string { return f.agentPath() + "/stack-settings" }, want: agentSelfRead},
		{op: "stack_drift", method: "GET", route: "/stacks/{id}/drift",
			path: func(f authzFixture) string { return f.stackPath() + "/drift" }, want: stackOwnedRead},
		{op: "stack_dependencies", method: "GET", route: "/stacks/{id}/dependencies",
			path: func(f authzFixture) string { return f.stackPath() + "/dependencies" }, want: stackOwnedRead},

		// Additive: rollouts (on S4, which has a policy and a rollout under way) and holds.
		{op: "set_rollout_policy", method: "PUT", route: "/stacks/{id}/rollout-policy",
			path: func(f authzFixture) string { return f.rolledPath() + "/rollout-policy" },
			body: func(authzFixture) any { return authzRolloutPolicy() },
			want: authzWrite(http.StatusOK, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "get_rollout_policy", method: "GET", route: "/stacks/{id}/rollout-policy",
			path: func(f authzFixture) string { return f.rolledPath() + "/rollout-policy" }, want: stackOwnedRead},
		{op: "delete_rollout_policy", method: "DELETE", route: "/stacks/{id}/rollout-policy", fresh: true,
			path: func(f authzFixture) string { return f.rolledPath() + "/rollout-policy" },
			want: authzWrite(http.StatusNoContent, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "get_rollout", method: "GET", route: "/stacks/{id}/rollout",
			path: func(f authzFixture) string { return f.rolledPath() + "/rollout" }, want: stackOwnedRead},
		{op: "list_rollouts", method: "GET", route: "/stacks/{id}/rollouts",
			path: func(f authzFixture) string { return f.rolledPath() + "/rollouts" }, want: stackOwnedRead},
		{op: "rollout_action", method: "POST", route: "/stacks/{id}/rollout/{action}", fresh: true,
			path: func(f authzFixture) string { return f.rolledPath() + "/rollout/pause" },
			want: authzWrite(http.StatusOK, "stack_not_owned", callerAdmin, callerOwner)},
		{op: "agent_holds", method: "GET", route: "/agents/{id}/holds",
			path: func(f authzFixture) string { return f.agentPath() + "/holds" }, want: agentSelfRead},
		{op: "stack_holds", method: "GET", route: "/stacks/{id}/holds",
			path: func(f authzFixture) string { return f.stackPath() + "/holds" }, want: stackOwnedRead},

		// Additive: apply windows. A read-only key lists and reads them but creates and deletes none.
		{op: "create_apply_window", method: "POST", route: "/apply-windows", path: authzConstPath("/apply-windows"),
			body: func(f authzFixture) any {
				return map[string]any{"name": "new-" + f.tag, "schedule": "@daily", "duration": "1h", "kind": "allow",
					"selector": map[string]any{"labels": []string{authzNoAgentLabel}}}
			},
			want: authzWrite(http.StatusCreated, "admin_required", callerAdmin)},
		{op: "list_apply_windows", method: "GET", route: "/apply-windows", path: authzConstPath("/apply-windows"), want: adminRead},
		{op: "get_apply_window", method: "GET", route: "/apply-windows/{id}",
			path: func(f authzFixture) string { return "/apply-windows/" + f.window.ID.String() }, want: adminRead},
		{op: "delete_apply_window", method: "DELETE", route: "/apply-windows/{id}", fresh: true,
			path: func(f authzFixture) string { return "/apply-windows/" + f.window.ID.String() },
			want: authzWrite(http.StatusNoContent, "admin_required", callerAdmin)},

		// Additive. Keep it last: the admin's call replaces the admin key of the broker.
		{op: "rotate_admin_pak", method: "POST", route: "/admin/rotate-pak", path: authzConstPath("/admin/rotate-pak"),
			want: authzWrite(http.StatusOK, "admin_required", callerAdmin)},
	})
}

// authzTemplateRows is §5.9: the list and create operations, then every operation on one
// template against the system template and against G1's. Generators read system templates
// but only the admin changes them.
func authzTemplateRows() []authzRow {
	rows := []authzRow{
		{op: "list_templates", method: "GET", route: "/templates", path: authzConstPath("/templates"),
			want: authzAllow(http.StatusOK, "templates_not_accessible", callerAdmin, callerReadOnly, callerOwner, callerOtherGen)},
		// The admin creates a system template, a generator one of its own.
		{op: "create_template", method: "POST", route: "/templates", path: authzConstPath("/templates"),
			body: func(f authzFixture) any {
				return map[string]any{"name": "new-" + f.tag, "template_content": authzTemplateYAML, "parameters_schema": "{}"}
			},
			want: authzWrite(http.StatusCreated, "templates_not_accessible", callerAdmin, callerOwner, callerOtherGen)},
	}
	kinds := []struct {
		variant   string
		path      func(authzFixture) string
		readers   []authzCaller
		modifiers []authzCaller
	}{
		{"system", authzFixture.sysTemplatePath,
			[]authzCaller{callerAdmin, callerReadOnly, callerOwner, callerOtherGen}, []authzCaller{callerAdmin}},
		{"owned", authzFixture.ownTemplatePath,
			[]authzCaller{callerAdmin, callerReadOnly, callerOwner}, []authzCaller{callerAdmin, callerOwner}},
	}
	for _, k := range kinds {
		sub := func(rest string) func(authzFixture) string {
			return func(f authzFixture) string { return k.path(f) + rest }
		}
		read := authzAllow(http.StatusOK, "template_not_accessible", k.readers...)
		modify := func(status int) authzWants { return authzWrite(status, "template_not_owned", k.modifiers...) }
		rows = append(rows,
			authzRow{op: "get_template", variant: k.variant, method: "GET", route: "/templates/{id}", path: k.path, want: read},
			authzRow{op: "update_template", variant: k.variant, method: "PUT", route: "/templates/{id}", path: k.path,
				body: func(f authzFixture) any {
					return map[string]any{"template_content": authzTemplateYAML + "# " + f.tag + "\n", "parameters_schema": "{}"}
				},
				want: modify(http.StatusOK)},
			authzRow{op: "delete_template", variant: k.variant, method: "DELETE", route: "/templates/{id}", fresh: true,
				path: k.path, want: modify(http.StatusNoContent)},
			authzRow{op: "templates_list_labels", variant: k.variant, method: "GET", route: "/templates/{id}/labels",
				path: sub("/labels"), want: read},
			authzRow{op: "templates_add_label", variant: k.variant, method: "POST", route: "/templates/{id}/labels",
				path: sub("/labels"), body: func(f authzFixture) any { return "added-" + f.tag },
				want: modify(http.StatusCreated)},
			authzRow{op: "templates_remove_label", variant: k.variant, method: "DELETE", route: "/templates/{id}/labels/{label}",
				fresh: true, path: sub("/labels/" + url.PathEscape(authzStackLabel)), want: modify(http.StatusNoContent)},
			authzRow{op: "templates_list_annotations", variant: k.variant, method: "GET", route: "/templates/{id}/annotations",
				path: sub("/annotations"), want: read},
			authzRow{op: "templates_add_annotation", variant: k.variant, method: "POST", route: "/templates/{id}/annotations",
				path: sub("/annotations"),
				body: func(f authzFixture) any { return map[string]any{"key": "added-" + f.tag, "value": "v"} },
				want: modify(http.StatusCreated)},
			authzRow{op: "templates_remove_annotation", variant: k.variant, method: "DELETE",
				route: "/templates/{id}/annotations/{key}", fresh: true,
				path: sub("/annotations/" + url.PathEscape(authzStackAnnotation)), want: modify(http.StatusNoContent)},
		)
	}
	return rows
}
