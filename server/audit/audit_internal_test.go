package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/brokkr/brokkr/db"
)

// TestAuditQueueFullIsLoud: an entry that does not fit the queue is counted and logged.
func TestAuditQueueFullIsLoud(t *testing.T) {
	var logs bytes.Buffer
	w := &Writer{log: slog.New(slog.NewTextHandler(&logs, nil)), queue: make(chan db.AuditRecord, 1),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})}
	w.enqueue(db.AuditRecord{Action: "a.one", ResourceType: "system"})
	w.enqueue(db.AuditRecord{Action: "a.two", ResourceType: "system"})
	if got := testutil.ToFloat64(w.dropped); got != 1 {
		t.Fatalf("dropped counter = %v, want 1", got)
	}
	if len(w.queue) != 1 || (<-w.queue).Action != "a.one" {
		t.Fatal("the queued entry was not kept")
	}
	if !strings.Contains(logs.String(), "audit queue full") || !strings.Contains(logs.String(), "a.two") {
		t.Fatalf("no log line for the dropped entry: %q", logs.String())
	}
}

// TestSanitizeAuditRecord: whatever a client sent, a record leaves with no NUL, valid UTF-8,
// and every string within its bound, cut on a character boundary.
func TestSanitizeAuditRecord(t *testing.T) {
	ip := "203.0.113.7\x00" + strings.Repeat("9", 200)
	ua := "curl\x00/\xc3" + strings.Repeat("é", 1000) // a lone lead byte, then 2-byte runes
	details, err := json.Marshal(map[string]any{
		"path":   "/api/v1/agents/\x00",
		"long":   strings.Repeat("x", 5000),
		"nested": map[string]any{"k\x00ey": []any{"a\x00b", 7, 1.5, nil, true}},
		"n":      json.Number("12345678901234567890"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := db.AuditRecord{ActorType: "system", Action: "auth.failed" + strings.Repeat("!", 200), ResourceType: "system",
		IPAddress: &ip, UserAgent: &ua, Details: details}
	sanitizeRecord(&r)

	for name, s := range map[string]string{"ip": *r.IPAddress, "ua": *r.UserAgent, "action": r.Action, "details": string(r.Details)} {
		if !utf8.ValidString(s) || strings.ContainsRune(s, 0) || strings.Contains(s, `\u0000`) {
			t.Errorf("%s not clean: %q", name, s)
		}
	}
	if len(*r.IPAddress) > maxAddress || !strings.HasPrefix(*r.IPAddress, "203.0.113.79") || !strings.HasSuffix(*r.IPAddress, "…") {
		t.Errorf("ip = %q", *r.IPAddress)
	}
	if len(*r.UserAgent) > maxUserAgent || !strings.HasPrefix(*r.UserAgent, "curl/\uFFFDé") || !strings.HasSuffix(*r.UserAgent, "é…") {
		t.Errorf("user agent = %q (%d bytes)", *r.UserAgent, len(*r.UserAgent))
	}
	if len(r.Action) != 100 {
		t.Errorf("action is %d bytes, want the column's 100", len(r.Action))
	}
	var d struct {
		Path   string
		Long   string
		Nested map[string][]any
		N      json.Number
	}
	if err := json.Unmarshal(r.Details, &d); err != nil {
		t.Fatalf("details %s: %v", r.Details, err)
	}
	if d.Path != "/api/v1/agents/" || len(d.Long) != maxString || !strings.HasSuffix(d.Long, "…") ||
		d.N != "12345678901234567890" || len(d.Nested["key"]) != 5 || d.Nested["key"][0] != "ab" {
		t.Errorf("details = %s", r.Details)
	}

	// Too large even with every string bounded: replaced by a marker with the size.
	many := map[string]any{}
	for i := range 20 {
		many[fmt.Sprint("k", i)] = strings.Repeat("y", 900)
	}
	big, _ := json.Marshal(many)
	r = db.AuditRecord{Details: big}
	sanitizeRecord(&r)
	if string(r.Details) != fmt.Sprintf(`{"bytes":%d,"truncated":true}`, len(big)) {
		t.Errorf("oversized details = %s", r.Details)
	}

	// Clean, small details are kept byte for byte.
	small := json.RawMessage(`{"name":"ci","reason":"invalid_pak"}`)
	r = db.AuditRecord{Details: small}
	sanitizeRecord(&r)
	if string(r.Details) != string(small) {
		t.Errorf("clean details changed: %s", r.Details)
	}
}

// TestFailedAuthLimiterBoundsMemory: however many addresses fail, at most max are tracked;
// the others share one window and one allowance, and every failure is either written or
// counted in a summary.
func TestFailedAuthLimiterBoundsMemory(t *testing.T) {
	const max, limit, addresses, perAddress = 8, 2, 10000, 3
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newFailedAuthLimiter(max)
	l.now = func() time.Time { return now }
	written, summarised := 0, 0
	count := func(summaries []db.AuditRecord) {
		for _, s := range summaries {
			var d struct{ Suppressed int }
			if err := json.Unmarshal(s.Details, &d); err != nil {
				t.Fatal(err)
			}
			summarised += d.Suppressed
		}
	}
	for i := range addresses {
		addr := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		for range perAddress {
			ok, summaries := l.admit(addr, limit)
			count(summaries)
			if ok {
				written++
			}
		}
		if len(l.windows) > max {
			t.Fatalf("%d addresses tracked, bound %d", len(l.windows), max)
		}
	}
	// max tracked addresses with their own allowance, plus one shared allowance.
	if want := max*limit + limit; written != want {
		t.Errorf("%d failures written, want %d", written, want)
	}
	now = now.Add(failedAuthWindow)
	final := l.sweep(false)
	count(final)
	if written+summarised != addresses*perAddress {
		t.Errorf("written %d + summarised %d != %d failures", written, summarised, addresses*perAddress)
	}
	var untracked int
	for _, s := range final {
		if s.IPAddress == nil {
			untracked++
			if !strings.Contains(string(s.Details), `"untracked_addresses":true`) {
				t.Errorf("shared window summary: %s", s.Details)
			}
		}
	}
	if untracked != 1 || len(l.windows) != 0 || l.other != nil {
		t.Errorf("after the windows ended: %d untracked summaries, %d windows left", untracked, len(l.windows))
	}
	// The table has room again.
	if ok, _ := l.admit("192.0.2.1", limit); !ok || len(l.windows) != 1 {
		t.Error("a new address is not tracked once the windows ended")
	}
}

// TestFailedAuthKey: the peer address, IPv6 by its /64; X-Forwarded-For plays no part.
func TestFailedAuthKey(t *testing.T) {
	for remote, want := range map[string]string{
		"192.0.2.10:5555":            "192.0.2.10",
		"[2001:db8:1:2:3:4:5:6]:443": "2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "2001:db8:1:2::/64",
		"[::ffff:192.0.2.10]:80":     "192.0.2.10",
		"[fe80::1%eth0]:80":          "fe80::/64",
		"not-an-address":             "not-an-address",
	} {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {"198.51.100.1"}}}
		if got := failedAuthKey(r); got != want {
			t.Errorf("failedAuthKey(%q) = %q, want %q", remote, got, want)
		}
	}
}
