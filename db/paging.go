package db

import (
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Page selects one page of a list that has a fixed order. Lists are read with keyset paging:
// a page starts right after the key of the last row of the previous page, so rows inserted or
// deleted elsewhere in the list while a client pages through it never shift a page (no row is
// returned twice, and no row that existed throughout is skipped).
type Page struct {
	// Limit is the most rows to return; 0 returns none.
	Limit int
	// After resumes the list after the row with this key (exclusive); nil starts at its top.
	After *Key
	// MaxBytes bounds the large text (YAML, template content) of lists that carry it: the page
	// ends once the rows before the next one hold this many bytes of it, so a page holds at
	// most MaxBytes plus one row. The first row always comes. 0 means no bound.
	MaxBytes int64
}

// Key locates a row in its list's order: Seq for lists ordered by sequence_id, Time and ID for
// lists ordered by a timestamp (the id breaks ties).
type Key struct {
	Seq  int64
	Time time.Time
	ID   uuid.UUID
}

// SeqKey returns the key of a row of a list ordered by sequence_id.
func SeqKey(seq int64) Key { return Key{Seq: seq} }

// TimeKey returns the key of a row of a list ordered by a timestamp and the id.
func TimeKey(t time.Time, id uuid.UUID) Key { return Key{Time: t, ID: id} }

// order is the fixed order of a paged list: its key columns, most significant first, all
// sorted in the same direction; the last one is unique.
type order struct {
	cols []string
	desc bool
}

var (
	bySequenceDesc = order{cols: []string{"sequence_id"}, desc: true}
	byCreatedAsc   = order{cols: []string{"created_at", "id"}}
	byCreatedDesc  = order{cols: []string{"created_at", "id"}, desc: true}
	byCompleted    = order{cols: []string{"completed_at", "id"}, desc: true}
	byRegistered   = order{cols: []string{"registered_at", "id"}}
)

// by renders the ORDER BY list, with columns qualified by alias when it is not empty.
func (o order) by(alias string) string {
	dir := " ASC"
	if o.desc {
		dir = " DESC"
	}
	parts := make([]string, len(o.cols))
	for i, c := range o.cols {
		parts[i] = qualify(alias, c) + dir
	}
	return strings.Join(parts, ", ")
}

// after renders the condition "the row comes after p.After" (TRUE on the first page), adding
// the key values to args.
func (o order) after(alias string, p Page, args *[]any) string {
	if p.After == nil {
		return "TRUE"
	}
	var vals []any
	if len(o.cols) == 1 {
		vals = []any{p.After.Seq}
	} else {
		vals = []any{p.After.Time, p.After.ID}
	}
	cols := make([]string, len(o.cols))
	params := make([]string, len(o.cols))
	for i, c := range o.cols {
		*args = append(*args, vals[i])
		cols[i] = qualify(alias, c)
		params[i] = "$" + strconv.Itoa(len(*args))
	}
	op := " > "
	if o.desc {
		op = " < "
	}
	return "(" + strings.Join(cols, ", ") + ")" + op + "(" + strings.Join(params, ", ") + ")"
}

func qualify(alias, col string) string {
	if alias == "" {
		return col
	}
	return alias + "." + col
}

// limitArg adds the row count a page query fetches: one more than the page, which tells
// whether more rows follow.
func limitArg(p Page, args *[]any) string {
	*args = append(*args, max(p.Limit, 0)+1)
	return "$" + strconv.Itoa(len(*args))
}

// trim cuts rows fetched with limitArg to the page and reports whether more rows follow.
func trim[T any](rows []T, p Page) ([]T, bool) {
	if n := max(p.Limit, 0); len(rows) > n {
		return rows[:n], true
	}
	return rows, false
}

// budgeted wraps inner — a query that selects cols plus row_bytes (the bytes of the row's
// large text) in o's order, LIMIT included — so that the page ends once the rows before the
// next one hold p.MaxBytes bytes (the first row always comes). It also returns fetched, the
// number of rows inner returned, which budgetTrim needs. Text that is not returned is never
// read: octet_length of a stored value reads its header only.
func budgeted(cols, inner string, o order, p Page, args *[]any) string {
	budget := p.MaxBytes
	if budget <= 0 {
		budget = 1 << 62
	}
	*args = append(*args, budget)
	return `SELECT ` + cols + `, fetched FROM (
		SELECT p.*, sum(p.row_bytes) OVER (ORDER BY ` + o.by("p") + ` ROWS UNBOUNDED PRECEDING) - p.row_bytes AS bytes_before,
			count(*) OVER () AS fetched
		FROM (` + inner + `) p) b
	WHERE b.bytes_before < $` + strconv.Itoa(len(*args)) + ` ORDER BY ` + o.by("b")
}

// budgetTrim is trim for a budgeted query: more rows follow when the byte bound cut the page
// short, or when the query found more than the page.
func budgetTrim[T any](rows []T, fetched int, p Page) ([]T, bool) {
	out, more := trim(rows, p)
	return out, more || len(rows) < fetched
}

// unwrap splits the rows of a budgeted query into the page's rows and the fetched count.
func unwrap[W, T any](rows []W, get func(W) (T, int)) ([]T, int) {
	out := make([]T, len(rows))
	fetched := 0
	for i, r := range rows {
		out[i], fetched = get(r)
	}
	return out, fetched
}
