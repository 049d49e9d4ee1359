package api_test

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/brokkr/brokkr/api"
)

// referenceOperations lists the reference document's operations, one
// "METHOD /path operationId" per line (written by ./internal/gen).
//
//go:embed testdata/reference-operations.txt
var referenceOperations string

// load parses and validates a document with kin-openapi.
func load(t *testing.T, data []byte) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		t.Fatalf("load document: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate document: %v", err)
	}
	return doc
}

// eachOperation calls fn for every operation of doc in a stable order.
func eachOperation(doc *openapi3.T, fn func(method, path string, op *openapi3.Operation)) {
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		ops := item.Operations()
		methods := make([]string, 0, len(ops))
		for m := range ops {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, m := range methods {
			fn(m, path, ops[m])
		}
	}
}

func TestDocumentLoadsAndValidates(t *testing.T) {
	doc := load(t, api.Document())
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if doc.Info.Title != "brokkr broker API" {
		t.Errorf("info.title = %q", doc.Info.Title)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/api/v1" {
		t.Errorf("servers = %v, want one with url /api/v1", doc.Servers)
	}
}

func TestDocumentIsPrettyAndDeterministic(t *testing.T) {
	data := api.Document()
	var tree any
	if err := json.Unmarshal(data, &tree); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(tree); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), data) {
		t.Error("openapi.json is not in canonical form (sorted keys, two-space indent); regenerate it with go generate")
	}
	data[0] = 'x'
	if api.Document()[0] == 'x' {
		t.Error("Document returns the embedded slice itself")
	}
}

func TestSecurity(t *testing.T) {
	doc := load(t, api.Document())
	scheme := doc.Components.SecuritySchemes["pak"]
	if scheme == nil || scheme.Value == nil {
		t.Fatal("no pak security scheme")
	}
	s := scheme.Value
	if s.Type != "apiKey" || s.In != "header" || s.Name != "Authorization" {
		t.Errorf("pak scheme = %s in %s %q, want apiKey in header Authorization", s.Type, s.In, s.Name)
	}
	for _, form := range []string{"Bearer <PAK>", "raw `<PAK>`"} {
		if !strings.Contains(s.Description, form) {
			t.Errorf("pak scheme description does not document the %q form", form)
		}
	}
	if len(doc.Components.SecuritySchemes) != 1 {
		t.Errorf("security schemes = %d, want only pak", len(doc.Components.SecuritySchemes))
	}
	if len(doc.Security) != 1 || doc.Security[0]["pak"] == nil {
		t.Errorf("global security = %v, want [{pak: []}]", doc.Security)
	}
	eachOperation(doc, func(method, path string, op *openapi3.Operation) {
		if op.Security != nil {
			t.Errorf("%s %s overrides the global security", method, path)
		}
	})
}

func TestOperationsMatchReference(t *testing.T) {
	var want []api.Operation
	sc := bufio.NewScanner(strings.NewReader(referenceOperations))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 3 {
			t.Fatalf("bad reference line %q", sc.Text())
		}
		want = append(want, api.Operation{Method: fields[0], Path: fields[1], OperationID: fields[2]})
	}
	if len(want) != 95 {
		t.Fatalf("reference lists %d operations, want 95", len(want))
	}
	// The operations the broker adds to the reference, each marked x-brokkr-additive.
	additive := []api.Operation{
		{Method: "POST", Path: "/admin/rotate-pak", OperationID: "rotate_admin_pak"},
		{Method: "GET", Path: "/read-only-paks", OperationID: "list_read_only_paks"},
		{Method: "POST", Path: "/read-only-paks", OperationID: "create_read_only_pak"},
		{Method: "DELETE", Path: "/read-only-paks/{id}", OperationID: "revoke_read_only_pak"},
		{Method: "GET", Path: "/agents/{id}/stack-settings", OperationID: "agent_stack_settings"},
		{Method: "GET", Path: "/stacks/{id}/drift", OperationID: "stack_drift"},
		{Method: "GET", Path: "/agents/{id}/holds", OperationID: "agent_holds"},
		{Method: "GET", Path: "/stacks/{id}/holds", OperationID: "stack_holds"},
		{Method: "GET", Path: "/stacks/{id}/dependencies", OperationID: "stack_dependencies"},
		{Method: "PUT", Path: "/stacks/{id}/rollout-policy", OperationID: "set_rollout_policy"},
		{Method: "GET", Path: "/stacks/{id}/rollout-policy", OperationID: "get_rollout_policy"},
		{Method: "DELETE", Path: "/stacks/{id}/rollout-policy", OperationID: "delete_rollout_policy"},
		{Method: "GET", Path: "/stacks/{id}/rollout", OperationID: "get_rollout"},
		{Method: "GET", Path: "/stacks/{id}/rollouts", OperationID: "list_rollouts"},
		{Method: "POST", Path: "/stacks/{id}/rollout/{action}", OperationID: "rollout_action"},
		{Method: "POST", Path: "/apply-windows", OperationID: "create_apply_window"},
		{Method: "GET", Path: "/apply-windows", OperationID: "list_apply_windows"},
		{Method: "GET", Path: "/apply-windows/{id}", OperationID: "get_apply_window"},
		{Method: "DELETE", Path: "/apply-windows/{id}", OperationID: "delete_apply_window"},
	}
	marked := map[api.Operation]bool{}
	eachOperation(load(t, api.Document()), func(method, path string, op *openapi3.Operation) {
		if op.Extensions["x-brokkr-additive"] == true {
			marked[api.Operation{Method: method, Path: path, OperationID: op.OperationID}] = true
		}
	})
	var got []api.Operation
	for _, op := range api.Operations() {
		if !marked[op] {
			got = append(got, op)
		} else if !slices.Contains(additive, op) {
			t.Errorf("%v is marked additive but not listed here", op)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("operations differ from the reference:\n got %v\nwant %v", got, want)
	}
	for _, op := range additive {
		if !marked[op] {
			t.Errorf("additive operation %v is missing or not marked x-brokkr-additive", op)
		}
	}
}

func TestOperationsSortedAndComplete(t *testing.T) {
	got := api.Operations()
	if !sort.SliceIsSorted(got, func(i, j int) bool {
		if got[i].Path != got[j].Path {
			return got[i].Path < got[j].Path
		}
		return got[i].Method < got[j].Method
	}) {
		t.Error("Operations is not sorted by path, then method")
	}

	doc := load(t, api.Document())
	var fromDoc []api.Operation
	eachOperation(doc, func(method, path string, op *openapi3.Operation) {
		fromDoc = append(fromDoc, api.Operation{Method: method, Path: path, OperationID: op.OperationID})
	})
	if len(got) != len(fromDoc) {
		t.Fatalf("Operations has %d entries, the document %d", len(got), len(fromDoc))
	}
	ids := map[string]bool{}
	for _, op := range fromDoc {
		if !slices.Contains(got, op) {
			t.Errorf("Operations misses %v", op)
		}
		if op.OperationID == "" || ids[op.OperationID] {
			t.Errorf("operationId %q empty or duplicated", op.OperationID)
		}
		ids[op.OperationID] = true
	}

	got[0].Path = "changed"
	if api.Operations()[0].Path == "changed" {
		t.Error("Operations returns shared state")
	}
}

// isErrorResponse reports whether r is exactly a JSON ErrorResponse.
func isErrorResponse(r *openapi3.ResponseRef) bool {
	if r == nil || r.Value == nil || len(r.Value.Content) != 1 {
		return false
	}
	mt := r.Value.Content["application/json"]
	return mt != nil && mt.Schema != nil && mt.Schema.Ref == "#/components/schemas/ErrorResponse"
}

func TestErrorResponses(t *testing.T) {
	doc := load(t, api.Document())
	eachOperation(doc, func(method, path string, op *openapi3.Operation) {
		name := method + " " + path + " (" + op.OperationID + ")"
		if op.Responses.Default() != nil {
			t.Errorf("%s: has a default response", name)
		}
		var pathParams, params bool
		for _, p := range op.Parameters {
			params = true
			if p.Value.In == "path" {
				pathParams = true
			}
		}
		hasBody := op.RequestBody != nil
		want := []int{401, 500}
		if op.OperationID != "verify_pak" {
			want = append(want, 403)
		}
		if params || hasBody {
			want = append(want, 400)
		}
		if pathParams {
			want = append(want, 404)
		}
		if hasBody {
			want = append(want, 413, 415, 422)
		}
		for _, code := range want {
			if !isErrorResponse(op.Responses.Status(code)) {
				t.Errorf("%s: no %d ErrorResponse", name, code)
			}
		}
		successes := 0
		for code, r := range op.Responses.Map() {
			if strings.HasPrefix(code, "2") {
				successes++
				for ct := range r.Value.Content {
					if ct != "application/json" && ct != "application/yaml" {
						t.Errorf("%s: %s response has content type %s", name, code, ct)
					}
				}
				continue
			}
			if code == "304" { // a conditional request's answer: no body, the current tag
				if len(r.Value.Content) != 0 || r.Value.Headers["ETag"] == nil {
					t.Errorf("%s: 304 must have no content and an ETag header", name)
				}
				continue
			}
			if !isErrorResponse(r) {
				t.Errorf("%s: %s is not an ErrorResponse", name, code)
			}
			if r.Ref == "" {
				t.Errorf("%s: %s does not use a shared components/responses entry", name, code)
			}
		}
		if successes == 0 {
			t.Errorf("%s: no success response", name)
		}
	})

	for _, name := range []string{"BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict",
		"PayloadTooLarge", "UnsupportedMediaType", "Unprocessable", "InternalError"} {
		if !isErrorResponse(&openapi3.ResponseRef{Value: doc.Components.Responses[name].Value}) {
			t.Errorf("components/responses/%s is not an ErrorResponse", name)
		}
	}
	e := doc.Components.Schemas["ErrorResponse"].Value
	if !slices.Equal(e.Required, []string{"code", "message"}) {
		t.Errorf("ErrorResponse.required = %v", e.Required)
	}
	if d := e.Properties["details"].Value; d.Nullable || !d.Type.Is("object") {
		t.Errorf("ErrorResponse.details must be an optional, non-nullable object")
	}
}

// shape is an object as api.md describes it: fields ending in "?" are
// nullable and always present; fields ending in "-" are omitted when null.
type shape []string

var shapes = map[string]shape{
	"Agent":                      {"id", "created_at", "updated_at", "deleted_at?", "name", "cluster_name", "last_heartbeat?", "status", "k8s_reachable?", "k8s_api_latency_ms?", "k8s_reported_at?"},
	"AgentLabel":                 {"id", "agent_id", "label"},
	"AgentAnnotation":            {"id", "agent_id", "key", "value"},
	"AgentTarget":                {"id", "agent_id", "stack_id"},
	"AgentEvent":                 {"id", "created_at", "updated_at", "deleted_at?", "agent_id", "deployment_object_id", "event_type", "status", "message?"},
	"AgentGeneratorRegistration": {"id", "agent_id", "generator_id", "registered_at"},
	"Generator":                  {"id", "created_at", "updated_at", "deleted_at?", "name", "description?", "last_active_at?", "is_active", "is_system"},
	"Stack":                      {"id", "created_at", "updated_at", "deleted_at?", "name", "description?", "generator_id"},
	"StackLabel":                 {"id", "stack_id", "label"},
	"StackAnnotation":            {"id", "stack_id", "key", "value"},
	"DeploymentObject":           {"id", "created_at", "updated_at", "deleted_at?", "sequence_id", "stack_id", "yaml_content", "yaml_checksum", "submitted_at", "is_deletion_marker", "urgent-"},
	"StackTemplate":              {"id", "created_at", "updated_at", "deleted_at?", "generator_id?", "name", "description?", "version", "template_content", "parameters_schema", "checksum"},
	"TemplateLabel":              {"id", "template_id", "label", "created_at"},
	"TemplateAnnotation":         {"id", "template_id", "key", "value", "created_at"},
	"WorkOrder":                  {"id", "created_at", "updated_at", "work_type", "yaml_content", "status", "claimed_by?", "claimed_at?", "claim_timeout_seconds", "max_retries", "retry_count", "backoff_seconds", "next_retry_after?", "last_error?", "last_error_at?"},
	"WorkOrderLog":               {"id", "work_type", "created_at", "claimed_at?", "completed_at", "claimed_by?", "success", "retries_attempted", "result_message?", "yaml_content"},
	"DiagnosticRequest":          {"id", "agent_id", "deployment_object_id", "status", "requested_by?", "created_at", "claimed_at?", "completed_at?", "expires_at"},
	"DiagnosticResult":           {"id", "request_id", "pod_statuses", "events", "log_tails?", "collected_at", "created_at"},
	"DiagnosticResponse":         {"request", "result?"},
	"DeploymentHealth":           {"id", "agent_id", "deployment_object_id", "status", "summary?", "checked_at", "created_at", "updated_at"},
	"WebhookResponse":            {"id", "name", "has_url", "has_auth_header", "event_types", "filters?", "target_labels?", "enabled", "max_retries", "timeout_seconds", "created_at", "updated_at", "created_by?"},
	"WebhookDelivery":            {"id", "subscription_id", "event_type", "event_id", "payload", "target_labels?", "status", "acquired_by?", "acquired_until?", "attempts", "last_attempt_at?", "next_retry_at?", "last_error?", "created_at", "completed_at?"},
	"PendingWebhookDelivery":     {"id", "subscription_id", "event_type", "payload", "url", "auth_header?", "timeout_seconds", "max_retries", "attempts"},
	"AuditLog":                   {"id", "timestamp", "actor_type", "actor_id?", "action", "resource_type", "resource_id?", "details?", "ip_address-", "user_agent-", "created_at"},
	"FleetAgentRecord":           {"agent_id", "name", "cluster_name", "status", "ws_connected", "connected_since?", "last_heartbeat?", "heartbeat_age_seconds?", "pending_object_count", "pending_work_orders", "claimed_work_orders", "last_event_at?", "seconds_since_last_event?", "health_failing", "health_degraded", "k8s_reachable?", "k8s_api_latency_ms?"},
	"AgentK8sEvent":              {"id", "agent_id", "stack_id", "observed_at", "reason", "message", "event_type", "source?", "involved_object", "created_at"},
	"AgentPodLog":                {"id", "agent_id", "stack_id", "namespace", "pod", "container", "ts", "line", "created_at"},
	"RetentionInfo":              {"retention_ceiling_seconds", "effective_retention_seconds", "oldest_available_ts?", "long_term_sink_hint"},
	"AuthResponse":               {"admin", "agent?", "generator?", "readonly"},
	"PakSummary":                 {"id", "name"},
	"ErrorResponse":              {"code", "message", "details-"},
	"ApplyWindow":                {"id", "name", "description-", "schedule", "duration", "time_zone", "kind", "selector", "stack_ids", "open", "next_open_at?", "next_close_at?", "created_at", "updated_at"},
}

// int64Fields are the integers api.md gives as int64.
var int64Fields = map[string][]string{
	"DeploymentObject":     {"sequence_id"},
	"FleetAgentRecord":     {"heartbeat_age_seconds", "pending_object_count", "pending_work_orders", "claimed_work_orders", "seconds_since_last_event", "health_failing", "health_degraded", "k8s_api_latency_ms"},
	"WsConnectionInfo":     {"messages_in", "messages_out"},
	"AuditLogListResponse": {"total"},
}

func TestObjectShapes(t *testing.T) {
	doc := load(t, api.Document())
	for name, fields := range shapes {
		ref := doc.Components.Schemas[name]
		if ref == nil {
			t.Errorf("no schema %s", name)
			continue
		}
		s := ref.Value
		var want []string
		for _, f := range fields {
			field := strings.TrimRight(f, "?-")
			want = append(want, field)
			p := s.Properties[field]
			if p == nil {
				t.Errorf("%s: no property %s", name, field)
				continue
			}
			required := slices.Contains(s.Required, field)
			switch {
			case strings.HasSuffix(f, "?"):
				if !p.Value.Nullable || !required {
					t.Errorf("%s.%s: want nullable and required (nullable=%v required=%v)", name, field, p.Value.Nullable, required)
				}
			case strings.HasSuffix(f, "-"):
				if p.Value.Nullable || required {
					t.Errorf("%s.%s: want optional and not nullable (nullable=%v required=%v)", name, field, p.Value.Nullable, required)
				}
			default:
				if p.Value.Nullable || !required {
					t.Errorf("%s.%s: want required and not nullable (nullable=%v required=%v)", name, field, p.Value.Nullable, required)
				}
			}
			if (field == "id" || strings.HasSuffix(field, "_id")) && field != "sequence_id" && p.Value.Format != "uuid" {
				t.Errorf("%s.%s: format %q, want uuid", name, field, p.Value.Format)
			}
			if strings.HasSuffix(field, "_at") && p.Value.Format != "date-time" {
				t.Errorf("%s.%s: format %q, want date-time", name, field, p.Value.Format)
			}
		}
		for prop := range s.Properties {
			if !slices.Contains(want, prop) {
				t.Errorf("%s: property %s is not in the described shape", name, prop)
			}
		}
	}
	for name, fields := range int64Fields {
		for _, f := range fields {
			p := doc.Components.Schemas[name].Value.Properties[f]
			if p == nil || !p.Value.Type.Is("integer") || p.Value.Format != "int64" {
				t.Errorf("%s.%s: want an int64 integer", name, f)
			}
		}
	}
}

// TestResponseShapesValidate checks the shapes against sample values the way
// the test suite's validator does.
func TestResponseShapesValidate(t *testing.T) {
	doc := load(t, api.Document())
	agent := map[string]any{
		"id": "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c", "created_at": "2026-01-01T00:00:00Z",
		"updated_at": "2026-01-01T00:00:00Z", "deleted_at": nil, "name": "a", "cluster_name": "c",
		"last_heartbeat": nil, "status": "INACTIVE", "k8s_reachable": nil, "k8s_api_latency_ms": nil,
		"k8s_reported_at": nil, "extra": "allowed",
	}
	s := doc.Components.Schemas["Agent"].Value
	if err := s.VisitJSON(agent, openapi3.VisitAsResponse()); err != nil {
		t.Errorf("valid agent rejected: %v", err)
	}
	delete(agent, "last_heartbeat")
	if err := s.VisitJSON(agent, openapi3.VisitAsResponse()); err == nil {
		t.Error("agent without last_heartbeat accepted")
	}

	diag := doc.Components.Schemas["DiagnosticResponse"].Value
	req := map[string]any{
		"id": "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c", "agent_id": "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c",
		"deployment_object_id": "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c", "status": "pending",
		"requested_by": nil, "created_at": "2026-01-01T00:00:00Z", "claimed_at": nil,
		"completed_at": nil, "expires_at": "2026-01-01T01:00:00Z",
	}
	if err := diag.VisitJSON(map[string]any{"request": req, "result": nil}, openapi3.VisitAsResponse()); err != nil {
		t.Errorf("diagnostic without result rejected: %v", err)
	}
	if err := diag.VisitJSON(map[string]any{"request": req}, openapi3.VisitAsResponse()); err == nil {
		t.Error("diagnostic response without the result key accepted")
	}
	req["status"] = "bogus"
	if err := diag.VisitJSON(map[string]any{"request": req, "result": nil}, openapi3.VisitAsResponse()); err == nil {
		t.Error("diagnostic status outside the enum accepted")
	}

	entry := doc.Components.Schemas["AuditLogEntry"].Value
	log := map[string]any{
		"id": "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c", "timestamp": "2026-01-01T00:00:00Z",
		"actor_type": "admin", "actor_id": nil, "action": "agent.created", "resource_type": "agent",
		"resource_id": nil, "details": nil, "created_at": "2026-01-01T00:00:00Z", "actor_name": "admin",
	}
	if err := entry.VisitJSON(log, openapi3.VisitAsResponse()); err != nil {
		t.Errorf("audit entry without ip_address/user_agent rejected: %v", err)
	}
	delete(log, "actor_name")
	if err := entry.VisitJSON(log, openapi3.VisitAsResponse()); err == nil {
		t.Error("audit entry without actor_name accepted")
	}
}

// jsonSchemaRef returns the $ref of the application/json schema of a
// response, or "" when there is none.
func jsonSchemaRef(op *openapi3.Operation, code int) string {
	r := op.Responses.Status(code)
	if r == nil || r.Value == nil {
		return ""
	}
	mt := r.Value.Content["application/json"]
	if mt == nil || mt.Schema == nil {
		return ""
	}
	return strings.TrimPrefix(mt.Schema.Ref, "#/components/schemas/")
}

func TestSuccessResponses(t *testing.T) {
	doc := load(t, api.Document())
	byID := map[string]*openapi3.Operation{}
	eachOperation(doc, func(method, path string, op *openapi3.Operation) { byID[op.OperationID] = op })

	cases := []struct {
		id     string
		status int
		schema string // "" when the response has no body
	}{
		{"create_agent", 201, "CreateAgentResponse"},
		{"rotate_agent_pak", 200, "RotateAgentPakResponse"},
		{"rotate_generator_pak", 201, "CreateGeneratorResponse"},
		{"update_template", 200, "StackTemplate"},
		{"create_template", 201, "StackTemplate"},
		{"complete_work_order", 200, "WorkOrderLog"},
		{"complete_work_order", 202, "WorkOrderRetryScheduled"},
		{"record_heartbeat", 204, ""},
		{"update_health_status", 200, ""},
		{"delete_agent", 204, ""},
		{"test_webhook", 200, "WebhookTestResponse"},
		{"report_delivery_result", 200, "DeliveryResultResponse"},
		{"get_diagnostic", 200, "DiagnosticResponse"},
		{"register_agent", 201, "AgentGeneratorRegistration"},
		{"deregister_agent", 204, ""},
		{"verify_pak", 200, "AuthResponse"},
	}
	for _, c := range cases {
		op := byID[c.id]
		if op == nil {
			t.Errorf("no operation %s", c.id)
			continue
		}
		r := op.Responses.Status(c.status)
		if r == nil {
			t.Errorf("%s: no %d response", c.id, c.status)
			continue
		}
		if c.schema == "" {
			if len(r.Value.Content) != 0 {
				t.Errorf("%s %d: documents a body, want none", c.id, c.status)
			}
			continue
		}
		if got := jsonSchemaRef(op, c.status); got != c.schema {
			t.Errorf("%s %d: schema %q, want %q", c.id, c.status, got, c.schema)
		}
	}

	// Raw YAML in and out.
	get := byID["get_deployment_object"].Responses.Status(200).Value
	if mt := get.Content["application/yaml"]; mt == nil || !mt.Schema.Value.Type.Is("string") {
		t.Error("get_deployment_object: no application/yaml string response")
	}
	create := byID["create_deployment_object"]
	body := create.RequestBody.Value
	if mt := body.Content["application/json"]; mt == nil || mt.Schema.Ref != "#/components/schemas/CreateDeploymentObjectRequest" {
		t.Error("create_deployment_object: JSON body is not CreateDeploymentObjectRequest")
	}
	for _, ct := range []string{"application/yaml", "text/yaml", "application/x-yaml"} {
		if mt := body.Content[ct]; mt == nil || !mt.Schema.Value.Type.Is("string") {
			t.Errorf("create_deployment_object: no %s string body", ct)
		}
	}
	if p := create.Parameters.GetByInAndName("query", "deletion_marker"); p == nil || !p.Schema.Value.Type.Is("boolean") {
		t.Error("create_deployment_object: no boolean deletion_marker query parameter")
	}
	req := doc.Components.Schemas["CreateDeploymentObjectRequest"].Value
	if !slices.Equal(req.Required, []string{"yaml_content"}) || req.Properties["is_deletion_marker"] == nil {
		t.Errorf("CreateDeploymentObjectRequest = required %v, want {yaml_content*, is_deletion_marker?}", req.Required)
	}

	// Label bodies are bare JSON strings.
	for _, id := range []string{"stacks_add_label", "templates_add_label"} {
		mt := byID[id].RequestBody.Value.Content["application/json"]
		if mt == nil || !mt.Schema.Value.Type.Is("string") {
			t.Errorf("%s: body is not a JSON string", id)
		}
	}

	if byID["record_heartbeat"].RequestBody.Value.Required {
		t.Error("record_heartbeat: body must be optional")
	}
	if !isErrorResponse(byID["reload_config"].Responses.Status(503)) {
		t.Error("reload_config: no 503 ErrorResponse")
	}
}

func TestFiltered(t *testing.T) {
	keep := map[string]bool{"GET /agents/{id}": true, "POST /agents": true, "GET /agents/": true}
	var calls []string
	data, err := api.Filtered(func(method, path string) bool {
		calls = append(calls, method+" "+path)
		return keep[method+" "+path]
	})
	if err != nil {
		t.Fatal(err)
	}

	var all []string
	for _, op := range api.Operations() {
		all = append(all, op.Method+" "+op.Path)
	}
	sort.Strings(calls)
	sort.Strings(all)
	if !slices.Equal(calls, all) {
		t.Errorf("implemented was asked about %v, want every operation %v", calls, all)
	}

	doc := load(t, data)
	var got []string
	eachOperation(doc, func(method, path string, op *openapi3.Operation) {
		got = append(got, method+" "+path)
	})
	sort.Strings(got)
	want := []string{"GET /agents/", "GET /agents/{id}", "POST /agents"}
	if !slices.Equal(got, want) {
		t.Errorf("filtered operations = %v, want %v", got, want)
	}
	if doc.Paths.Len() != 3 {
		t.Errorf("filtered document has %d paths, want 3 (empty paths removed)", doc.Paths.Len())
	}
	if doc.Components.Schemas["Agent"] == nil || doc.Components.Responses["Unauthorized"] == nil {
		t.Error("filtered document lost its components")
	}

	again, err := api.Filtered(func(method, path string) bool { return keep[method+" "+path] })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Error("Filtered is not deterministic")
	}

	full, err := api.Filtered(func(string, string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(full, api.Document()) {
		t.Error("Filtered(all) differs from Document()")
	}

	none, err := api.Filtered(func(string, string) bool { return false })
	if err != nil {
		t.Fatal(err)
	}
	if d := load(t, none); d.Paths.Len() != 0 {
		t.Errorf("Filtered(none) kept %d paths", d.Paths.Len())
	}

	if _, err := api.Filtered(nil); err == nil {
		t.Error("Filtered(nil) did not fail")
	}
}
