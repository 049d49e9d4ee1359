package main

// opDoc is the human-facing text of one operation.
type opDoc struct {
	summary     string
	description string
}

// operationDocs gives every operation a summary that names who may call it.
var operationDocs = map[string]opDoc{
	// Auth and tenants.
	"verify_pak": {summary: "Resolve the caller's PAK to its role (any valid PAK)"},
	"list_paks":  {summary: "List the PAK holders: live, non-system generators (admin)"},

	// Read-only PAKs (additive).
	"create_read_only_pak": {
		summary: "Mint a named read-only PAK (admin, not read-only)",
		description: "The key reads what the admin reads except secrets (see GET /agents/{agent_id}/webhooks/pending) " +
			"and changes nothing: every write answers 403 `read_only`, except POST /auth/pak and " +
			"POST /deployment-objects/{id}/diagnostics. The key is in this answer only. A name held by a key " +
			"that is not revoked answers 409 `unique_violation`.",
	},
	"list_read_only_paks": {summary: "List the read-only PAKs that are not revoked, without their keys (admin)"},
	"revoke_read_only_pak": {
		summary:     "Revoke a read-only PAK (admin, not read-only)",
		description: "The key stops authenticating on every replica and its open WebSockets are closed. An unknown or already revoked id answers 404 `read_only_pak_not_found`.",
	},

	// Holds (additive).
	"agent_holds": {
		summary:     "List the objects held back from an agent by rollouts and apply windows (admin or the agent itself; additive)",
		description: "One entry per associated stack whose newest object the agent does not receive now, with what it receives instead and until when.",
	},
	"stack_holds": {
		summary: "List, per agent, the stack's newest object when rollouts or apply windows hold it back (admin or the owning generator; additive)",
	},

	// Apply windows (additive).
	"create_apply_window": {
		summary: "Create an apply window (admin, not read-only; additive)",
		description: "Every setting is checked: 400 `invalid_apply_window` names the field in details.field (stack_ids must " +
			"name live stacks). A name already taken answers 409 `unique_violation`. The answer says whether the window is " +
			"open at the broker's clock and when it next opens and closes.",
	},
	"list_apply_windows":  {summary: "List the apply windows by name, each open or not at the broker's clock (admin; additive)"},
	"get_apply_window":    {summary: "Get an apply window, open or not at the broker's clock (admin; additive)"},
	"delete_apply_window": {summary: "Delete an apply window (admin, not read-only; additive)"},

	// Progressive rollouts (additive).
	"set_rollout_policy": {
		summary: "Set the stack's rollout policy (admin or the owning generator; additive)",
		description: "Objects posted to the stack afterwards reach its agents wave by wave. An invalid policy answers 400 " +
			"`invalid_rollout_policy` saying what is wrong.",
	},
	"get_rollout_policy":    {summary: "Get the stack's rollout policy (admin or the owning generator; additive)"},
	"delete_rollout_policy": {summary: "Delete the stack's rollout policy (admin or the owning generator; additive)"},
	"get_rollout": {
		summary: "Get the stack's latest rollout with its waves and agents (admin or the owning generator; additive)",
	},
	"list_rollouts": {summary: "List the stack's rollouts, newest first (admin or the owning generator; additive)"},
	"rollout_action": {
		summary: "Promote, pause, resume or abort the stack's latest rollout (admin or the owning generator; additive)",
		description: "promote (progressing or waiting) unlocks the next wave now, or completes the rollout on its last wave; " +
			"pause (progressing or waiting) stops releasing; resume continues a paused rollout, or a halted one counting " +
			"only new failures; abort ends an active rollout and every agent receives the object it had before.",
	},

	// Drift and stack dependencies (additive).
	"agent_stack_settings": {
		summary: "Get the drift policy and resolved dependencies of each stack associated with the agent (admin or the agent itself; additive)",
	},
	"stack_drift": {
		summary:     "Get the current drift of the stack per agent (admin or the owning generator; additive)",
		description: "Per agent, its latest DRIFT event on the stack's latest deployment object, unless it is CLEARED.",
	},
	"stack_dependencies": {
		summary: "Get the stacks the stack depends on and the agents waiting for them (admin or the owning generator; additive)",
		description: "An agent waits when its latest DEPENDENCY WAITING event on the stack's latest deployment object " +
			"is newer than any event applying it.",
	},

	// Agents.
	"list_agents":  {summary: "List live agents (admin: all; generator: those registered with it)"},
	"create_agent": {summary: "Create an agent and mint its PAK (admin)"},
	"search_agent": {
		summary:     "Find a live agent by name and cluster (admin or that agent)",
		description: "Both name and cluster_name are required; a missing one answers 400 `name_and_cluster_required`.",
	},
	"get_agent":    {summary: "Get an agent (admin or the agent itself)"},
	"update_agent": {summary: "Update an agent's name, cluster name or status (admin or the agent itself)"},
	"delete_agent": {
		summary:     "Soft-delete an agent (admin)",
		description: "Answers 204 also for ids that do not exist.",
	},
	"list_events":              {summary: "List an agent's live events, newest first (admin or the agent itself)"},
	"create_event":             {summary: "Record a deployment event of an agent (admin or the agent itself)"},
	"agents_list_labels":       {summary: "List an agent's labels (admin or the agent itself)"},
	"agents_add_label":         {summary: "Add a label to an agent (admin)"},
	"agents_remove_label":      {summary: "Remove a label from an agent (admin)"},
	"agents_list_annotations":  {summary: "List an agent's annotations (admin or the agent itself)"},
	"agents_add_annotation":    {summary: "Add an annotation to an agent (admin)"},
	"agents_remove_annotation": {summary: "Remove an annotation from an agent (admin)"},
	"list_targets":             {summary: "List an agent's explicit stack targets (admin or the agent itself)"},
	"add_target":               {summary: "Target a stack at an agent (admin or the stack's generator)"},
	"remove_target":            {summary: "Remove a stack target from an agent (admin or the stack's generator)"},
	"record_heartbeat":         {summary: "Record an agent heartbeat (the agent itself only)"},
	"get_target_state": {
		summary: "Get the deployment objects an agent should apply (admin or the agent itself)",
		description: "The latest live object of each associated stack, sequence_id descending. Unless mode=full, objects the agent already reported an event for are left out. " +
			"Beyond the reference: a stack with a rollout policy serves its newest object only to the agents its rollout has released (the others keep " +
			"the object they received before), and apply windows keep serving a held agent the object it last reported applying (see Brokkr-Hold).",
	},
	"get_associated_stacks":    {summary: "List the stacks associated with an agent (admin or the agent itself)"},
	"rotate_agent_pak":         {summary: "Mint a new PAK for an agent (admin or the agent itself)"},
	"list_agent_registrations": {summary: "List an agent's generator registrations (admin or the agent itself)"},
	"get_agent_fleet_status":   {summary: "Get an agent's fleet record and recent events (admin)"},

	// Agent events.
	"list_agent_events": {summary: "List live agent events, optionally of agents registered with a generator (admin)"},
	"get_agent_event":   {summary: "Get an agent event (admin)"},

	// Generators and registrations.
	"list_generators":                  {summary: "List live, non-system generators (admin)"},
	"create_generator":                 {summary: "Create a generator and mint its PAK (admin)"},
	"get_generator":                    {summary: "Get a generator (admin or the generator itself)"},
	"update_generator":                 {summary: "Update a generator (admin or the generator itself)"},
	"delete_generator":                 {summary: "Soft-delete a generator with its stacks and templates (admin or the generator itself)"},
	"rotate_generator_pak":             {summary: "Mint a new PAK for a generator (admin or the generator itself)"},
	"register_agent":                   {summary: "Register an agent with a generator (admin, or the agent itself)"},
	"deregister_agent":                 {summary: "Deregister an agent from a generator (admin, or the agent itself)"},
	"list_generator_registered_agents": {summary: "List the agents registered with a generator (admin or the generator itself)"},

	// Stacks.
	"list_stacks":             {summary: "List live stacks (admin: all or by pak_id; generator: its own)"},
	"create_stack":            {summary: "Create a stack (admin or generator)"},
	"get_stack":               {summary: "Get a stack (admin or the owning generator)"},
	"update_stack":            {summary: "Update a stack (admin or the owning generator)"},
	"delete_stack":            {summary: "Soft-delete a stack, leaving a deletion marker (admin or the owning generator)"},
	"list_deployment_objects": {summary: "List a stack's live deployment objects, sequence_id descending (admin or the owning generator)"},
	"create_deployment_object": {
		summary: "Submit a deployment object to a stack (admin or the owning generator)",
		description: "The body is either JSON (CreateDeploymentObjectRequest) or the raw YAML. The YAML must be a manifest an agent can apply: " +
			"every document parses and is a mapping, at least one is not empty, and every object (each item of a list) has apiVersion, kind and metadata.name; " +
			"otherwise 400 `invalid_deployment_object`. A deletion marker's content may be blank, else its documents must parse.",
	},
	"instantiate_template": {
		summary: "Render a template into a new deployment object of a stack (admin or the owning generator)",
		description: "The rendered output must be a manifest an agent can apply, as for create_deployment_object (else 400 `invalid_deployment_object`). " +
			"Rendering is bounded: a template nested deeper than broker.template_max_nesting answers 422 `template_too_deep`, " +
			"one still rendering after broker.template_render_timeout_ms 422 `template_render_timeout`, and output beyond broker.max_body_bytes " +
			"400 `template_render_failed`. When broker.template_max_concurrent_renders renderings are already running on the replica, " +
			"429 `too_many_renders` with Retry-After.",
	},
	"stacks_list_labels":      {summary: "List a stack's labels (admin, owning generator, or a targeted agent)"},
	"stacks_add_label":        {summary: "Add a label to a stack (admin or the owning generator)"},
	"stacks_remove_label":     {summary: "Remove a label from a stack (admin or the owning generator)"},
	"stacks_list_annotations": {summary: "List a stack's annotations (admin, owning generator, or a targeted agent)"},
	"stacks_add_annotation": {
		summary: "Add an annotation to a stack (admin or the owning generator)",
		description: "brokkr.io/drift-policy must be report, correct or ignore (400 `invalid_drift_policy`); each " +
			"comma-separated entry of brokkr.io/depends-on must name a live stack of the same generator by id or name " +
			"(400 `unknown_dependency`, details.unknown) and none may lead back to the stack (400 `dependency_cycle`, details.cycle).",
	},
	"stacks_remove_annotation": {summary: "Remove an annotation from a stack (admin or the owning generator)"},
	"list_telemetry_events":    {summary: "List recent Kubernetes events reported for a stack (admin or the owning generator)"},
	"list_telemetry_logs":      {summary: "List recent pod log lines reported for a stack (admin or the owning generator)"},
	"get_stack_health":         {summary: "Get the health of a stack's deployment objects (admin)"},

	// Deployment objects, diagnostics and health.
	"get_deployment_object":     {summary: "Get a deployment object as JSON or raw YAML (admin, owning generator, or a targeted agent)"},
	"create_diagnostic_request": {summary: "Ask an agent to collect diagnostics for a deployment object (admin)"},
	"get_deployment_health":     {summary: "Get the health records of a deployment object (admin)"},
	"get_diagnostic":            {summary: "Get a diagnostic request and its result (admin or the assigned agent)"},
	"get_pending_diagnostics":   {summary: "List an agent's pending diagnostic requests (admin or the agent itself)"},
	"claim_diagnostic":          {summary: "Claim a pending diagnostic request (admin or the assigned agent)"},
	"submit_diagnostic_result":  {summary: "Submit the result of a claimed diagnostic request (the assigned agent only)"},
	"update_health_status":      {summary: "Report the health of deployment objects (admin or the agent itself)"},

	// Templates.
	"list_templates": {summary: "List live templates (admin: all; generator: system and its own)"},
	"create_template": {
		summary: "Create a template (admin: system template; generator: its own)",
		description: "A template nested deeper than broker.template_max_nesting (brackets, blocks, chains of operators) answers 422 " +
			"`template_too_deep` before it is parsed. When broker.template_max_concurrent_renders checks and renderings are already " +
			"running on the replica, 429 `too_many_renders` with Retry-After.",
	},
	"get_template": {summary: "Get a template (admin; generator: system or its own)"},
	"update_template": {
		summary:     "Create the next version of a template (admin or the owning generator)",
		description: "Checked as on create: 422 `template_too_deep`, 429 `too_many_renders`.",
	},
	"delete_template":             {summary: "Soft-delete one template version (admin or the owning generator)"},
	"templates_list_labels":       {summary: "List a template's labels (admin; generator: system or its own)"},
	"templates_add_label":         {summary: "Add a label to a template (admin or the owning generator)"},
	"templates_remove_label":      {summary: "Remove a label from a template (admin or the owning generator)"},
	"templates_list_annotations":  {summary: "List a template's annotations (admin; generator: system or its own)"},
	"templates_add_annotation":    {summary: "Add an annotation to a template (admin or the owning generator)"},
	"templates_remove_annotation": {summary: "Remove an annotation from a template (admin or the owning generator)"},

	// Work orders.
	"list_work_orders":       {summary: "List active work orders, newest first (admin)"},
	"create_work_order":      {summary: "Create a work order (admin)"},
	"get_work_order":         {summary: "Get a work order, active or from the log (admin)"},
	"delete_work_order":      {summary: "Delete an active work order (admin)"},
	"list_pending_for_agent": {summary: "List the pending work orders an agent may claim (admin or the agent itself)"},
	"claim_work_order":       {summary: "Claim a pending work order for an agent (admin or that agent)"},
	"complete_work_order": {
		summary:     "Report the outcome of a work order (admin or the claiming agent)",
		description: "Success, or a failure that is not retryable or exhausted its retries, moves the order to the log (200). A retryable failure schedules a retry (202).",
	},
	"list_work_order_log": {summary: "List completed work orders, newest first (admin)"},
	"get_work_order_log":  {summary: "Get a completed work order (admin)"},

	// Fleet and admin.
	"list_fleet":          {summary: "List the fleet record of every live agent (admin)"},
	"list_audit_logs":     {summary: "List audit log entries, newest first, with filters and paging (admin)"},
	"reload_config":       {summary: "Reload the broker's dynamic settings (admin, not read-only)"},
	"list_ws_connections": {summary: "List the agents' open WebSocket connections (admin)"},
	"rotate_admin_pak": {
		summary: "Replace the admin PAK (admin, not read-only; additive)",
		description: "Mints a new admin PAK and answers it once; the old key stops authenticating on every replica " +
			"and the sockets opened with it are closed. A configured broker.pak_hash wins at every start, " +
			"so such a broker brings the old key back at its next start unless broker.pak_hash is changed (see warning).",
	},

	// Webhooks.
	"list_webhooks":    {summary: "List webhook subscriptions, newest first (admin)"},
	"list_event_types": {summary: "List the event types webhooks can subscribe to (admin)"},
	"create_webhook":   {summary: "Create a webhook subscription (admin)"},
	"get_webhook":      {summary: "Get a webhook subscription (admin)"},
	"update_webhook":   {summary: "Update a webhook subscription; only present, non-null keys change (admin)"},
	"delete_webhook":   {summary: "Delete a webhook subscription and its deliveries (admin)"},
	"list_deliveries":  {summary: "List a subscription's deliveries, newest first (admin)"},
	"test_webhook": {
		summary:     "Send a test event to a subscription's URL (admin)",
		description: "A non-2xx answer or a transport error is reported as 400 `webhook_test_failed`.",
	},
	"get_pending_agent_webhooks": {summary: "Claim up to 10 pending deliveries for an agent to send (admin, not read-only, or the agent itself)"},
	"report_delivery_result":     {summary: "Report the outcome of a delivery an agent sent (agent only)"},
}
