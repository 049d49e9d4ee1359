package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/db"
)

// Audit actions (audit_logs.action).
const (
	AuditPAKCreated            = "pak.created"
	AuditPAKRotated            = "pak.rotated"
	AuditAuthFailed            = "auth.failed"
	AuditAgentCreated          = "agent.created"
	AuditAgentUpdated          = "agent.updated"
	AuditAgentDeleted          = "agent.deleted"
	AuditAgentRegistered       = "agent.registered"
	AuditAgentDeregistered     = "agent.deregistered"
	AuditStackCreated          = "stack.created"
	AuditStackUpdated          = "stack.updated"
	AuditStackDeleted          = "stack.deleted"
	AuditGeneratorCreated      = "generator.created"
	AuditGeneratorUpdated      = "generator.updated"
	AuditGeneratorDeleted      = "generator.deleted"
	AuditTemplateCreated       = "template.created"
	AuditTemplateUpdated       = "template.updated"
	AuditTemplateDeleted       = "template.deleted"
	AuditWebhookCreated        = "webhook.created"
	AuditWebhookUpdated        = "webhook.updated"
	AuditWebhookDeleted        = "webhook.deleted"
	AuditWebhookDeliveryFailed = "webhook.delivery_failed"
	AuditWorkOrderCreated      = "workorder.created"
	AuditWorkOrderClaimed      = "workorder.claimed"
	AuditWorkOrderCompleted    = "workorder.completed"
	AuditWorkOrderFailed       = "workorder.failed"
	AuditWorkOrderRetry        = "workorder.retry"
	AuditConfigReloaded        = "config.reloaded"
)

// Audit resource types (audit_logs.resource_type).
const (
	ResourceAgent     = "agent"
	ResourceStack     = "stack"
	ResourceGenerator = "generator"
	ResourceTemplate  = "template"
	ResourceWebhook   = "webhook_subscription"
	ResourceWorkOrder = "work_order"
	ResourcePAK       = "pak"
	ResourceConfig    = "config"
	ResourceSystem    = "system"
)

// AuditEntry is one audited action. Actor fields are filled from the request when left empty.
type AuditEntry struct {
	ActorType    string // admin, agent, generator, system; "" = the caller
	ActorID      *uuid.UUID
	Action       string
	ResourceType string
	ResourceID   *uuid.UUID
	Details      map[string]any
}

// auditWriter records audit entries without blocking requests: entries are queued and
// inserted in batches (auditBatch rows or every flush interval). A full queue drops the entry,
// counts it in brokkr_audit_dropped_total and logs it, so nothing is lost silently.
//
// Every entry is made storable before it is queued (see sanitizeAuditRecord). Should a batch
// insert fail all the same, its rows are inserted one by one, so one bad row costs only
// itself: it is logged and counted in brokkr_audit_write_failures_total. auth.failed entries
// are rate-limited per client address (see failedAuthLimiter).
type auditWriter struct {
	s       *Server
	queue   chan db.AuditRecord
	flushes chan chan struct{}
	done    chan struct{}
	stop    context.CancelFunc
	once    sync.Once
	limiter *failedAuthLimiter

	written    prometheus.Counter
	dropped    prometheus.Counter
	failed     prometheus.Counter
	suppressed prometheus.Counter
}

// auditSweepInterval is how often ended auth.failed windows are summarised.
const auditSweepInterval = 10 * time.Second

func newAuditWriter(s *Server) *auditWriter {
	cfg := s.Config().Broker
	size := cfg.AuditBufferSize
	if size <= 0 {
		size = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &auditWriter{
		s: s, queue: make(chan db.AuditRecord, size), flushes: make(chan chan struct{}),
		done: make(chan struct{}), stop: cancel, limiter: newFailedAuthLimiter(failedAuthMaxAddresses),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_written_total", Help: "Audit rows written."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_dropped_total", Help: "Audit entries dropped because the queue was full."}),
		failed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_write_failures_total", Help: "Audit rows lost to failed inserts."}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_failed_auth_suppressed_total",
			Help: "auth.failed audit entries not written one by one because their address passed broker.audit_failed_auth_per_minute (they are counted in summary entries)."}),
	}
	s.metrics.registry.MustRegister(w.written, w.dropped, w.failed, w.suppressed)
	go w.run(ctx)
	return w
}

// enqueue makes a record storable and queues it, dropping it (loudly) when the queue is full.
func (w *auditWriter) enqueue(r db.AuditRecord) {
	sanitizeAuditRecord(&r)
	select {
	case w.queue <- r:
	default:
		w.dropped.Inc()
		w.s.log.Error("audit queue full; entry dropped", slog.String("action", r.Action),
			slog.String("resource_type", r.ResourceType))
	}
}

func (w *auditWriter) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]db.AuditRecord, 0, 128)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sweep := time.NewTicker(auditSweepInterval)
	defer sweep.Stop()
	write := func() {
		if len(batch) == 0 {
			return
		}
		w.insert(batch)
		batch = batch[:0]
	}
	// summarise adds the summaries of ended auth.failed windows (all of them when final).
	summarise := func(final bool) {
		for _, r := range w.limiter.sweep(final) {
			sanitizeAuditRecord(&r)
			batch = append(batch, r)
		}
	}
	for {
		cfg := w.s.Config().Broker
		max := cfg.AuditBatchSize
		if max <= 0 {
			max = 100
		}
		select {
		case r := <-w.queue:
			if len(batch) == 0 {
				interval := time.Duration(cfg.AuditFlushIntervalMillis) * time.Millisecond
				if interval <= 0 {
					interval = time.Second
				}
				timer.Reset(interval)
			}
			batch = append(batch, r)
			if len(batch) >= max {
				timer.Stop()
				write()
			}
		case <-timer.C:
			write()
		case <-sweep.C:
			// A batch in progress has its timer running and takes the summaries along.
			idle := len(batch) == 0
			summarise(false)
			if idle || len(batch) >= max {
				timer.Stop()
				write()
			}
		case ack := <-w.flushes:
			summarise(false)
			w.drain(&batch, max, write)
			write()
			close(ack)
		case <-ctx.Done():
			summarise(true)
			w.drain(&batch, max, write)
			write()
			return
		}
	}
}

// insert stores a batch. When the batch insert fails, the rows are inserted one by one so
// that only the rows the database refuses are lost; each is logged and counted. When the
// database itself fails (no row can be written), the rest of the batch is counted as lost.
func (w *auditWriter) insert(batch []db.AuditRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := db.InsertAuditLogs(ctx, w.s.db, batch)
	if err == nil {
		w.written.Add(float64(len(batch)))
		return
	}
	if len(batch) > 1 {
		w.s.log.Warn("audit batch insert failed; inserting its rows one by one",
			slog.Int("rows", len(batch)), slog.Any("err", err))
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	for i := range batch {
		if len(batch) > 1 {
			err = db.InsertAuditLogs(ctx, w.s.db, batch[i:i+1])
		}
		switch {
		case err == nil:
			w.written.Inc()
		case rowRefused(err):
			r := batch[i]
			w.failed.Inc()
			w.s.log.Error("audit row refused by the database; entry lost", slog.String("action", r.Action),
				slog.String("actor_type", r.ActorType), slog.String("resource_type", r.ResourceType),
				slog.Time("timestamp", r.Timestamp), slog.Any("err", err))
		default:
			lost := len(batch) - i
			w.failed.Add(float64(lost))
			w.s.log.Error("write audit rows", slog.Int("rows", lost), slog.Any("err", err))
			return
		}
	}
}

// rowRefused reports whether err is the database refusing the row itself (invalid data, a
// constraint, a limit), rather than the database being unavailable.
func rowRefused(err error) bool {
	var pg *pgconn.PgError
	if !errors.As(err, &pg) || len(pg.Code) < 2 {
		return false
	}
	switch pg.Code[:2] {
	case "22", "23", "54": // data exception, integrity constraint violation, program limit exceeded
		return true
	}
	return false
}

// drain moves everything queued now into batches.
func (w *auditWriter) drain(batch *[]db.AuditRecord, max int, write func()) {
	for {
		select {
		case r := <-w.queue:
			*batch = append(*batch, r)
			if len(*batch) >= max {
				write()
			}
		default:
			return
		}
	}
}

// flush writes everything queued so far and returns when it is stored.
func (w *auditWriter) flush(ctx context.Context) {
	ack := make(chan struct{})
	select {
	case w.flushes <- ack:
	case <-w.done:
		return
	case <-ctx.Done():
		return
	}
	select {
	case <-ack:
	case <-ctx.Done():
	}
}

// close flushes and stops the writer.
func (w *auditWriter) close() {
	w.once.Do(func() {
		w.stop()
		<-w.done
	})
}

// FlushAudit waits until every audit entry recorded so far is stored.
func (s *Server) FlushAudit(ctx context.Context) { s.auditor.flush(ctx) }

// Close stops what New started (the audit writer), writing what is queued.
func (s *Server) Close() { s.auditor.close() }

// audit records an entry for the request c (c may be nil for system actions).
func (s *Server) audit(c echo.Context, e AuditEntry) {
	if e.Action == AuditAuthFailed && c != nil {
		limit := s.Config().Broker.AuditFailedAuthPerMinute
		if limit <= 0 {
			limit = defaultFailedAuthPerMinute
		}
		ok, summaries := s.auditor.limiter.admit(failedAuthKey(c.Request()), limit)
		for _, r := range summaries {
			s.auditor.enqueue(r)
		}
		if !ok {
			s.auditor.suppressed.Inc()
			return
		}
	}
	rec := db.AuditRecord{
		Timestamp: time.Now(), ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID,
	}
	if c != nil {
		who := identity(c)
		if rec.ActorType == "" {
			switch {
			case who.Admin:
				rec.ActorType = "admin"
			case who.IsAgent():
				rec.ActorType, rec.ActorID = "agent", ptr(who.AgentID)
			case who.IsGenerator():
				rec.ActorType, rec.ActorID = "generator", ptr(who.GeneratorID)
			default:
				rec.ActorType = "system"
			}
		}
		if ip := clientIP(c); ip != "" {
			rec.IPAddress = &ip
		}
		if ua := c.Request().UserAgent(); ua != "" {
			rec.UserAgent = &ua
		}
	}
	if rec.ActorType == "" {
		rec.ActorType = "system"
	}
	if e.Details != nil {
		if b, err := json.Marshal(e.Details); err == nil {
			rec.Details = b
		}
	}
	s.auditor.enqueue(rec)
}

// clientIP is the first X-Forwarded-For entry, else the connection's address.
func clientIP(c echo.Context) string {
	if xff := c.Request().Header.Get(echo.HeaderXForwardedFor); xff != "" {
		return strings.TrimSpace(strings.Split(xff, ",")[0])
	}
	host, _, err := net.SplitHostPort(c.Request().RemoteAddr)
	if err != nil {
		return c.Request().RemoteAddr
	}
	return host
}

func ptr[T any](v T) *T { return &v }

// Bounds of stored audit strings, in bytes. The names of the columns with a declared width
// (actor_type, action, resource_type) are cut to that width.
const (
	auditMaxString    = 1024 // each string of details, keys included
	auditMaxDetails   = 8192 // the whole details document
	auditMaxUserAgent = 512
	auditMaxAddress   = 64
)

// truncationMark ends a string that was cut.
const truncationMark = "…"

// sanitizeAuditRecord makes a record storable whatever a client sent: PostgreSQL refuses NUL
// in text and in jsonb (\u0000), and invalid UTF-8 in text, and a client chooses the user
// agent, the forwarded address and, through the path, parts of details. NULs are removed,
// invalid UTF-8 becomes U+FFFD, and every string is cut to its bound (see above), cut
// strings ending in "…". A details document still larger than auditMaxDetails is replaced by
// {"truncated": true, "bytes": <its size>}.
func sanitizeAuditRecord(r *db.AuditRecord) {
	r.ActorType = cleanAuditText(r.ActorType, 20, false)
	r.Action = cleanAuditText(r.Action, 100, false)
	r.ResourceType = cleanAuditText(r.ResourceType, 50, false)
	if r.IPAddress != nil {
		v := cleanAuditText(*r.IPAddress, auditMaxAddress, true)
		r.IPAddress = &v
	}
	if r.UserAgent != nil {
		v := cleanAuditText(*r.UserAgent, auditMaxUserAgent, true)
		r.UserAgent = &v
	}
	if r.Details != nil {
		r.Details = cleanAuditDetails(r.Details)
	}
}

// cleanAuditText removes NULs, replaces invalid UTF-8 and cuts s to at most max bytes on a
// character boundary (ending it with truncationMark when mark is set).
func cleanAuditText(s string, max int, mark bool) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if len(s) <= max {
		return s
	}
	cut := max
	if mark {
		cut -= len(truncationMark)
	}
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if mark {
		return s[:cut] + truncationMark
	}
	return s[:cut]
}

// cleanAuditDetails applies cleanAuditText to every string (and key) of a JSON document.
func cleanAuditDetails(b json.RawMessage) json.RawMessage {
	// A small document without an escaped NUL needs nothing: json.Marshal wrote valid UTF-8,
	// and no string in it can be longer than the document.
	if len(b) <= auditMaxString && !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return truncatedDetails(len(b))
	}
	out, err := json.Marshal(cleanAuditJSON(v))
	if err != nil {
		return truncatedDetails(len(b))
	}
	if len(out) > auditMaxDetails {
		return truncatedDetails(len(out))
	}
	return out
}

func cleanAuditJSON(v any) any {
	switch x := v.(type) {
	case string:
		return cleanAuditText(x, auditMaxString, true)
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[cleanAuditText(k, auditMaxString, true)] = cleanAuditJSON(e)
		}
		return out
	case []any:
		for i, e := range x {
			x[i] = cleanAuditJSON(e)
		}
		return x
	}
	return v
}

func truncatedDetails(size int) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"truncated": true, "bytes": size})
	return b
}

// Rate limit of auth.failed entries.
const (
	defaultFailedAuthPerMinute = 30
	failedAuthWindow           = time.Minute
	// failedAuthMaxAddresses bounds the addresses tracked at once; failures from further
	// addresses share one window (and one limit) until tracked windows end.
	failedAuthMaxAddresses = 1024
)

// failedAuthKey is the address failed authentications are counted under: the connection's
// peer address, not X-Forwarded-For, which the client writes and could change at every
// request. An IPv6 address counts by its /64, the block one host usually holds.
func failedAuthKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	addr = addr.WithZone("").Unmap()
	if addr.Is6() {
		if p, err := addr.Prefix(64); err == nil {
			return p.String()
		}
	}
	return addr.String()
}

// failedAuthCount is one address's failed authentications in its current window, which
// starts at its first failure and lasts failedAuthWindow.
type failedAuthCount struct {
	start       time.Time
	limit       int
	written     int
	suppressed  int
	first, last time.Time // of the suppressed failures
}

// failedAuthLimiter lets through the first limit auth.failed entries of each address per
// window and counts the rest. When a window with suppressed failures ends, one auth.failed
// entry summarises them (details: reason "rate_limited", suppressed, first_at, last_at,
// per_minute; ip_address: the address). At most max addresses are tracked: failures from
// other addresses while the table is full share one window, whose summary has no ip_address
// and untracked_addresses: true. Memory is thus bounded whatever the number of addresses.
type failedAuthLimiter struct {
	mu      sync.Mutex
	now     func() time.Time
	max     int
	windows map[string]*failedAuthCount
	other   *failedAuthCount // failures of addresses beyond max
	sweptAt time.Time        // last sweep made by admit
}

func newFailedAuthLimiter(max int) *failedAuthLimiter {
	return &failedAuthLimiter{now: time.Now, max: max, windows: map[string]*failedAuthCount{}}
}

// admit counts one failure of addr and reports whether its entry is written. It also returns
// the summaries of windows that ended and were found on the way.
func (l *failedAuthLimiter) admit(addr string, limit int) (bool, []db.AuditRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	var summaries []db.AuditRecord
	end := func(key string, c *failedAuthCount) {
		if c.suppressed > 0 {
			summaries = append(summaries, failedAuthSummary(key, c))
		}
	}
	c := l.windows[addr]
	if c != nil && now.Sub(c.start) >= failedAuthWindow {
		end(addr, c)
		delete(l.windows, addr)
		c = nil
	}
	if c == nil && len(l.windows) >= l.max && now.Sub(l.sweptAt) >= time.Second {
		// Full: make room by ending what ended (at most once a second, the table is long).
		l.sweptAt = now
		summaries = append(summaries, l.sweepLocked(now, false)...)
	}
	if c == nil {
		if len(l.windows) < l.max {
			c = &failedAuthCount{start: now, limit: limit}
			l.windows[addr] = c
		} else {
			if l.other != nil && now.Sub(l.other.start) >= failedAuthWindow {
				end("", l.other)
				l.other = nil
			}
			if l.other == nil {
				l.other = &failedAuthCount{start: now, limit: limit}
			}
			c = l.other
		}
	}
	if c.written < c.limit {
		c.written++
		return true, summaries
	}
	if c.suppressed == 0 {
		c.first = now
	}
	c.suppressed++
	c.last = now
	return false, summaries
}

// sweep removes the windows that ended (every window when final) and returns the summaries
// of those with suppressed failures.
func (l *failedAuthLimiter) sweep(final bool) []db.AuditRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sweepLocked(l.now(), final)
}

func (l *failedAuthLimiter) sweepLocked(now time.Time, final bool) []db.AuditRecord {
	var out []db.AuditRecord
	for k, c := range l.windows {
		if final || now.Sub(c.start) >= failedAuthWindow {
			if c.suppressed > 0 {
				out = append(out, failedAuthSummary(k, c))
			}
			delete(l.windows, k)
		}
	}
	if c := l.other; c != nil && (final || now.Sub(c.start) >= failedAuthWindow) {
		if c.suppressed > 0 {
			out = append(out, failedAuthSummary("", c))
		}
		l.other = nil
	}
	return out
}

// failedAuthSummary is the auth.failed entry that stands for the suppressed failures of a
// window; addr "" is the shared window of untracked addresses.
func failedAuthSummary(addr string, c *failedAuthCount) db.AuditRecord {
	details := map[string]any{
		"reason": "rate_limited", "suppressed": c.suppressed, "per_minute": c.limit,
		"first_at": c.first.UTC(), "last_at": c.last.UTC(),
	}
	r := db.AuditRecord{Timestamp: c.last, ActorType: "system", Action: AuditAuthFailed, ResourceType: ResourceSystem}
	if addr == "" {
		details["untracked_addresses"] = true
	} else {
		a := addr
		r.IPAddress = &a
	}
	r.Details, _ = json.Marshal(details)
	return r
}
