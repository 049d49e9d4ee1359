package main

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
