package server

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/brokkr/brokkr/db"
)

// Paging of the lists that grow. Every such list answers at most a bounded page: `limit`
// rows (a default when absent, clamped to a maximum) starting after `cursor`. When more rows
// follow, the answer carries the cursor of the next page in X-Next-Cursor and a Link header
// (rel="next") with the URL of the next page; the last page carries neither. The body stays
// the reference's JSON array, so clients that know nothing of paging read the first page.
//
// Two kinds of lists:
//   - collections (agents, stacks, generators, templates, registrations, queued and pending
//     work orders, pending diagnostics): default = maximum = 1000, so a client that sends no
//     parameter gets everything up to 1000 rows, as many as any one page can hold;
//   - histories (deployment objects, agent events, the work-order log): newest first,
//     default 100, maximum 1000; a client that sends no parameter gets the most recent ones.
//
// Lists whose rows carry large text (YAML, template content) also end a page once it holds
// pageByteBudget bytes of that text (always at least one row), so no page is bigger than
// the budget plus one row, whatever the limit.
type listLimits struct{ def, max int }

var (
	collectionLimits = listLimits{def: 1000, max: 1000}
	historyLimits    = listLimits{def: 100, max: 1000}
)

const (
	// pageByteBudget bounds the large text of one page.
	pageByteBudget = 4 << 20
	// maxDeliveriesLimit caps the limit of GET /webhooks/{id}/deliveries (default 50).
	maxDeliveriesLimit = 1000

	// HeaderNextCursor carries the cursor of the next page.
	HeaderNextCursor = "X-Next-Cursor"
)

// cursor is the decoded form of a page cursor: the list it belongs to and the key of the
// last row of the page it follows. On the wire it is unpadded base64url of its JSON.
type cursor struct {
	List string     `json:"l"`
	Seq  int64      `json:"s,omitempty"`
	Time *time.Time `json:"t,omitempty"`
	ID   *uuid.UUID `json:"i,omitempty"`
}

func encodeCursor(list string, k db.Key) string {
	cur := cursor{List: list, Seq: k.Seq}
	if !k.Time.IsZero() {
		t := k.Time.UTC()
		id := k.ID
		cur.Time, cur.ID = &t, &id
	}
	b, _ := json.Marshal(cur)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(list, v string) (*db.Key, error) {
	bad := badRequest("invalid_parameter", "query parameter cursor is not a cursor of this list; "+
		"pass the X-Next-Cursor value of the previous page unchanged").with("parameter", "cursor")
	raw, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil, bad
	}
	var cur cursor
	if err := json.Unmarshal(raw, &cur); err != nil || cur.List != list {
		return nil, bad
	}
	k := &db.Key{Seq: cur.Seq}
	if cur.Time != nil {
		if cur.ID == nil {
			return nil, bad
		}
		k.Time, k.ID = *cur.Time, *cur.ID
	}
	return k, nil
}

// limitQuery reads the limit parameter: def when absent, clamped to max; a negative or
// non-integer value is a 400.
func limitQuery(c echo.Context, def, max int) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, badRequest("invalid_parameter", fmt.Sprintf("query parameter limit must be a non-negative integer, got %q", v)).
			with("parameter", "limit")
	}
	return int(min(n, int64(max))), nil
}

// pageParams reads limit and cursor of a request for the named list.
func pageParams(c echo.Context, list string, l listLimits) (db.Page, error) {
	limit, err := limitQuery(c, l.def, l.max)
	if err != nil {
		return db.Page{}, err
	}
	p := db.Page{Limit: limit, MaxBytes: pageByteBudget}
	if v := c.QueryParam("cursor"); v != "" {
		if p.After, err = decodeCursor(list, v); err != nil {
			return db.Page{}, err
		}
	}
	return p, nil
}

// replyPage answers 200 with one page of a list: items as the JSON array and, when more rows
// follow, the next page's cursor (computed from the key of the last row) in X-Next-Cursor
// and Link.
func replyPage[T, U any](c echo.Context, list string, rows []T, more bool, key func(T) db.Key, conv func(T) U) error {
	if more && len(rows) > 0 {
		next := encodeCursor(list, key(rows[len(rows)-1]))
		c.Response().Header().Set(HeaderNextCursor, next)
		u := *c.Request().URL
		q := u.Query()
		q.Set("cursor", next)
		c.Response().Header().Set("Link", fmt.Sprintf("<%s?%s>; rel=\"next\"", u.Path, q.Encode()))
	}
	return reply(c, http.StatusOK, mapSlice(rows, conv))
}

// Keys of the rows of each list.

func objectKey(o db.DeploymentObject) db.Key      { return db.SeqKey(o.SequenceID) }
func agentKey(a db.Agent) db.Key                  { return db.TimeKey(a.CreatedAt, a.ID) }
func stackKey(s db.Stack) db.Key                  { return db.TimeKey(s.CreatedAt, s.ID) }
func generatorKey(g db.Generator) db.Key          { return db.TimeKey(g.CreatedAt, g.ID) }
func templateKey(t db.StackTemplate) db.Key       { return db.TimeKey(t.CreatedAt, t.ID) }
func eventKey(e db.AgentEvent) db.Key             { return db.TimeKey(e.CreatedAt, e.ID) }
func registrationKey(r db.Registration) db.Key    { return db.TimeKey(r.RegisteredAt, r.ID) }
func workOrderKey(w db.WorkOrder) db.Key          { return db.TimeKey(w.CreatedAt, w.ID) }
func workOrderLogKey(l db.WorkOrderLog) db.Key    { return db.TimeKey(l.CompletedAt, l.ID) }
func diagnosticKey(d db.DiagnosticRequest) db.Key { return db.TimeKey(d.CreatedAt, d.ID) }
