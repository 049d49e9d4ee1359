package main

import (
	"encoding/json"
	"strings"
)

// fixDocument sets the document-level fields: identity, server, security.
func (f *fixer) fixDocument() {
	f.doc["openapi"] = "3.0.3"
	f.doc["info"] = obj{
		"title":   "brokkr broker API",
		"version": "1.0.0",
		"description": "REST API of the brokkr broker, the hub that distributes Kubernetes objects " +
			"to agents running in many clusters. Every operation lives under /api/v1 and needs a " +
			"pre-authentication key (PAK). Every error response, including those produced by " +
			"authentication, routing and request decoding, is a JSON ErrorResponse.",
	}
	f.doc["servers"] = []any{obj{"url": "/api/v1"}}
	f.doc["security"] = []any{obj{"pak": []any{}}}
	comps := f.child(f.doc, "components", "document")
	comps["securitySchemes"] = obj{
		"pak": obj{
			"type": "apiKey",
			"in":   "header",
			"name": "Authorization",
			"description": "Pre-authentication key (PAK) of the admin, an agent or a generator, of the form " +
				"`<prefix>_<short>_<long>`. It is sent in the Authorization header either as " +
				"`Bearer <PAK>` or as the raw `<PAK>`; surrounding whitespace is ignored. What a " +
				"caller may do depends on the role the PAK resolves to (admin, read-only admin, " +
				"agent, generator).",
		},
	}
}

// fixSchemas corrects the reference's component schemas to the object shapes
// the broker serialises: every field is present, nullable ones as explicit
// null, unless noted as omitted when null.
func (f *fixer) fixSchemas() {
	f.dropNullStringExamples(f.schemas())

	// Error body: details is omitted when absent, never null.
	f.schema("ErrorResponse")["description"] = "Error body of every 4xx and 5xx response. `code` is stable and " +
		"meant for programs; `message` is free text; `details` carries structured context and is " +
		"omitted when there is none."
	f.setProp("ErrorResponse", "code", str("Stable machine-readable error code, e.g. `agent_not_found`."), false)
	f.setProp("ErrorResponse", "message", str("Human-readable description of the error."), false)
	f.setProp("ErrorResponse", "details", obj{
		"type":                 "object",
		"additionalProperties": obj{},
		"description":          "Structured context of the error; omitted when absent.",
	}, false)
	f.setRequired("ErrorResponse", "code", "message")

	// Agents.
	f.editProp("Agent", "k8s_api_latency_ms", func(p obj) {
		p["description"] = "Latency in milliseconds of the agent's last Kubernetes API probe; null when unreported."
	})
	f.editProp("Agent", "k8s_reachable", func(p obj) {
		p["description"] = "Whether the agent last reported its Kubernetes API as reachable; null when it never reported."
	})
	f.editProp("Agent", "k8s_reported_at", func(p obj) {
		p["description"] = "When the broker received the agent's last Kubernetes connectivity report; null when it never reported."
	})
	f.requireAll("Agent")
	f.requireAll("AgentLabel")
	f.requireAll("AgentAnnotation")
	f.requireAll("AgentTarget")
	f.requireAll("AgentEvent")
	f.requireAll("AgentGeneratorRegistration")
	f.schema("CreateAgentRequest")["description"] = "Body of agent creation. `generator_ids` lists generators " +
		"(besides the system generator, which is always added) the new agent is registered with."
	f.schema("CreateAgentResponse")["description"] = "The new agent and its PAK, which is shown only once."
	f.requireAll("CreateAgentResponse")
	f.schema("HeartbeatReport")["description"] = "Optional heartbeat body: the agent's own view of its Kubernetes API. " +
		"Absent or unparseable bodies are ignored."
	f.requireAll("AgentFleetStatusResponse")

	// Generators.
	f.setProp("Generator", "description", nullable(str("Free-text description of the generator.")), true)
	f.requireAll("Generator")
	f.setProp("NewGenerator", "description", nullable(str("Free-text description of the generator.")), true)
	f.requireAll("CreateGeneratorResponse")
	f.requireAll("PakSummary")

	// Stacks and deployment objects.
	f.setProp("Stack", "description", nullable(str("Free-text description of the stack.")), true)
	f.requireAll("Stack")
	f.setProp("NewStack", "description", nullable(str("Free-text description of the stack.")), true)
	f.requireAll("StackLabel")
	f.requireAll("StackAnnotation")
	f.requireAll("DeploymentObject")
	f.schema("CreateDeploymentObjectRequest")["description"] = "JSON form of a deployment object submission. " +
		"The same operation also accepts the raw YAML as the body (see its request body content types)."

	// Templates.
	f.setProp("StackTemplate", "description", nullable(str("Free-text description of the template.")), true)
	f.editProp("StackTemplate", "generator_id", func(p obj) {
		p["description"] = "Owning generator; null for a system template."
	})
	f.editProp("StackTemplate", "version", func(p obj) { p["minimum"] = json.Number("1") })
	f.editProp("StackTemplate", "parameters_schema", func(p obj) {
		p["description"] = "JSON Schema of the template parameters, as a string containing JSON."
	})
	f.editProp("StackTemplate", "checksum", func(p obj) {
		p["description"] = "Lowercase hex SHA-256 of template_content."
	})
	f.requireAll("StackTemplate")
	f.requireAll("TemplateLabel")
	f.requireAll("TemplateAnnotation")
	f.editProp("TemplateInstantiationRequest", "parameters", func(p obj) {
		p["nullable"] = true
		p["description"] = "Template parameters: any JSON value, validated against the template's parameters_schema."
	})

	// Work orders.
	f.editProp("WorkOrder", "status", func(p obj) {
		enum(p, "PENDING", "CLAIMED", "RETRY_PENDING", "COMPLETED", "FAILED")
		p["description"] = "Queue status. COMPLETED and FAILED appear only when the order is read back from the log."
	})
	f.requireAll("WorkOrder")
	f.requireAll("WorkOrderLog")
	f.setProp("CreateWorkOrderRequest", "targeting", nullableRef("WorkOrderTargeting",
		"Agents that may claim the order: explicit ids, or agents sharing a label or an annotation."), false)

	// Diagnostics.
	f.editProp("DiagnosticRequest", "status", func(p obj) {
		enum(p, "pending", "claimed", "completed", "failed", "expired")
	})
	f.requireAll("DiagnosticRequest")
	f.requireAll("DiagnosticResult")
	f.setProp("DiagnosticResponse", "result", nullableRef("DiagnosticResult", "The result; null until one was submitted."), false)
	f.requireAll("DiagnosticResponse")
	f.editProp("CreateDiagnosticRequest", "retention_minutes", func(p obj) {
		p["minimum"] = json.Number("1")
		p["maximum"] = json.Number("1440")
	})

	// Deployment health.
	healthStatus := []string{"healthy", "degraded", "failing", "unknown"}
	f.editProp("DeploymentHealth", "status", func(p obj) { enum(p, healthStatus...) })
	f.editProp("DeploymentHealth", "summary", func(p obj) {
		p["description"] = "HealthSummary serialised as a JSON string; null when none was reported."
	})
	f.requireAll("DeploymentHealth")
	f.editProp("DeploymentHealthResponse", "overall_status", func(p obj) { enum(p, healthStatus...) })
	f.requireAll("DeploymentHealthResponse")
	f.editProp("DeploymentObjectHealthSummary", "status", func(p obj) { enum(p, healthStatus...) })
	for _, c := range []string{"healthy_agents", "degraded_agents", "failing_agents"} {
		f.editProp("DeploymentObjectHealthSummary", c, func(p obj) { p["format"] = "int64" })
	}
	f.requireAll("DeploymentObjectHealthSummary")
	f.editProp("StackHealthResponse", "overall_status", func(p obj) { enum(p, healthStatus...) })
	f.requireAll("StackHealthResponse")
	f.editProp("DeploymentObjectHealthUpdate", "status", func(p obj) { enum(p, healthStatus...) })
	f.setProp("DeploymentObjectHealthUpdate", "summary", nullableRef("HealthSummary", "Details of the object's health."), false)

	// Telemetry.
	f.setProp("AgentK8sEvent", "involved_object", object(obj{
		"api_version": str(""),
		"kind":        str(""),
		"namespace":   nullable(str("")),
		"name":        str(""),
		"uid":         nullable(str("")),
	}, []string{"api_version", "kind", "name"}, "The Kubernetes object the event is about."), false)
	f.requireAll("AgentK8sEvent")
	f.requireAll("AgentPodLog")
	f.editProp("RetentionInfo", "oldest_available_ts", func(p obj) {
		p["description"] = "created_at of the last row of the returned page; null when the page is empty."
	})
	f.requireAll("RetentionInfo")
	f.requireAll("K8sEventHistoryResponse")
	f.requireAll("PodLogHistoryResponse")

	// Webhooks.
	f.schema("WebhookFilters")["description"] = "Payload filters of a subscription. Every set field must be " +
		"present in the event data with an equal value; an event that lacks a filtered field does not match."
	f.schema("CreateWebhookRequest")["description"] = "Body of webhook creation. Unknown keys are ignored, except " +
		"a top-level `validate` key and a `filters.labels` key, which are rejected with 422 `unsupported_field`."
	f.setProp("CreateWebhookRequest", "filters", nullableRef("WebhookFilters", "Payload filters (agent_id, stack_id)."), false)
	f.editProp("CreateWebhookRequest", "max_retries", func(p obj) {
		p["minimum"] = json.Number("0")
		p["maximum"] = json.Number("10")
	})
	f.editProp("CreateWebhookRequest", "timeout_seconds", func(p obj) {
		p["minimum"] = json.Number("1")
		p["maximum"] = json.Number("300")
	})
	f.setProp("UpdateWebhookRequest", "filters", nullableRef("WebhookFilters",
		"Payload filters; a `labels` key inside is rejected with 422 `unsupported_field`."), false)
	f.setProp("WebhookResponse", "filters", nullableRef("WebhookFilters",
		"Payload filters as stored; keys that are not set are omitted."), false)
	f.requireAll("WebhookResponse")
	f.editProp("WebhookDelivery", "status", func(p obj) {
		enum(p, "pending", "acquired", "success", "failed", "dead")
	})
	f.requireAll("WebhookDelivery")
	f.requireAll("PendingWebhookDelivery")

	// Audit log.
	f.editProp("AuditLog", "actor_type", func(p obj) { enum(p, "admin", "agent", "generator", "system") })
	f.editProp("AuditLog", "details", func(p obj) { p["nullable"] = true })
	for _, name := range []string{"ip_address", "user_agent"} {
		f.editProp("AuditLog", name, func(p obj) {
			delete(p, "nullable")
			desc, _ := p["description"].(string)
			p["description"] = strings.TrimSpace(desc + " Omitted when unknown.")
		})
	}
	f.requireAll("AuditLog", "ip_address", "user_agent")
	f.fixAuditLogEntry()
	f.editProp("AuditLogListResponse", "count", func(p obj) { p["format"] = "int64" })
	f.requireAll("AuditLogListResponse")

	// Fleet and admin.
	f.editProp("FleetAgentRecord", "k8s_reachable", func(p obj) {
		p["description"] = "Whether the agent last reported its Kubernetes API as reachable; null when it never reported."
	})
	f.requireAll("FleetAgentRecord")
	f.editProp("ConfigReloadResponse", "message", func(p obj) {
		delete(p, "nullable")
		p["description"] = "`<n> setting(s) updated` or `No changes detected`."
	})
	f.requireAll("ConfigReloadResponse")
	f.requireAll("ConfigChangeInfo")
	f.editProp("WsConnectionsResponse", "live_subscribers", func(p obj) {
		p["description"] = "Number of live-tail subscribers across all stacks."
		p["format"] = "int64"
	})
	f.editProp("WsConnectionsResponse", "connected_agents", func(p obj) { p["format"] = "int64" })
	f.requireAll("WsConnectionsResponse")
	f.requireAll("WsConnectionInfo")

	// Auth.
	for _, name := range []string{"agent", "generator"} {
		f.editProp("AuthResponse", name, func(p obj) { p["format"] = "uuid" })
	}
	f.requireAll("AuthResponse")
}

// fixAuditLogEntry makes actor_name required (it is always serialised).
func (f *fixer) fixAuditLogEntry() {
	s := f.schema("AuditLogEntry")
	s["description"] = "An audit log record with the actor's current display name: `admin`, `system`, " +
		"the agent or generator name, or null when the actor no longer resolves."
	parts, ok := s["allOf"].([]any)
	if !ok || len(parts) != 2 {
		f.failf("schema AuditLogEntry: expected allOf of two parts")
		return
	}
	extra, ok := parts[1].(obj)
	if !ok {
		f.failf("schema AuditLogEntry: second allOf part is not an object")
		return
	}
	requireAllOf(f, extra, "schema AuditLogEntry.allOf[1]")
}

// dropNullStringExamples removes examples of nullable properties that the
// reference wrote as the string "null", which contradicts their format.
func (f *fixer) dropNullStringExamples(v any) {
	switch t := v.(type) {
	case obj:
		if t["example"] == "null" && t["nullable"] == true {
			delete(t, "example")
		}
		for _, e := range t {
			f.dropNullStringExamples(e)
		}
	case []any:
		for _, e := range t {
			f.dropNullStringExamples(e)
		}
	}
}

// addSchemas defines the bodies that the reference left untyped or wrong.
func (f *fixer) addSchemas() {
	schemas := f.schemas()
	add := func(name string, s obj) {
		if _, ok := schemas[name]; ok {
			f.failf("schema %s already exists in the reference", name)
			return
		}
		schemas[name] = s
	}

	add("UpdateAgentRequest", obj{
		"type": "object",
		"description": "Body of agent update: any JSON object. Only string values of name, cluster_name " +
			"and status are applied; other keys are ignored.",
		"properties": obj{
			"name":         str("New agent name."),
			"cluster_name": str("New cluster name."),
			"status":       str("New status (free text, at most 50 characters)."),
		},
	})

	add("RotateAgentPakResponse", object(obj{
		"agent": ref("Agent"),
		"pak":   str("The agent's new PAK, shown only once."),
	}, []string{"agent", "pak"}, "The agent and its freshly minted PAK."))

	gen := deepCopy(f.schema("Generator")).(obj)
	gen["description"] = "Body of generator update: a full Generator. Every field except id is written; " +
		"null fields leave their column unchanged."
	gen["required"] = []any{"id", "created_at", "updated_at", "name", "is_active", "is_system"}
	add("UpdateGeneratorRequest", gen)

	stack := deepCopy(f.schema("Stack")).(obj)
	stack["description"] = "Body of stack update: a full Stack whose id equals the path id. Every other " +
		"field is written; null fields leave their column unchanged."
	stack["required"] = []any{"id", "created_at", "updated_at", "name", "generator_id"}
	add("UpdateStackRequest", stack)

	add("WorkOrderRetryScheduled", object(obj{
		"status": enum(str(""), "retry_scheduled"),
	}, []string{"status"}, "The failure was recorded and the work order will be offered again after its backoff."))

	add("WebhookTestResponse", object(obj{
		"success":     boolean("Always true: a failed test answers 400 `webhook_test_failed`."),
		"status_code": integer("int32", "HTTP status the endpoint answered with."),
		"message":     str(""),
	}, []string{"success", "status_code", "message"}, "Outcome of a successful test delivery."))

	add("DeliveryResultResponse", object(obj{
		"status":        enum(str("New delivery status."), "success", "failed", "dead"),
		"delivery_id":   uuidStr(""),
		"attempts":      integer("int32", "Attempts so far; present for failures."),
		"next_retry_at": nullable(dateTime("When the delivery will be retried; present for failures.")),
	}, []string{"status", "delivery_id"}, "The delivery's state after the reported attempt."))
}
