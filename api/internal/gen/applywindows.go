package main

// The apply window operations, served beyond the reference (additive), and the urgent flag
// of deployment objects, which passes an object through apply windows. Their summaries live
// in operationDocs.

// applyWindowSchemas are the bodies of the apply window operations.
func applyWindowSchemas() map[string]obj {
	nullableTime := func(desc string) obj { return nullable(dateTime(desc)) }
	props := func() obj {
		return obj{
			"name":        str("Non-blank, at most 255 bytes, unique."),
			"description": str(""),
			"schedule": str("When the window opens: a cron expression of five fields (minute hour day-of-month month " +
				"day-of-week) or a descriptor (@yearly, @monthly, @weekly, @daily, @hourly), read in time_zone. " +
				"@every and time zone prefixes are refused."),
			"duration": str("How long the window stays open after each opening: a Go duration (\"4h\", \"90m\") of whole " +
				"seconds, above 0 and at most 744h (31 days). Openings that overlap form one open span."),
			"time_zone": str("IANA time zone name of the schedule; default UTC."),
			"kind": enum(str("allow: the agents it selects receive new objects only while an allow window is open; "+
				"deny: they receive none while it is open."), "allow", "deny"),
			"selector": ref("ApplyWindowSelector"),
			"stack_ids": withDesc(obj{"type": "array", "items": uuidStr("")},
				"The live stacks the window concerns; empty means every stack."),
		}
	}
	window := props()
	window["id"] = uuidStr("")
	window["open"] = boolean("Whether the window is open at the broker's clock.")
	window["next_open_at"] = nullableTime("When the window next opens (after the current opening when open); null when not within 400 days.")
	window["next_close_at"] = nullableTime("When the window next closes (the end of its next opening when closed); null when not within 400 days.")
	window["created_at"] = dateTime("")
	window["updated_at"] = dateTime("")
	return map[string]obj{
		"ApplyWindowSelector": object(obj{
			"labels":      withDesc(obj{"type": "array", "items": str("")}, "Labels the agent must all carry."),
			"annotations": withDesc(obj{"type": "object", "additionalProperties": str("")}, "Annotations (key: value) the agent must all carry."),
		}, nil, "The agents a window concerns; empty selects every agent."),
		"ApplyWindow": object(window, []string{"id", "name", "schedule", "duration", "time_zone", "kind", "selector",
			"stack_ids", "open", "next_open_at", "next_close_at", "created_at", "updated_at"},
			"A recurring window in which the agents it selects may (allow) or may not (deny) receive new deployment objects."),
		"CreateApplyWindowRequest": object(props(), []string{"name", "schedule", "duration", "kind"},
			"Body of apply window creation."),
	}
}

// applyWindowOperations lists the apply window operations.
func applyWindowOperations() []roPAKOperation {
	return []roPAKOperation{
		{path: "/apply-windows", method: "post", op: obj{
			"operationId": "create_apply_window",
			"tags":        []any{"apply-windows"},
			"requestBody": roPAKJSONBody(ref("CreateApplyWindowRequest")),
			"responses":   obj{"201": roPAKJSONResponse("The new window.", ref("ApplyWindow"))},
		}},
		{path: "/apply-windows", method: "get", op: obj{
			"operationId": "list_apply_windows",
			"tags":        []any{"apply-windows"},
			"responses": obj{"200": roPAKJSONResponse("Every window, by name.",
				obj{"type": "array", "items": ref("ApplyWindow")})},
		}},
		{path: "/apply-windows/{id}", method: "get", op: obj{
			"operationId": "get_apply_window",
			"tags":        []any{"apply-windows"},
			"parameters":  []any{roPAKIDParam("Apply window ID")},
			"responses":   obj{"200": roPAKJSONResponse("The window.", ref("ApplyWindow"))},
		}},
		{path: "/apply-windows/{id}", method: "delete", op: obj{
			"operationId": "delete_apply_window",
			"tags":        []any{"apply-windows"},
			"parameters":  []any{roPAKIDParam("Apply window ID")},
			"responses":   obj{"204": obj{"description": "Deleted: the window holds nothing back any more."}},
		}},
	}
}

// urgentParam is the urgent query parameter of the operations creating deployment objects.
func urgentParam() obj {
	return obj{"in": "query", "name": "urgent", "required": false, "schema": obj{"type": "boolean", "default": false},
		"description": "Additive: the new object is urgent and passes through apply windows (also `\"urgent\": true` in a JSON body)."}
}

// addUrgent documents the urgent flag: a query parameter and a body property of the
// operations creating deployment objects, and an optional property of DeploymentObject.
func (f *fixer) addUrgent() {
	ops := f.operations()
	for _, id := range []string{"create_deployment_object", "instantiate_template"} {
		o, ok := ops[id]
		if !ok {
			f.failf("urgent: no operation %s", id)
			continue
		}
		params, _ := o.op["parameters"].([]any)
		o.op["parameters"] = append(params, urgentParam())
	}
	f.setProp("DeploymentObject", "urgent", boolean("Additive: present and true when the object is urgent: it passes "+
		"through apply windows."), true)
	for _, schema := range []string{"CreateDeploymentObjectRequest", "TemplateInstantiationRequest"} {
		f.setProp(schema, "urgent", boolean("Additive: the new object is urgent (passes through apply windows)."), true)
	}
}

// addApplyWindows adds the apply window schemas and operations, which may not exist in the
// reference, and the urgent flag.
func (f *fixer) addApplyWindows() {
	f.addAdditiveSchemas(applyWindowSchemas())
	f.addAdditiveOperations(applyWindowOperations())
	f.addUrgent()
}
