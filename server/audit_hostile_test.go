package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/audit"
)

// unknownPAK is well formed but belongs to nobody: presenting it is audited as auth.failed.
const unknownPAK = "brokkr_BRxxxxxx_unknownkey"

// storedAudit is an audit_logs row as stored.
type storedAudit struct {
	Action     string     `db:"action"`
	ActorType  string     `db:"actor_type"`
	ResourceID *uuid.UUID `db:"resource_id"`
	IPAddress  *string    `db:"ip_address"`
	UserAgent  *string    `db:"user_agent"`
	Details    []byte     `db:"details"`
}

// storedAudits flushes the audit writer and returns the rows of an action ("" for all),
// oldest first.
func (e *env) storedAudits(action string) []storedAudit {
	e.t.Helper()
	e.srv.FlushAudit(context.Background())
	var out []storedAudit
	if err := e.db.Select(&out, `SELECT action, actor_type, resource_id, ip_address, user_agent, details FROM audit_logs
		WHERE $1 = '' OR action = $1 ORDER BY timestamp, id`, action); err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (r storedAudit) details(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Details, &m); err != nil {
		t.Fatalf("details %s: %v", r.Details, err)
	}
	return m
}

// withOneAuditBatch makes every entry of a test wait for an explicit flush, so that they are
// all inserted in one batch.
func withOneAuditBatch(c *config.Broker) { c.Broker.AuditFlushIntervalMillis = 600000 }

// TestAuditFailedAuthWithHostileInputKeepsTheBatch: failed authentications carrying a NUL in
// the path, and an invalid UTF-8 User-Agent 100 KB long, cost no audit entry of anybody: the
// admin's entries written in the same batch are stored, and so is the failed authentication,
// cleaned and bounded. PostgreSQL refuses NUL in jsonb and invalid UTF-8 in text, and one row
// it refuses used to fail the insert of the whole batch.
func TestAuditFailedAuthWithHostileInputKeepsTheBatch(t *testing.T) {
	e := newEnv(t, withOneAuditBatch)
	g := e.createGenerator("ci")
	// The path may be refused before authentication (400) or audited (401); either way the
	// batch must survive.
	if res := e.do(req{method: "GET", path: "/api/v1/agents/%00", pak: unknownPAK}); res.status != http.StatusBadRequest &&
		res.status != http.StatusUnauthorized {
		t.Fatalf("GET /api/v1/agents/%%00: %d %s", res.status, res.body)
	}
	longUA := "probe\xff\xfe/" + strings.Repeat("u", 100_000)
	e.expectError(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: "/api/v1/agents", pak: unknownPAK,
		headers: map[string]string{"User-Agent": longUA}})

	created := e.storedAudits("generator.created")
	if len(created) != 1 || created[0].ResourceID == nil || *created[0].ResourceID != g.gen.ID {
		t.Fatalf("generator.created rows: %+v (the admin's entry was lost with the batch)", created)
	}
	var sawUA bool
	for _, r := range e.storedAudits("auth.failed") {
		d := r.details(t)
		if p, _ := d["path"].(string); strings.HasPrefix(p, "/api/v1/agents/") && p != "/api/v1/agents/" {
			t.Errorf("NUL path stored as %q", p)
		}
		if ua := derefString(r.UserAgent); strings.HasPrefix(ua, "probe") {
			sawUA = true
			if !utf8.ValidString(ua) || len(ua) > 512 || !strings.HasPrefix(ua, "probe\uFFFD/uuu") || !strings.HasSuffix(ua, "…") {
				t.Errorf("user agent not cleaned and bounded: %.80q (%d bytes)", ua, len(ua))
			}
		}
	}
	if !sawUA {
		t.Error("the failed authentication with a hostile User-Agent was not stored")
	}
}

func derefString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// TestAuditBatchWithARefusedRowKeepsTheOthers: when the database refuses one row of a batch
// (here an actor type its check constraint does not allow), the other rows are stored and
// only that one is lost, counted in brokkr_audit_write_failures_total.
func TestAuditBatchWithARefusedRowKeepsTheOthers(t *testing.T) {
	e := newEnv(t, withOneAuditBatch)
	id1, id2 := uuid.New(), uuid.New()
	e.srv.AuditForTest(audit.Entry{ActorType: "system", Action: "test.before", ResourceType: "system", ResourceID: &id1})
	e.srv.AuditForTest(audit.Entry{ActorType: "intruder", Action: "test.refused", ResourceType: "system"})
	e.srv.AuditForTest(audit.Entry{ActorType: "system", Action: "test.after", ResourceType: "system", ResourceID: &id2})

	var actions []string
	for _, r := range e.storedAudits("") {
		if strings.HasPrefix(r.Action, "test.") {
			actions = append(actions, r.Action)
		}
	}
	if strings.Join(actions, ",") != "test.before,test.after" {
		t.Fatalf("stored test rows: %v, want test.before and test.after", actions)
	}
	if n := e.metricValue("brokkr_audit_write_failures_total"); n != 1 {
		t.Errorf("brokkr_audit_write_failures_total = %v, want 1", n)
	}
	if n := e.metricValue("brokkr_audit_written_total"); n < 2 {
		t.Errorf("brokkr_audit_written_total = %v", n)
	}
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// failWith sends one request with an unknown PAK through client (its source address decides
// the rate limit) and expects 401.
func (e *env) failWith(client *http.Client, xff string) {
	e.t.Helper()
	r, err := http.NewRequest(http.MethodGet, e.url+"/api/v1/agents", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+unknownPAK)
	if xff != "" {
		r.Header.Set("X-Forwarded-For", xff)
	}
	res, err := client.Do(r)
	if err != nil {
		e.t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		e.t.Fatalf("unknown PAK: %d", res.StatusCode)
	}
}

// TestAuditFailedAuthRateLimit: per peer address and minute, the first
// broker.audit_failed_auth_per_minute failures are written one by one; the rest are counted
// and summarised in one auth.failed entry once the minute is over. A forged X-Forwarded-For
// does not open a new allowance; another peer address has its own.
func TestAuditFailedAuthRateLimit(t *testing.T) {
	const limit = 5
	e := newEnv(t, func(c *config.Broker) { c.Broker.AuditFailedAuthPerMinute = limit })
	clock := &fakeClock{now: time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)}
	e.srv.SetAuditClockForTest(clock.Now)
	local := &http.Client{Transport: &http.Transport{}}
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}).DialContext}}
	t.Cleanup(local.CloseIdleConnections)
	t.Cleanup(other.CloseIdleConnections)

	for i := range 12 {
		e.failWith(local, fmt.Sprintf("198.51.100.%d", i)) // a new forged address every time
	}
	if got := e.storedAudits("auth.failed"); len(got) != limit {
		t.Fatalf("after 12 failures from one peer: %d auth.failed rows, want %d", len(got), limit)
	}
	e.failWith(other, "")
	clock.Advance(30 * time.Second)
	e.failWith(local, "") // same window: counted, not written
	if got := e.storedAudits("auth.failed"); len(got) != limit+1 || *got[limit].IPAddress != "127.0.0.2" {
		t.Fatalf("another peer's failure was not written: %d rows", len(got))
	}

	clock.Advance(31 * time.Second) // the window of 127.0.0.1 is over
	rows := e.storedAudits("auth.failed")
	if len(rows) != limit+2 {
		t.Fatalf("after the window: %d auth.failed rows, want %d (with the summary)", len(rows), limit+2)
	}
	sum := rows[len(rows)-1]
	d := sum.details(t)
	if sum.IPAddress == nil || *sum.IPAddress != "127.0.0.1" || sum.ActorType != "system" ||
		d["reason"] != "rate_limited" || d["suppressed"] != float64(8) || d["per_minute"] != float64(limit) ||
		d["first_at"] == nil || d["last_at"] == nil {
		t.Fatalf("summary row: ip %v details %s", derefString(sum.IPAddress), sum.Details)
	}
	if n := e.metricValue("brokkr_audit_failed_auth_suppressed_total"); n != 8 {
		t.Errorf("brokkr_audit_failed_auth_suppressed_total = %v, want 8", n)
	}

	e.failWith(local, "") // a new window
	if got := e.storedAudits("auth.failed"); len(got) != limit+3 {
		t.Fatalf("a new window's first failure was not written: %d rows", len(got))
	}
}
