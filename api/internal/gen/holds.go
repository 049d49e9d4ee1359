package main

// The hold operations, served beyond the reference (additive): what rollouts and apply
// windows hold back from agents. Their summaries live in operationDocs.

// holdSchemas are the bodies of the hold operations.
func holdSchemas() map[string]obj {
	return map[string]obj{
		"Hold": object(obj{
			"agent_id":             uuidStr(""),
			"agent_name":           str(""),
			"stack_id":             uuidStr(""),
			"stack_name":           str(""),
			"deployment_object_id": uuidStr("The stack's newest object, held back from the agent."),
			"serving_object_id":    nullable(uuidStr("The object the agent receives instead; null: nothing of the stack.")),
			"reason":               enum(str("What holds the object back."), "rollout", "window"),
			"rollout_id":           uuidStr("The rollout that has not released the agent (reason rollout)."),
			"wave":                 integer("int32", "The agent's wave in that rollout (0-based; the implicit last wave is the number of the policy's waves)."),
			"window_id":            uuidStr("The apply window that holds the agent (reason window)."),
			"window_name":          str(""),
			"until":                nullable(dateTime("When the hold is expected to end; null when it waits for an operator or other agents.")),
		}, []string{"agent_id", "agent_name", "stack_id", "stack_name", "deployment_object_id", "serving_object_id", "reason", "until"},
			"A deployment object an agent does not receive yet, and why."),
	}
}

// holdOperations lists the hold operations.
func holdOperations() []roPAKOperation {
	list := obj{"type": "array", "items": ref("Hold")}
	return []roPAKOperation{
		{path: "/agents/{id}/holds", method: "get", op: obj{
			"operationId": "agent_holds",
			"tags":        []any{"agents"},
			"parameters":  []any{roPAKIDParam("Agent ID")},
			"responses":   obj{"200": roPAKJSONResponse("One entry per held stack, by stack id.", list)},
		}},
		{path: "/stacks/{id}/holds", method: "get", op: obj{
			"operationId": "stack_holds",
			"tags":        []any{"stacks"},
			"parameters":  []any{roPAKIDParam("Stack ID")},
			"responses":   obj{"200": roPAKJSONResponse("One entry per agent the stack's newest object is held back from.", list)},
		}},
	}
}

// addHolds adds the hold schemas and operations; neither may exist in the reference.
func (f *fixer) addHolds() {
	f.addAdditiveSchemas(holdSchemas())
	f.addAdditiveOperations(holdOperations())
}
