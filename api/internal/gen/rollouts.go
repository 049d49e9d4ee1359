package main

// The progressive rollout operations, served beyond the reference (additive). Their
// summaries live in operationDocs.

// countOrPercent is a count (a JSON number) or a percentage ("25%").
func countOrPercent(desc string) obj {
	return withDesc(obj{"oneOf": []any{obj{"type": "integer"}, obj{"type": "string", "pattern": `^[0-9]+(\.[0-9]+)?%$`}}}, desc)
}

// rolloutSchemas are the bodies of the rollout operations.
func rolloutSchemas() map[string]obj {
	arr := func(items obj, desc string) obj { return withDesc(obj{"type": "array", "items": items}, desc) }
	gate := func(desc string) obj { return enum(str(desc), "applied", "healthy") }
	count := func(desc string) obj { return integer("int32", desc) }
	return map[string]obj{
		"RolloutSelector": object(obj{
			"labels": arr(str(""), "Labels the agent must all carry."),
			"annotations": withDesc(obj{"type": "object", "additionalProperties": obj{"type": "string"}},
				"Annotations the agent must all carry with exactly these values."),
		}, nil, "Selects the agents carrying every label and annotation it names."),
		"RolloutWave": object(obj{
			"name":     str("Unique in the policy, not \"remaining\" (the implicit last wave)."),
			"selector": ref("RolloutSelector"),
			"max_unavailable": countOrPercent("Agents of the wave applying at once (released, not passed or failed yet): " +
				"a count of at least 1 or 1%..100% of the wave's agents; unset releases the whole wave at once."),
			"gate":  gate("Overrides the policy's gate for this wave."),
			"pause": str("Overrides the policy's pause after this wave."),
		}, []string{"name", "selector"}, "One wave of a rollout policy: the agents its selector matches that no earlier wave selected."),
		"RolloutPolicy": object(obj{
			"stack_id": uuidStr("Answered; ignored in a request."),
			"waves":    arr(ref("RolloutWave"), "1 to 20 waves; the agents none selects form the implicit last wave \"remaining\"."),
			"gate": gate("What an agent must report before it counts as passed: applied (a DEPLOY SUCCESS event on the object; " +
				"the default) or healthy (that, and its deployment health healthy)."),
			"pause": str("Time after each wave before the next unlocks: a Go duration (\"10m\", default \"0s\") or \"manual\" " +
				"(the rollout waits for promote)."),
			"failure_threshold": countOrPercent("Failed agents the rollout tolerates (a count, or a percentage of the stack's " +
				"agents); one more halts it. Default 0."),
			"created_at": dateTime("Answered."),
			"updated_at": dateTime("Answered."),
		}, []string{"waves"}, "How new deployment objects of a stack reach its agents: wave after wave."),
		"RolloutWaveStatus": object(obj{
			"index":           count("0-based; the implicit last wave's index is the number of the policy's waves."),
			"name":            str(""),
			"selector":        ref("RolloutSelector"),
			"gate":            gate(""),
			"pause":           str(""),
			"max_unavailable": countOrPercent(""),
			"state":           enum(str(""), "pending", "in_progress", "complete"),
			"agents":          count("Agents of the stack in this wave."),
			"released":        count("Agents the object was released to."),
			"applied":         count("Agents that reported applying the object with success."),
			"passed":          count("Agents past the wave's gate."),
			"failed":          count("Agents that failed (DEPLOY FAILURE, or failing health with the healthy gate)."),
			"unlocked_at":     nullable(dateTime("")),
			"completed_at":    nullable(dateTime("")),
		}, []string{"index", "name", "selector", "gate", "pause", "state", "agents", "released", "applied", "passed", "failed",
			"unlocked_at", "completed_at"}, "The progress of one wave."),
		"RolloutAgent": object(obj{
			"agent_id":    uuidStr(""),
			"agent_name":  str(""),
			"wave":        count(""),
			"state":       enum(str(""), "waiting", "applying", "applied", "passed", "failed"),
			"released_at": nullable(dateTime("")),
			"message":     str("Why the agent failed."),
		}, []string{"agent_id", "agent_name", "wave", "state", "released_at"}, "One agent of a rollout."),
		"Rollout": object(obj{
			"id":                   uuidStr(""),
			"stack_id":             uuidStr(""),
			"deployment_object_id": uuidStr("The object the rollout releases."),
			"previous_object_id":   nullable(uuidStr("The stack's latest live object before it.")),
			"status": enum(str("An active rollout (progressing, waiting, paused, halted) may still release its object."),
				"progressing", "waiting", "paused", "halted", "completed", "aborted", "superseded"),
			"current_wave":  count("The highest unlocked wave."),
			"next_wave_at":  nullable(dateTime("When a timed pause unlocks the next wave.")),
			"failures":      count("Agents failed now."),
			"failure_limit": count("Failed agents tolerated before the rollout halts: failures accepted by resumes plus the threshold."),
			"reason":        str("Why the rollout halted, naming the failed agents."),
			"policy":        ref("RolloutPolicy"),
			"waves":         arr(ref("RolloutWaveStatus"), "One per wave, the implicit last one included."),
			"agents":        arr(ref("RolloutAgent"), "By wave, then name; empty in lists and webhook events."),
			"created_at":    dateTime(""),
			"updated_at":    dateTime(""),
			"finished_at":   nullable(dateTime("")),
		}, []string{"id", "stack_id", "deployment_object_id", "previous_object_id", "status", "current_wave", "next_wave_at",
			"failures", "failure_limit", "policy", "waves", "agents", "created_at", "updated_at", "finished_at"},
			"The progress of one deployment object through the waves of its stack's policy."),
	}
}

// rolloutOperations lists the rollout operations.
func rolloutOperations() []roPAKOperation {
	stack := roPAKIDParam("Stack ID")
	return []roPAKOperation{
		{path: "/stacks/{id}/rollout-policy", method: "put", op: obj{
			"operationId": "set_rollout_policy",
			"tags":        []any{"stacks"},
			"parameters":  []any{stack},
			"requestBody": roPAKJSONBody(ref("RolloutPolicy")),
			"responses":   obj{"200": roPAKJSONResponse("The policy as stored, defaults filled.", ref("RolloutPolicy"))},
		}},
		{path: "/stacks/{id}/rollout-policy", method: "get", op: obj{
			"operationId": "get_rollout_policy",
			"tags":        []any{"stacks"},
			"parameters":  []any{stack},
			"responses":   obj{"200": roPAKJSONResponse("The stack's rollout policy.", ref("RolloutPolicy"))},
		}},
		{path: "/stacks/{id}/rollout-policy", method: "delete", op: obj{
			"operationId": "delete_rollout_policy",
			"tags":        []any{"stacks"},
			"parameters":  []any{stack},
			"responses":   obj{"204": obj{"description": "Deleted; rollouts under way go on with their snapshot of it."}},
		}},
		{path: "/stacks/{id}/rollout", method: "get", op: obj{
			"operationId": "get_rollout",
			"tags":        []any{"stacks"},
			"parameters":  []any{stack},
			"responses":   obj{"200": roPAKJSONResponse("The stack's latest rollout with its waves and agents.", ref("Rollout"))},
		}},
		{path: "/stacks/{id}/rollouts", method: "get", op: obj{
			"operationId": "list_rollouts",
			"tags":        []any{"stacks"},
			"parameters": []any{stack, obj{"in": "query", "name": "limit", "required": false,
				"description": "At most this many rollouts (1 to 200, default 50).",
				"schema":      obj{"type": "integer", "minimum": 1, "maximum": 200, "default": 50}}},
			"responses": obj{"200": roPAKJSONResponse("The stack's rollouts, newest object first, without their agents.",
				obj{"type": "array", "items": ref("Rollout")})},
		}},
		{path: "/stacks/{id}/rollout/{action}", method: "post", op: obj{
			"operationId": "rollout_action",
			"tags":        []any{"stacks"},
			"parameters": []any{stack, obj{"in": "path", "name": "action", "required": true,
				"description": "promote, pause, resume or abort (another answers 404 `unknown_rollout_action`).",
				"schema":      obj{"type": "string"}}},
			"responses": obj{
				"200": roPAKJSONResponse("The rollout after the action.", ref("Rollout")),
				"409": obj{"description": "The action does not apply to the rollout's status (`invalid_rollout_state`)."},
			},
		}},
	}
}

// addRollouts adds the rollout schemas and operations; neither may exist in the reference.
func (f *fixer) addRollouts() {
	f.addAdditiveSchemas(rolloutSchemas())
	f.addAdditiveOperations(rolloutOperations())
}
