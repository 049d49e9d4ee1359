package tracing

import "testing"

func TestSummarize(t *testing.T) {
	for _, tc := range []struct{ sql, op, table string }{
		{"SELECT id, name FROM agents WHERE id = $1", "SELECT", "agents"},
		{"  select 1", "SELECT", ""},
		{"-- comment\nINSERT INTO stacks (name) VALUES ($1) RETURNING *", "INSERT", "stacks"},
		{"/* x */ update agents SET status = 'FROM x' WHERE id = $1", "UPDATE", "agents"},
		{"DELETE FROM public.webhook_deliveries WHERE id = $1", "DELETE", "public.webhook_deliveries"},
		{"SELECT a.* FROM (SELECT 1) a", "SELECT", ""},
		{"SELECT 'FROM secrets' AS x", "SELECT", ""},
		{`SELECT * FROM "Quoted"`, "SELECT", ""},
		{"WITH t AS (SELECT 1) SELECT * FROM t", "WITH", ""},
		{"begin", "BEGIN", ""},
		{"", "", ""},
		{"$1", "", ""},
	} {
		op, table := summarize(tc.sql)
		if op != tc.op || table != tc.table {
			t.Errorf("%q: got %q %q, want %q %q", tc.sql, op, table, tc.op, tc.table)
		}
	}
}

func TestClipKeepsCharacters(t *testing.T) {
	if got := clip("aé", 2); got != "a" {
		t.Errorf("clip cut a character: %q", got)
	}
	if got := clip("abc", 5); got != "abc" {
		t.Errorf("clip changed a short string: %q", got)
	}
}
