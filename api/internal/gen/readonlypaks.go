package main

// The named read-only PAK operations, served beyond the reference (additive: no reference
// client calls them, and nothing of the reference changes). Each is marked
// x-brokkr-additive like the other additive operations; their summaries live in
// operationDocs and their error responses are set like any other's.

// roPAKAdditiveExtension marks an operation that is not in the reference.
const roPAKAdditiveExtension = "x-brokkr-additive"

// roPAKOperation is one read-only PAK operation.
type roPAKOperation struct {
	path, method string
	op           obj
}

// roPAKIDParam is a uuid path parameter named id.
func roPAKIDParam(desc string) obj {
	return obj{"in": "path", "name": "id", "required": true, "description": desc,
		"schema": obj{"type": "string", "format": "uuid"}}
}

// roPAKJSONBody is a required JSON request body of a schema.
func roPAKJSONBody(schema obj) obj {
	return obj{"required": true, "content": obj{"application/json": obj{"schema": schema}}}
}

// roPAKJSONResponse is a JSON response of a schema.
func roPAKJSONResponse(desc string, schema obj) obj {
	return obj{"description": desc, "content": obj{"application/json": obj{"schema": schema}}}
}

// readOnlyPAKSchemas are the bodies of the read-only PAK operations.
func readOnlyPAKSchemas() map[string]obj {
	roProps := func() obj {
		return obj{
			"id":         uuidStr("The key's id."),
			"name":       str("The key's name, unique among the keys not revoked."),
			"created_at": dateTime(""),
		}
	}
	created := roProps()
	created["pak"] = str("The key itself, shown only once: the broker stores its hash.")
	return map[string]obj{
		"ReadOnlyPak": object(roProps(), []string{"id", "name", "created_at"},
			"A named read-only PAK: it reads what the admin reads, secrets excepted, and changes nothing."),
		"ReadOnlyPakCreated": object(created, []string{"id", "name", "created_at", "pak"},
			"A new read-only PAK with its key."),
		"CreateReadOnlyPakRequest": object(obj{
			"name": str("Non-blank, at most 255 bytes."),
		}, []string{"name"}, "Body of read-only PAK creation."),
	}
}

// readOnlyPAKOperations lists the read-only PAK operations.
func readOnlyPAKOperations() []roPAKOperation {
	return []roPAKOperation{
		{path: "/read-only-paks", method: "post", op: obj{
			"operationId": "create_read_only_pak",
			"tags":        []any{"auth"},
			"requestBody": roPAKJSONBody(ref("CreateReadOnlyPakRequest")),
			"responses": obj{"201": roPAKJSONResponse("The read-only PAK and its key, shown this once.",
				ref("ReadOnlyPakCreated"))},
		}},
		{path: "/read-only-paks", method: "get", op: obj{
			"operationId": "list_read_only_paks",
			"tags":        []any{"auth"},
			"responses": obj{"200": roPAKJSONResponse("The read-only PAKs not revoked, by name; never a key.",
				obj{"type": "array", "items": ref("ReadOnlyPak")})},
		}},
		{path: "/read-only-paks/{id}", method: "delete", op: obj{
			"operationId": "revoke_read_only_pak",
			"tags":        []any{"auth"},
			"parameters":  []any{roPAKIDParam("Read-only PAK ID")},
			"responses":   obj{"204": obj{"description": "Revoked: the key no longer authenticates and its sockets are closed."}},
		}},
	}
}

// addReadOnlyPAKs adds the read-only PAK schemas and operations; neither may exist in the
// reference.
func (f *fixer) addReadOnlyPAKs() {
	f.addAdditiveSchemas(readOnlyPAKSchemas())
	f.addAdditiveOperations(readOnlyPAKOperations())
}

// addAdditiveSchemas adds schemas of additive operations; none may exist in the reference.
func (f *fixer) addAdditiveSchemas(add map[string]obj) {
	schemas := f.schemas()
	for name, s := range add {
		if _, ok := schemas[name]; ok {
			f.failf("additive schema %s already exists in the reference", name)
			continue
		}
		schemas[name] = s
	}
}

// addAdditiveOperations adds operations marked additive; none may exist in the reference.
func (f *fixer) addAdditiveOperations(ops []roPAKOperation) {
	paths := f.child(f.doc, "paths", "document")
	for _, a := range ops {
		item, _ := paths[a.path].(obj)
		if item == nil {
			item = obj{}
			paths[a.path] = item
		}
		if _, ok := item[a.method]; ok {
			f.failf("additive operation %s %s already exists in the reference", a.method, a.path)
			continue
		}
		a.op[roPAKAdditiveExtension] = true
		item[a.method] = a.op
	}
}
