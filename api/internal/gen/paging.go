package main

import (
	"encoding/json"
	"fmt"
)

// pagedList describes how one list operation pages (see server/paging.go).
type pagedList struct {
	def, max int
	// order names the fixed order pages follow.
	order string
	// bytes is set for lists whose rows carry large text, which also end a page at 4 MiB of it.
	bytes bool
}

// Collections answer up to 1000 rows when no limit is given; histories the newest 100.
var (
	collection = pagedList{def: 1000, max: 1000, order: "oldest first"}
	history    = pagedList{def: 100, max: 1000, order: "newest first"}
)

func (l pagedList) with(order string, bytes bool) pagedList {
	if order != "" {
		l.order = order
	}
	l.bytes = bytes
	return l
}

// pagedOps are the list operations read one bounded page at a time.
var pagedOps = map[string]pagedList{
	"list_agents":                      collection,
	"list_generators":                  collection,
	"list_generator_registered_agents": collection,
	"list_stacks":                      collection,
	"list_templates":                   collection.with("", true),
	"list_work_orders":                 collection.with("newest first", true),
	"list_pending_for_agent":           collection.with("", true),
	"get_pending_diagnostics":          collection,
	"list_events":                      history,
	"list_agent_events":                history,
	"list_deployment_objects":          history.with("highest sequence_id first", true),
	"list_work_order_log":              history.with("most recently completed first", true),
}

// addPaging documents the paging parameters and headers of the paged lists, and the
// include_yaml switch of the deployment object list. It runs before fixOperations, which
// derives the error responses (400 for a bad limit or cursor) from the parameters.
func (f *fixer) addPaging() {
	ops := f.operations()
	for id, l := range pagedOps {
		o, ok := ops[id]
		if !ok {
			f.failf("paged list names unknown operation %s", id)
			continue
		}
		limitDesc := fmt.Sprintf("Rows per page: %d when absent, at most %d (a larger value is treated as %d; "+
			"0 answers an empty page). A negative or non-integer value answers 400 `invalid_parameter`.", l.def, l.max, l.max)
		if l.bytes {
			limitDesc += " A page also ends once its rows hold 4 MiB of YAML or template content (it always " +
				"holds at least one row); follow X-Next-Cursor for the rest."
		}
		f.setQueryParam(o, obj{
			"name": "limit", "in": "query", "required": false, "description": limitDesc,
			"schema": obj{"type": "integer", "format": "int64", "minimum": json.Number("0")},
		})
		f.setQueryParam(o, obj{
			"name": "cursor", "in": "query", "required": false,
			"description": "Resume after the previous page: the value of its X-Next-Cursor header, unchanged. " +
				"Absent: the first page. A cursor of another list answers 400 `invalid_parameter`. " +
				"Pages follow the list's fixed order (" + l.order + "); rows added while a client pages " +
				"through the list never make a page repeat or skip a row.",
			"schema": obj{"type": "string"},
		})
		resp := f.response(o, "200")
		resp["description"] = fmt.Sprintf("One page of the list, %s. When more rows follow, X-Next-Cursor "+
			"and Link name the next page; the last page has neither.", l.order)
		resp["headers"] = obj{
			"X-Next-Cursor": obj{
				"description": "Cursor of the next page (pass it as `cursor`); absent on the last page.",
				"schema":      obj{"type": "string"},
			},
			"Link": obj{
				"description": "`<URL of the next page>; rel=\"next\"` (RFC 8288); absent on the last page.",
				"schema":      obj{"type": "string"},
			},
		}
	}
	if o, ok := ops["list_deployment_objects"]; ok {
		f.setQueryParam(o, obj{
			"name": "include_yaml", "in": "query", "required": false,
			"description": "false: yaml_content is returned as an empty string, so a client that needs only " +
				"checksums and sequence ids does not download the manifests. Combine with limit=1 to read " +
				"only the latest object.",
			"schema": obj{"type": "boolean", "default": true},
		})
	}
	if o, ok := ops["list_deliveries"]; ok {
		f.setQueryParam(o, obj{
			"name": "limit", "in": "query", "required": false,
			"description": "Maximum number of results: 50 when absent, at most 1000 (a larger value is treated as 1000).",
			"schema":      obj{"type": "integer", "format": "int64", "minimum": json.Number("0")},
		})
	} else {
		f.failf("paging: no operation list_deliveries")
	}
}

// setQueryParam replaces the operation's query parameter of that name, or adds it.
func (f *fixer) setQueryParam(o operation, p obj) {
	params, _ := o.op["parameters"].([]any)
	for i, e := range params {
		if po, ok := e.(obj); ok && po["in"] == "query" && po["name"] == p["name"] {
			params[i] = p
			o.op["parameters"] = params
			return
		}
	}
	o.op["parameters"] = append(params, p)
}
