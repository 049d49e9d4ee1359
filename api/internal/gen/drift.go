package main

// The drift and stack dependency operations, served beyond the reference (additive). Their
// summaries live in operationDocs.

// driftSchemas are the bodies of the drift and dependency operations.
func driftSchemas() map[string]obj {
	arr := func(items obj, desc string) obj { return withDesc(obj{"type": "array", "items": items}, desc) }
	return map[string]obj{
		"StackSettings": object(obj{
			"stack_id":   uuidStr(""),
			"stack_name": str(""),
			"drift_policy": enum(str("The stack's brokkr.io/drift-policy annotation; absent or invalid reads as report."),
				"report", "correct", "ignore"),
			"depends_on": arr(uuidStr(""), "The live stacks of the same generator its brokkr.io/depends-on annotation names."),
		}, []string{"stack_id", "stack_name", "drift_policy", "depends_on"}, "What an agent applies a stack by."),
		"DriftedObject": object(obj{
			"api_version": str(""), "kind": str(""), "namespace": str(""), "name": str(""),
			"paths": arr(str(""), "The field paths whose live value differs from the manifest."),
		}, []string{"api_version", "kind", "namespace", "name", "paths"}, "An object drifted from its manifest."),
		"StackDrift": object(obj{
			"agent_id": uuidStr(""), "agent_name": str(""), "deployment_object_id": uuidStr(""),
			"status":      enum(str(""), "DRIFTED", "CORRECTED"),
			"objects":     arr(ref("DriftedObject"), ""),
			"reported_at": dateTime(""),
		}, []string{"agent_id", "agent_name", "deployment_object_id", "status", "objects", "reported_at"},
			"The drift an agent last reported on the stack's latest deployment object."),
		"StackRef": object(obj{"id": uuidStr(""), "name": str("")}, []string{"id", "name"}, "A stack."),
		"DependencyWait": object(obj{
			"stack_id": uuidStr(""), "stack_name": str(""),
			"reason": str("latest object not applied, FAILURE: …, or not healthy: …"),
		}, []string{"stack_id", "stack_name", "reason"}, "A stack another one waits for."),
		"WaitingAgent": object(obj{
			"agent_id": uuidStr(""), "agent_name": str(""),
			"waiting_for": arr(ref("DependencyWait"), ""),
			"since":       dateTime(""),
		}, []string{"agent_id", "agent_name", "waiting_for", "since"}, "An agent waiting to apply a stack."),
		"StackDependencies": object(obj{
			"depends_on": arr(ref("StackRef"), ""),
			"waiting":    arr(ref("WaitingAgent"), ""),
		}, []string{"depends_on", "waiting"}, "A stack's dependencies and the agents waiting for them."),
	}
}

// driftOperations lists the drift and dependency operations.
func driftOperations() []roPAKOperation {
	return []roPAKOperation{
		{path: "/agents/{id}/stack-settings", method: "get", op: obj{
			"operationId": "agent_stack_settings",
			"tags":        []any{"agents"},
			"parameters":  []any{roPAKIDParam("Agent ID")},
			"responses": obj{"200": roPAKJSONResponse("One entry per stack associated with the agent.",
				obj{"type": "array", "items": ref("StackSettings")})},
		}},
		{path: "/stacks/{id}/drift", method: "get", op: obj{
			"operationId": "stack_drift",
			"tags":        []any{"stacks"},
			"parameters":  []any{roPAKIDParam("Stack ID")},
			"responses": obj{"200": roPAKJSONResponse("Per agent, its latest DRIFT event on the stack's latest object unless CLEARED.",
				obj{"type": "array", "items": ref("StackDrift")})},
		}},
		{path: "/stacks/{id}/dependencies", method: "get", op: obj{
			"operationId": "stack_dependencies",
			"tags":        []any{"stacks"},
			"parameters":  []any{roPAKIDParam("Stack ID")},
			"responses":   obj{"200": roPAKJSONResponse("The stack's dependencies and waiting agents.", ref("StackDependencies"))},
		}},
	}
}

// addDrift adds the drift and dependency schemas and operations; neither may exist in the
// reference.
func (f *fixer) addDrift() {
	f.addAdditiveSchemas(driftSchemas())
	f.addAdditiveOperations(driftOperations())
}
