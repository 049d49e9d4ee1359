package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

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
	"create_read_only_pak":     true,
	"create_apply_window":      true,
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

// setErrorResponses keeps the success (and 304) responses of an operation and replaces
// its error responses with references to the shared ones.
func (f *fixer) setErrorResponses(id string, o operation) {
	responses := f.child(o.op, "responses", id)
	// Any operation may be refused by admission control (429 overloaded).
	codes := map[string]bool{"401": true, "429": true, "500": true}
	for code := range responses {
		if strings.HasPrefix(code, "2") || code == "304" {
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
	"get_target_state": func(f *fixer, o operation) {
		etag := obj{"description": "Strong entity tag of the answer: the same body has the same tag on every replica.",
			"schema": obj{"type": "string"}}
		hold := obj{"description": "Additive: one value per associated stack whose newest object the agent does not " +
			"receive now: `<stack id>; object=<held object id>; reason=rollout|window[; window=\"<name>\"][; until=<RFC 3339>]` " +
			"(GET /agents/{id}/holds has the same with names).", "schema": obj{"type": "string"}}
		f.response(o, "200")["headers"] = obj{"ETag": etag, "Brokkr-Hold": hold}
		o.op["responses"].(obj)["304"] = obj{
			"description": "Not Modified: If-None-Match names the current answer's tag; no body.",
			"headers":     obj{"ETag": etag, "Brokkr-Hold": hold},
		}
		params, _ := o.op["parameters"].([]any)
		o.op["parameters"] = append(params, obj{
			"in": "header", "name": "If-None-Match", "required": false, "schema": obj{"type": "string"},
			"description": "Entity tags of answers the caller has (RFC 9110); when one is current the answer is 304 without a body.",
		})
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
