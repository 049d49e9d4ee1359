package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// obj is one JSON object of the document tree.
type obj = map[string]any

const (
	schemaPrefix   = "#/components/schemas/"
	responsePrefix = "#/components/responses/"
)

// httpMethods are the operation keys of an OpenAPI path item.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// build turns the reference document into the broker's own document.
func build(ref []byte) ([]byte, error) {
	var doc obj
	dec := json.NewDecoder(bytes.NewReader(ref))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode reference: %w", err)
	}

	f := &fixer{doc: doc}
	f.fixDocument()
	f.fixSchemas()
	f.addSchemas()
	f.addPaging()
	f.fixOperations()
	f.addErrorResponses()
	if f.err != nil {
		return nil, f.err
	}
	return encode(doc)
}

// encode writes the tree as indented JSON; encoding/json sorts object keys,
// so the output is deterministic.
func encode(doc obj) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return buf.Bytes(), nil
}

// fixer edits the generic JSON tree and remembers the first problem, so a
// reference whose shape no longer matches the corrections fails generation
// instead of being patched half-way.
type fixer struct {
	doc obj
	err error
}

func (f *fixer) failf(format string, args ...any) {
	if f.err == nil {
		f.err = fmt.Errorf(format, args...)
	}
}

// child returns the object at m[key]; where names m in error messages.
func (f *fixer) child(m obj, key, where string) obj {
	v, ok := m[key].(obj)
	if !ok {
		f.failf("%s: no object %q", where, key)
		return obj{}
	}
	return v
}

func (f *fixer) schemas() obj {
	return f.child(f.child(f.doc, "components", "document"), "schemas", "components")
}

func (f *fixer) schema(name string) obj {
	return f.child(f.schemas(), name, "components.schemas")
}

func (f *fixer) props(schema string) obj {
	return f.child(f.schema(schema), "properties", "schema "+schema)
}

// setProp replaces (or adds, when add is true) one property of a schema.
func (f *fixer) setProp(schema, name string, value obj, add bool) {
	props := f.props(schema)
	if _, ok := props[name]; !ok && !add {
		f.failf("schema %s: no property %q to replace", schema, name)
		return
	}
	props[name] = value
}

// editProp changes one existing property of a schema in place.
func (f *fixer) editProp(schema, name string, edit func(p obj)) {
	props := f.props(schema)
	p, ok := props[name].(obj)
	if !ok {
		f.failf("schema %s: no property %q", schema, name)
		return
	}
	edit(p)
}

// requireAll makes every property of the schema required except the listed
// ones. The reference's order of required names is kept and the rest follow
// sorted.
func (f *fixer) requireAll(name string, except ...string) {
	s := f.schema(name)
	requireAllOf(f, s, "schema "+name, except...)
}

func requireAllOf(f *fixer, s obj, where string, except ...string) {
	props := f.child(s, "properties", where)
	for _, e := range except {
		if _, ok := props[e]; !ok {
			f.failf("%s: no property %q to leave optional", where, e)
		}
	}
	var required []any
	seen := map[string]bool{}
	if old, ok := s["required"].([]any); ok {
		for _, r := range old {
			name, _ := r.(string)
			if slices.Contains(except, name) {
				continue
			}
			required = append(required, name)
			seen[name] = true
		}
	}
	var rest []string
	for p := range props {
		if !seen[p] && !slices.Contains(except, p) {
			rest = append(rest, p)
		}
	}
	sort.Strings(rest)
	for _, p := range rest {
		required = append(required, p)
	}
	s["required"] = required
}

// setRequired replaces the required list of a schema.
func (f *fixer) setRequired(name string, required ...string) {
	s := f.schema(name)
	props := f.child(s, "properties", "schema "+name)
	list := make([]any, 0, len(required))
	for _, r := range required {
		if _, ok := props[r]; !ok {
			f.failf("schema %s: required property %q does not exist", name, r)
		}
		list = append(list, r)
	}
	s["required"] = list
}

// Schema constructors.

func ref(name string) obj { return obj{"$ref": schemaPrefix + name} }

// nullableRef is a reference that also admits null (OpenAPI 3.0 ignores
// siblings of $ref, so the reference is wrapped in allOf).
func nullableRef(name, desc string) obj {
	o := obj{"allOf": []any{ref(name)}, "nullable": true}
	if desc != "" {
		o["description"] = desc
	}
	return o
}

func withDesc(o obj, desc string) obj {
	if desc != "" {
		o["description"] = desc
	}
	return o
}

func str(desc string) obj      { return withDesc(obj{"type": "string"}, desc) }
func uuidStr(desc string) obj  { return withDesc(obj{"type": "string", "format": "uuid"}, desc) }
func dateTime(desc string) obj { return withDesc(obj{"type": "string", "format": "date-time"}, desc) }
func boolean(desc string) obj  { return withDesc(obj{"type": "boolean"}, desc) }
func integer(format, desc string) obj {
	return withDesc(obj{"type": "integer", "format": format}, desc)
}

func nullable(o obj) obj {
	o["nullable"] = true
	return o
}

func enum(o obj, values ...string) obj {
	list := make([]any, len(values))
	for i, v := range values {
		list[i] = v
	}
	o["enum"] = list
	return o
}

func object(props obj, required []string, desc string) obj {
	o := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		list := make([]any, len(required))
		for i, r := range required {
			list[i] = r
		}
		o["required"] = list
	}
	return withDesc(o, desc)
}

// deepCopy copies a JSON tree.
func deepCopy(v any) any {
	switch t := v.(type) {
	case obj:
		c := make(obj, len(t))
		for k, e := range t {
			c[k] = deepCopy(e)
		}
		return c
	case []any:
		c := make([]any, len(t))
		for i, e := range t {
			c[i] = deepCopy(e)
		}
		return c
	default:
		return v
	}
}

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

// errorResponse describes one shared error response.
type errorResponse struct {
	code, name, desc string
}

var errorResponses = []errorResponse{
	{"400", "BadRequest", "The request is invalid: an unparseable JSON body, a malformed path or query parameter, or a value the operation rejects."},
	{"401", "Unauthorized", "The Authorization header is missing or does not carry a valid PAK."},
	{"403", "Forbidden", "The caller's role may not perform this operation on this resource; read-only credentials may only read."},
	{"404", "NotFound", "The resource, or one the operation depends on, does not exist."},
	{"409", "Conflict", "The write conflicts with existing state, for example a uniqueness constraint."},
	{"413", "PayloadTooLarge", "The request body exceeds the size limit (2 MiB)."},
	{"415", "UnsupportedMediaType", "The request body was not sent with a supported Content-Type."},
	{"422", "Unprocessable", "The body is well-formed but has the wrong shape, fails a range check, or refers to rows that do not exist."},
	{"429", "TooManyRequests", "The broker is overloaded (code `overloaded`) and did not process the request: it was already serving and queueing as many requests as it may (broker.max_inflight_requests), and no slot freed within broker.max_queue_wait_ms. Retry after the number of seconds in the Retry-After header."},
	{"500", "InternalError", "An unexpected server-side failure."},
	{"503", "ServiceUnavailable", "The feature is not available on this broker."},
}

func errorResponseName(code string) (string, bool) {
	for _, e := range errorResponses {
		if e.code == code {
			return e.name, true
		}
	}
	return "", false
}

func (f *fixer) addErrorResponses() {
	comps := f.child(f.doc, "components", "document")
	responses := obj{}
	for _, e := range errorResponses {
		responses[e.name] = obj{
			"description": e.desc,
			"content": obj{
				"application/json": obj{"schema": ref("ErrorResponse")},
			},
		}
		if e.code == "429" {
			responses[e.name].(obj)["headers"] = obj{"Retry-After": obj{
				"description": "Seconds to wait before retrying.",
				"schema":      obj{"type": "integer", "minimum": 1},
			}}
		}
	}
	comps["responses"] = responses
}

// operation is one operation of the document with its location.
type operation struct {
	path, method string
	op           obj
}

// operations indexes the document's operations by operationId.
func (f *fixer) operations() map[string]operation {
	paths := f.child(f.doc, "paths", "document")
	ops := map[string]operation{}
	for path, item := range paths {
		pi, ok := item.(obj)
		if !ok {
			f.failf("path %s: not an object", path)
			continue
		}
		for _, m := range httpMethods {
			op, ok := pi[m].(obj)
			if !ok {
				continue
			}
			id, _ := op["operationId"].(string)
			if id == "" {
				f.failf("%s %s: no operationId", m, path)
				continue
			}
			if _, dup := ops[id]; dup {
				f.failf("operationId %s used twice", id)
			}
			ops[id] = operation{path: path, method: m, op: op}
		}
	}
	return ops
}

// conflictOps are the writes that can hit a uniqueness rule (409).
var conflictOps = map[string]bool{
	"create_agent":             true,
	"update_agent":             true,
	"agents_add_label":         true,
	"agents_add_annotation":    true,
	"add_target":               true,
	"create_generator":         true,
	"update_generator":         true,
	"register_agent":           true,
	"create_stack":             true,
	"update_stack":             true,
	"stacks_add_label":         true,
	"stacks_add_annotation":    true,
	"create_template":          true,
	"update_template":          true,
	"templates_add_label":      true,
	"templates_add_annotation": true,
	"create_work_order":        true,
	"claim_diagnostic":         true,
	"submit_diagnostic_result": true,
}

// notForbidden are the operations no valid PAK is refused (so no 403).
var notForbidden = map[string]bool{"verify_pak": true}

// fixOperations applies per-operation corrections and documents every error
// status each operation can answer with.
func (f *fixer) fixOperations() {
	ops := f.operations()
	for id := range operationDocs {
		if _, ok := ops[id]; !ok {
			f.failf("operation docs name unknown operation %s", id)
		}
	}
	for id := range operationFixes {
		if _, ok := ops[id]; !ok {
			f.failf("operation fixes name unknown operation %s", id)
		}
	}
	for id := range conflictOps {
		if _, ok := ops[id]; !ok {
			f.failf("conflict list names unknown operation %s", id)
		}
	}
	ids := make([]string, 0, len(ops))
	for id := range ops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		o := ops[id]
		delete(o.op, "security")
		doc, ok := operationDocs[id]
		if !ok {
			f.failf("operation %s has no summary", id)
		}
		o.op["summary"] = doc.summary
		delete(o.op, "description")
		if doc.description != "" {
			o.op["description"] = doc.description
		}
		if fix := operationFixes[id]; fix != nil {
			fix(f, o)
		}
		f.setErrorResponses(id, o)
	}
}

// setErrorResponses keeps the success responses of an operation and replaces
// its error responses with references to the shared ones.
func (f *fixer) setErrorResponses(id string, o operation) {
	responses := f.child(o.op, "responses", id)
	// Any operation may be refused by admission control (429 overloaded).
	codes := map[string]bool{"401": true, "429": true, "500": true}
	for code := range responses {
		if strings.HasPrefix(code, "2") {
			continue
		}
		codes[code] = true
		delete(responses, code)
	}

	params, _ := o.op["parameters"].([]any)
	hasPathParam := false
	for _, p := range params {
		if po, ok := p.(obj); ok && po["in"] == "path" {
			hasPathParam = true
		}
	}
	_, hasBody := o.op["requestBody"]

	if len(params) > 0 || hasBody {
		codes["400"] = true
	}
	if !notForbidden[id] {
		codes["403"] = true
	}
	if hasPathParam {
		codes["404"] = true
	}
	if conflictOps[id] {
		codes["409"] = true
	}
	if hasBody {
		codes["413"] = true
		codes["415"] = true
		codes["422"] = true
	}
	for code := range codes {
		name, ok := errorResponseName(code)
		if !ok {
			f.failf("operation %s: no shared response for status %s", id, code)
			continue
		}
		responses[code] = obj{"$ref": responsePrefix + name}
	}
}

// jsonContent returns the application/json media type object of a request
// body or response.
func (f *fixer) jsonContent(container obj, where string) obj {
	return f.child(f.child(container, "content", where), "application/json", where+".content")
}

func (f *fixer) response(o operation, code string) obj {
	return f.child(f.child(o.op, "responses", o.method+" "+o.path), code, o.method+" "+o.path+" responses")
}

func (f *fixer) requestBody(o operation) obj {
	return f.child(o.op, "requestBody", o.method+" "+o.path)
}

func (f *fixer) setJSONResponseSchema(o operation, code string, schema obj) {
	resp := f.response(o, code)
	content, _ := resp["content"].(obj)
	if content == nil {
		content = obj{}
		resp["content"] = content
	}
	content["application/json"] = obj{"schema": schema}
}

func (f *fixer) setJSONRequestSchema(o operation, schema obj) {
	f.jsonContent(f.requestBody(o), o.method+" "+o.path+" requestBody")["schema"] = schema
}

// yamlMediaTypes are the media types under which raw YAML is exchanged.
var yamlMediaTypes = []string{"application/yaml", "text/yaml", "application/x-yaml"}

// operationFixes corrects single operations where the reference differs
// from the broker's behaviour.
var operationFixes = map[string]func(f *fixer, o operation){
	"update_agent": func(f *fixer, o operation) {
		f.setJSONRequestSchema(o, ref("UpdateAgentRequest"))
	},
	"record_heartbeat": func(f *fixer, o operation) {
		body := f.requestBody(o)
		body["required"] = false
		body["description"] = "Optional connectivity report; an absent or unparseable body is ignored."
	},
	"rotate_agent_pak": func(f *fixer, o operation) {
		f.setJSONResponseSchema(o, "200", ref("RotateAgentPakResponse"))
	},
	"update_generator": func(f *fixer, o operation) {
		f.setJSONRequestSchema(o, ref("UpdateGeneratorRequest"))
	},
	"update_stack": func(f *fixer, o operation) {
		f.setJSONRequestSchema(o, ref("UpdateStackRequest"))
	},
	"get_deployment_object": func(f *fixer, o operation) {
		resp := f.response(o, "200")
		content := f.child(resp, "content", "get_deployment_object 200")
		content["application/yaml"] = obj{"schema": str("The raw yaml_content, served when Accept lists a YAML media type.")}
		resp["description"] = "The deployment object: JSON, or its raw YAML content when the Accept header " +
			"lists application/yaml, text/yaml or application/x-yaml."
	},
	"create_deployment_object": func(f *fixer, o operation) {
		body := f.requestBody(o)
		content := f.child(body, "content", "create_deployment_object requestBody")
		for _, mt := range yamlMediaTypes {
			content[mt] = obj{"schema": str("Raw YAML (UTF-8); stored as yaml_content. The deletion_marker query parameter sets the marker flag.")}
		}
		body["description"] = "Either the JSON CreateDeploymentObjectRequest, or the raw YAML sent as " +
			"application/yaml, text/yaml or application/x-yaml."
		params, _ := o.op["parameters"].([]any)
		found := false
		for _, p := range params {
			po, ok := p.(obj)
			if ok && po["name"] == "deletion_marker" && po["in"] == "query" {
				found = true
				po["schema"] = obj{"type": "boolean", "default": false}
				po["description"] = "Marks a raw-YAML submission as a deletion marker; ignored for JSON bodies, which carry is_deletion_marker."
			}
		}
		if !found {
			f.failf("create_deployment_object: no deletion_marker query parameter")
		}
	},
	"complete_work_order": func(f *fixer, o operation) {
		responses := f.child(o.op, "responses", "complete_work_order")
		f.response(o, "200")["description"] = "The order succeeded, or failed for good, and moved to the log."
		responses["202"] = obj{
			"description": "The failure is retryable: the order waits for its backoff and is offered again.",
			"content": obj{
				"application/json": obj{"schema": ref("WorkOrderRetryScheduled")},
			},
		}
	},
	"test_webhook": func(f *fixer, o operation) {
		f.setJSONResponseSchema(o, "200", ref("WebhookTestResponse"))
	},
	"report_delivery_result": func(f *fixer, o operation) {
		f.setJSONResponseSchema(o, "200", ref("DeliveryResultResponse"))
	},
	"update_health_status": func(f *fixer, o operation) {
		f.response(o, "200")["description"] = "Health records stored; the body is empty."
	},
	"stacks_add_label": func(f *fixer, o operation) {
		f.setJSONRequestSchema(o, str("The label as a bare JSON string, e.g. \"env:prod\": non-blank, at most 64 bytes, no whitespace."))
	},
	"templates_add_label": func(f *fixer, o operation) {
		f.setJSONRequestSchema(o, str("The label as a bare JSON string: non-blank, at most 64 characters, no whitespace."))
	},
}

// operationList renders the reference's operations as "METHOD /path
// operationId" lines sorted by path, then method.
func operationList(ref []byte) ([]byte, error) {
	var doc obj
	if err := json.Unmarshal(ref, &doc); err != nil {
		return nil, fmt.Errorf("decode reference: %w", err)
	}
	f := &fixer{doc: doc}
	type line struct{ path, method, id string }
	var lines []line
	for id, o := range f.operations() {
		lines = append(lines, line{o.path, strings.ToUpper(o.method), id})
	}
	if f.err != nil {
		return nil, f.err
	}
	sort.Slice(lines, func(i, j int) bool {
		if lines[i].path != lines[j].path {
			return lines[i].path < lines[j].path
		}
		return lines[i].method < lines[j].method
	})
	var buf bytes.Buffer
	for _, l := range lines {
		fmt.Fprintf(&buf, "%s %s %s\n", l.method, l.path, l.id)
	}
	return buf.Bytes(), nil
}
