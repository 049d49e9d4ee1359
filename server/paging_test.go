package server_test

import (
	"encoding/base64"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// pagedList is one list endpoint under test: where it is, who reads it, how to add rows to
// it and the ids it holds in its documented order.
type pagedList struct {
	path string
	pak  string
	seed func(tag string, n int) // adds n rows
	want func() []uuid.UUID      // every row, in list order
}

// age spreads seeded rows over time in groups of 7 sharing one timestamp, so that pages
// have to break ties on the id.
const age = `now() - (g / 7) * interval '1 millisecond'`

type pagedCase struct {
	name     string
	def, max int
	setup    func(e *env) pagedList
}

var pagedCases = []pagedCase{
	{"agents", 1000, 1000, func(e *env) pagedList {
		return pagedList{path: v1path("agents"), pak: e.admin,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO agents (name, cluster_name, created_at)
					SELECT $1::text || g, 'c', `+age+` FROM generate_series(1, $2) g`, tag, n)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM agents WHERE deleted_at IS NULL ORDER BY created_at, id`)
			}}
	}},
	{"generators", 1000, 1000, func(e *env) pagedList {
		return pagedList{path: v1path("generators"), pak: e.admin,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO generators (name, created_at) SELECT $1::text || g, `+age+` FROM generate_series(1, $2) g`, tag, n)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM generators WHERE deleted_at IS NULL AND NOT is_system ORDER BY created_at, id`)
			}}
	}},
	{"registered agents", 1000, 1000, func(e *env) pagedList {
		g := e.createGenerator("owner")
		return pagedList{path: v1path("generators", g.gen.ID, "registered-agents"), pak: g.pak,
			seed: func(tag string, n int) {
				e.sqlExec(`WITH a AS (INSERT INTO agents (name, cluster_name)
						SELECT $1::text || g, 'c' FROM generate_series(1, $2) g RETURNING id)
					INSERT INTO agent_generator_registrations (agent_id, generator_id, registered_at)
					SELECT id, $3, now() - (row_number() OVER () / 7) * interval '1 millisecond' FROM a`, tag, n, g.gen.ID)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM agent_generator_registrations WHERE generator_id = $1
					ORDER BY registered_at, id`, g.gen.ID)
			}}
	}},
	{"stacks", 1000, 1000, func(e *env) pagedList {
		g := e.createGenerator("owner")
		return pagedList{path: v1path("stacks"), pak: g.pak,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO stacks (name, generator_id, created_at)
					SELECT $1::text || g, $3, `+age+` FROM generate_series(1, $2) g`, tag, n, g.gen.ID)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM stacks WHERE deleted_at IS NULL ORDER BY created_at, id`)
			}}
	}},
	{"templates", 1000, 1000, func(e *env) pagedList {
		return pagedList{path: v1path("templates"), pak: e.admin,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO stack_templates (name, template_content, parameters_schema, checksum, created_at)
					SELECT $1::text || g, 'k: v', '{}', md5('k: v'), `+age+` FROM generate_series(1, $2) g`, tag, n)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM stack_templates WHERE deleted_at IS NULL ORDER BY created_at, id`)
			}}
	}},
	{"work orders", 1000, 1000, func(e *env) pagedList {
		return pagedList{path: v1path("work-orders"), pak: e.admin,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO work_orders (work_type, yaml_content, created_at)
					SELECT 'build', $1::text || g, `+age+` FROM generate_series(1, $2) g`, tag, n)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM work_orders ORDER BY created_at DESC, id DESC`)
			}}
	}},
	{"pending work orders", 1000, 1000, func(e *env) pagedList {
		a := e.createAgent("a", "c")
		return pagedList{path: v1path("agents", a.agent.ID, "work-orders", "pending"), pak: a.pak,
			seed: func(tag string, n int) {
				e.sqlExec(`WITH w AS (INSERT INTO work_orders (work_type, yaml_content, created_at)
						SELECT 'build', $1::text || g, `+age+` FROM generate_series(1, $2) g RETURNING id)
					INSERT INTO work_order_targets (work_order_id, agent_id) SELECT id, $3 FROM w`, tag, n, a.agent.ID)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT w.id FROM work_orders w JOIN work_order_targets t ON t.work_order_id = w.id
					WHERE t.agent_id = $1 AND w.status = 'PENDING' ORDER BY w.created_at, w.id`, a.agent.ID)
			}}
	}},
	{"pending diagnostics", 1000, 1000, func(e *env) pagedList {
		a, obj := e.agentWithObject()
		return pagedList{path: v1path("agents", a.agent.ID, "diagnostics", "pending"), pak: a.pak,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO diagnostic_requests (agent_id, deployment_object_id, requested_by, expires_at, created_at)
					SELECT $3, $4, $1::text || g, now() + interval '1 hour', `+age+` FROM generate_series(1, $2) g`,
					tag, n, a.agent.ID, obj.ID)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM diagnostic_requests WHERE agent_id = $1 ORDER BY created_at, id`, a.agent.ID)
			}}
	}},
	{"deployment objects", 100, 1000, func(e *env) pagedList {
		g := e.createGenerator("owner")
		st := e.createStack("web", g.gen.ID, g.pak)
		return pagedList{path: v1path("stacks", st.ID, "deployment-objects"), pak: g.pak,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
					SELECT $3, 'k: ' || $1::text || g, md5($1::text || g) FROM generate_series(1, $2) g`, tag, n, st.ID)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM deployment_objects WHERE stack_id = $1 AND deleted_at IS NULL
					ORDER BY sequence_id DESC`, st.ID)
			}}
	}},
	{"agent events", 100, 1000, func(e *env) pagedList {
		a, obj := e.agentWithObject()
		return pagedList{path: v1path("agents", a.agent.ID, "events"), pak: a.pak,
			seed: e.eventSeed(a.agent.ID, obj.ID),
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM agent_events WHERE agent_id = $1 ORDER BY created_at DESC, id DESC`, a.agent.ID)
			}}
	}},
	{"all agent events", 100, 1000, func(e *env) pagedList {
		a, obj := e.agentWithObject()
		return pagedList{path: v1path("agent-events"), pak: e.admin,
			seed: e.eventSeed(a.agent.ID, obj.ID),
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM agent_events ORDER BY created_at DESC, id DESC`)
			}}
	}},
	{"work order log", 100, 1000, func(e *env) pagedList {
		return pagedList{path: v1path("work-order-log"), pak: e.admin,
			seed: func(tag string, n int) {
				e.sqlExec(`INSERT INTO work_order_log (id, work_type, created_at, completed_at, success, yaml_content)
					SELECT gen_random_uuid(), 'build', now(), `+age+`, true, $1::text || g FROM generate_series(1, $2) g`, tag, n)
			},
			want: func() []uuid.UUID {
				return e.sqlIDs(`SELECT id FROM work_order_log ORDER BY completed_at DESC, id DESC`)
			}}
	}},
}

// TestPagedLists checks every list that grows: a client that sends no parameter still gets
// a short list whole, with no paging header; on a long list it gets the default page size
// and a cursor; a limit above the maximum is capped; and following the cursors (through the
// Link header) walks the whole list in order, without a duplicate or a gap, while rows are
// being added.
func TestPagedLists(t *testing.T) {
	for _, tc := range pagedCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			l := tc.setup(e)

			// A short list comes whole to a client that knows nothing of paging.
			l.seed("short", 3)
			r := e.must(200, req{method: "GET", path: l.path, pak: l.pak})
			if got, want := listIDs(t, r), l.want(); !slices.Equal(got, want) || len(got) < 3 {
				t.Fatalf("no-parameter call: %d rows %v, want %v", len(got), got, want)
			}
			if r.header.Get("X-Next-Cursor") != "" || r.header.Get("Link") != "" {
				t.Fatalf("last page carries paging headers: %v", r.header)
			}

			l.seed("long", tc.max+3-len(l.want()))
			all := l.want()
			if len(all) != tc.max+3 {
				t.Fatalf("seeded %d rows, want %d", len(all), tc.max+3)
			}

			// Default page.
			r = e.must(200, req{method: "GET", path: l.path, pak: l.pak})
			if got := listIDs(t, r); !slices.Equal(got, all[:tc.def]) {
				t.Fatalf("default page: %d rows, want the first %d", len(got), tc.def)
			}
			if r.header.Get("X-Next-Cursor") == "" {
				t.Fatal("default page of a longer list has no X-Next-Cursor")
			}

			// Maximum.
			r = e.must(200, req{method: "GET", path: withQuery(l.path, "limit=100000"), pak: l.pak})
			if got := listIDs(t, r); !slices.Equal(got, all[:tc.max]) {
				t.Fatalf("limit=100000: %d rows, want the first %d", len(got), tc.max)
			}

			// Walk, adding rows after the first page.
			var walked []uuid.UUID
			next := withQuery(l.path, "limit=300")
			for pages := 0; next != ""; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				r := e.must(200, req{method: "GET", path: next, pak: l.pak})
				ids := listIDs(t, r)
				if len(ids) > 300 {
					t.Fatalf("page of %d rows with limit=300", len(ids))
				}
				walked = append(walked, ids...)
				next = nextLink(t, r)
				if pages == 0 {
					l.seed("late", 5)
				}
			}
			if dup := firstDuplicate(walked); dup != nil {
				t.Fatalf("row %s returned twice", dup)
			}
			var original []uuid.UUID
			for _, id := range walked {
				if slices.Contains(all, id) {
					original = append(original, id)
				}
			}
			if !slices.Equal(original, all) {
				t.Fatalf("walk returned %d of the %d rows present from the start (or out of order)", len(original), len(all))
			}
		})
	}
}

// TestPagingParameters checks the answers to malformed paging parameters.
func TestPagingParameters(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("owner")
	st := e.createStack("web", g.gen.ID, g.pak)
	for i := range 3 {
		e.createObject(st.ID, g.pak, configMapManifest(fmt.Sprintf("v%d", i)))
	}
	objects := v1path("stacks", st.ID, "deployment-objects")
	for _, q := range []string{"limit=-1", "limit=x", "limit=1.5", "cursor=%25%25", "cursor=bm90LWpzb24",
		"include_yaml=no", "cursor=" + base64.RawURLEncoding.EncodeToString([]byte(`{"l":"agents","s":1}`))} {
		e.expectError(400, "invalid_parameter", req{method: "GET", path: objects + "?" + q, pak: g.pak})
	}
	// A cursor of one list is refused by another.
	r := e.must(200, req{method: "GET", path: objects + "?limit=1", pak: g.pak})
	cur := r.header.Get("X-Next-Cursor")
	if cur == "" {
		t.Fatal("no cursor")
	}
	e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("stacks") + "?cursor=" + cur, pak: g.pak})
	// limit=0 answers an empty page.
	r = e.must(200, req{method: "GET", path: objects + "?limit=0", pak: g.pak})
	if ids := listIDs(t, r); len(ids) != 0 || r.header.Get("X-Next-Cursor") != "" {
		t.Fatalf("limit=0: %v, %v", ids, r.header)
	}
	e.expectError(400, "invalid_parameter", req{method: "GET", path: v1path("agents") + "?limit=-5", pak: e.admin})
}

// TestDeliveriesLimitCapped checks that the deliveries list, which pages with limit and
// offset as in the reference, caps limit at 1000 and keeps its default of 50.
func TestDeliveriesLimitCapped(t *testing.T) {
	e := newEnv(t)
	var sub client.WebhookResponse
	e.must(201, req{method: "POST", path: v1path("webhooks"), pak: e.admin, body: map[string]any{
		"name": "w", "url": "http://127.0.0.1:9/hook", "event_types": []string{"stack.created"}}}).decode(t, &sub)
	e.sqlExec(`INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload, status, created_at)
		SELECT $1, 'stack.created', gen_random_uuid(), '{}', 'dead', `+age+` FROM generate_series(1, 1005) g`, sub.ID)
	path := v1path("webhooks", sub.ID, "deliveries")
	for q, want := range map[string]int{"": 50, "?limit=100000": 1000, "?limit=1000&offset=1000": 5} {
		if got := listIDs(t, e.must(200, req{method: "GET", path: path + q, pak: e.admin})); len(got) != want {
			t.Errorf("deliveries%s: %d rows, want %d", q, len(got), want)
		}
	}
}

// TestDeploymentObjectsLatestWithoutYAML checks the two ways to read less of a stack's
// history: limit=1 is the latest object, include_yaml=false leaves the YAML out.
func TestDeploymentObjectsLatestWithoutYAML(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("owner")
	st := e.createStack("web", g.gen.ID, g.pak)
	var objs []client.DeploymentObject
	for i := range 5 {
		objs = append(objs, e.createObject(st.ID, g.pak, configMapManifest(fmt.Sprintf("v%d", i))))
	}
	path := v1path("stacks", st.ID, "deployment-objects")
	var latest []client.DeploymentObject
	r := e.must(200, req{method: "GET", path: path + "?limit=1&include_yaml=false", pak: g.pak})
	r.decode(t, &latest)
	want := objs[4]
	if len(latest) != 1 || latest[0].ID != want.ID || latest[0].YAMLChecksum != want.YAMLChecksum ||
		latest[0].YAMLContent != "" || latest[0].SequenceID != want.SequenceID {
		t.Fatalf("latest without YAML: %+v, want %+v without its YAML", latest, want)
	}
	if r.header.Get("X-Next-Cursor") == "" {
		t.Fatal("no cursor after the latest of five")
	}
	var full []client.DeploymentObject
	e.must(200, req{method: "GET", path: path + "?limit=1&include_yaml=true", pak: g.pak}).decode(t, &full)
	if len(full) != 1 || full[0] != want {
		t.Fatalf("latest with YAML: %+v, want %+v", full, want)
	}
	// The reference's call: every object with its YAML, newest first.
	var all []client.DeploymentObject
	e.must(200, req{method: "GET", path: path, pak: g.pak}).decode(t, &all)
	if len(all) != 5 || all[0] != want || all[4] != objs[0] {
		t.Fatalf("no-parameter list: %+v", all)
	}
}

// TestPageByteBudget checks that a page of large rows ends at 4 MiB of YAML, however many
// rows the limit allows, and that the cursor then yields the rest.
func TestPageByteBudget(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("owner")
	st := e.createStack("web", g.gen.ID, g.pak)
	// Five objects of 1.5 MiB: the rows before the fourth hold 4.5 MiB, so a page is 3 rows.
	e.sqlExec(`INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum)
		SELECT $1, 'k: ' || repeat('x', 1536 * 1024) || g, md5(g::text) FROM generate_series(1, 5) g`, st.ID)
	all := e.sqlIDs(`SELECT id FROM deployment_objects WHERE stack_id = $1 ORDER BY sequence_id DESC`, st.ID)
	path := v1path("stacks", st.ID, "deployment-objects") + "?limit=1000"
	r := e.must(200, req{method: "GET", path: path, pak: g.pak})
	if got := listIDs(t, r); !slices.Equal(got, all[:3]) {
		t.Fatalf("first page: %d rows, want 3", len(got))
	}
	r = e.must(200, req{method: "GET", path: nextLink(t, r), pak: g.pak})
	if got := listIDs(t, r); !slices.Equal(got, all[3:]) || r.header.Get("X-Next-Cursor") != "" {
		t.Fatalf("second page: %d rows (cursor %q), want the last 2", len(got), r.header.Get("X-Next-Cursor"))
	}
	// Without the YAML the budget does not apply.
	r = e.must(200, req{method: "GET", path: path + "&include_yaml=false", pak: g.pak})
	if got := listIDs(t, r); !slices.Equal(got, all) {
		t.Fatalf("without YAML: %d rows, want 5", len(got))
	}
}

// TestPageByteBudgetOfEveryLargeList checks the byte bound of the other lists whose rows
// carry large text: three rows of 3 MiB make a first page of two.
func TestPageByteBudgetOfEveryLargeList(t *testing.T) {
	big := `repeat('x', 3 * 1024 * 1024) || g`
	cases := []struct {
		name string
		path func(e *env) (string, string)
		seed string
		want string
	}{
		{"work orders", func(e *env) (string, string) { return v1path("work-orders"), e.admin },
			`INSERT INTO work_orders (work_type, yaml_content, created_at) SELECT 'build', ` + big + `, ` + age + ` FROM generate_series(1, 3) g`,
			`SELECT id FROM work_orders ORDER BY created_at DESC, id DESC`},
		{"work order log", func(e *env) (string, string) { return v1path("work-order-log"), e.admin },
			`INSERT INTO work_order_log (id, work_type, created_at, completed_at, success, yaml_content)
				SELECT gen_random_uuid(), 'build', now(), ` + age + `, true, ` + big + ` FROM generate_series(1, 3) g`,
			`SELECT id FROM work_order_log ORDER BY completed_at DESC, id DESC`},
		{"templates", func(e *env) (string, string) { return v1path("templates"), e.admin },
			`INSERT INTO stack_templates (name, template_content, parameters_schema, checksum, created_at)
				SELECT 't' || g, ` + big + `, '{}', md5('x'), ` + age + ` FROM generate_series(1, 3) g`,
			`SELECT id FROM stack_templates ORDER BY created_at, id`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			path, pak := tc.path(e)
			e.sqlExec(tc.seed)
			all := e.sqlIDs(tc.want)
			r := e.must(200, req{method: "GET", path: path, pak: pak})
			if got := listIDs(t, r); !slices.Equal(got, all[:2]) {
				t.Fatalf("first page: %d rows, want 2", len(got))
			}
			r = e.must(200, req{method: "GET", path: nextLink(t, r), pak: pak})
			if got := listIDs(t, r); !slices.Equal(got, all[2:]) || nextLink(t, r) != "" {
				t.Fatalf("second page: %d rows, want the last one", len(got))
			}
		})
	}
	// Pending work orders.
	e := newEnv(t)
	a := e.createAgent("a", "c")
	e.sqlExec(`WITH w AS (INSERT INTO work_orders (work_type, yaml_content, created_at)
			SELECT 'build', `+big+`, `+age+` FROM generate_series(1, 3) g RETURNING id)
		INSERT INTO work_order_targets (work_order_id, agent_id) SELECT id, $1 FROM w`, a.agent.ID)
	r := e.must(200, req{method: "GET", path: v1path("agents", a.agent.ID, "work-orders", "pending"), pak: a.pak})
	if got := listIDs(t, r); len(got) != 2 || nextLink(t, r) == "" {
		t.Fatalf("pending work orders: first page of %d rows", len(got))
	}
}

// Helpers.

func (e *env) sqlIDs(query string, args ...any) []uuid.UUID {
	e.t.Helper()
	var out []uuid.UUID
	if err := e.db.SelectContext(e.t.Context(), &out, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return out
}

// agentWithObject returns an agent and a deployment object to hang events and diagnostics on.
func (e *env) agentWithObject() (agentFixture, client.DeploymentObject) {
	e.t.Helper()
	g := e.createGenerator("owner")
	st := e.createStack("web", g.gen.ID, g.pak)
	return e.createAgent("a", "c"), e.createObject(st.ID, g.pak, cmYAML)
}

func (e *env) eventSeed(agent, object uuid.UUID) func(tag string, n int) {
	return func(tag string, n int) {
		e.sqlExec(`INSERT INTO agent_events (agent_id, deployment_object_id, event_type, status, message, created_at)
			SELECT $3, $4, 'DEPLOY', 'SUCCESS', $1::text || g, `+age+` FROM generate_series(1, $2) g`, tag, n, agent, object)
	}
}

func listIDs(t testing.TB, r resp) []uuid.UUID {
	t.Helper()
	var rows []struct {
		ID uuid.UUID `json:"id"`
	}
	r.decode(t, &rows)
	out := make([]uuid.UUID, len(rows))
	for i, row := range rows {
		out[i] = row.ID
	}
	return out
}

func withQuery(path, q string) string {
	if strings.Contains(path, "?") {
		return path + "&" + q
	}
	return path + "?" + q
}

var linkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// nextLink returns the URL of the next page from the Link header ("" on the last page),
// checking that it carries the X-Next-Cursor value.
func nextLink(t testing.TB, r resp) string {
	t.Helper()
	cur, link := r.header.Get("X-Next-Cursor"), r.header.Get("Link")
	if cur == "" || link == "" {
		if cur != "" || link != "" {
			t.Fatalf("X-Next-Cursor %q but Link %q", cur, link)
		}
		return ""
	}
	m := linkNext.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("Link %q", link)
	}
	u, err := url.Parse(m[1])
	if err != nil || u.Query().Get("cursor") != cur {
		t.Fatalf("Link %q does not carry cursor %q", link, cur)
	}
	return m[1]
}

func firstDuplicate(ids []uuid.UUID) *uuid.UUID {
	seen := map[uuid.UUID]bool{}
	for _, id := range ids {
		if seen[id] {
			return &id
		}
		seen[id] = true
	}
	return nil
}
