package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

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
type auditWriter struct {
	s       *Server
	queue   chan db.AuditRecord
	flushes chan chan struct{}
	done    chan struct{}
	stop    context.CancelFunc
	once    sync.Once

	written prometheus.Counter
	dropped prometheus.Counter
	failed  prometheus.Counter
}

func newAuditWriter(s *Server) *auditWriter {
	cfg := s.Config().Broker
	size := cfg.AuditBufferSize
	if size <= 0 {
		size = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &auditWriter{
		s: s, queue: make(chan db.AuditRecord, size), flushes: make(chan chan struct{}),
		done: make(chan struct{}), stop: cancel,
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_written_total", Help: "Audit rows written."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_dropped_total", Help: "Audit entries dropped because the queue was full."}),
		failed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_write_failures_total", Help: "Audit rows lost to failed inserts."}),
	}
	s.metrics.registry.MustRegister(w.written, w.dropped, w.failed)
	go w.run(ctx)
	return w
}

// enqueue queues a record, dropping it (loudly) when the queue is full.
func (w *auditWriter) enqueue(r db.AuditRecord) {
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
	write := func() {
		if len(batch) == 0 {
			return
		}
		wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := db.InsertAuditLogs(wctx, w.s.db, batch)
		cancel()
		if err != nil {
			w.failed.Add(float64(len(batch)))
			w.s.log.Error("write audit rows", slog.Int("rows", len(batch)), slog.Any("err", err))
		} else {
			w.written.Add(float64(len(batch)))
		}
		batch = batch[:0]
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
		case ack := <-w.flushes:
			w.drain(&batch, max, write)
			write()
			close(ack)
		case <-ctx.Done():
			w.drain(&batch, max, write)
			write()
			return
		}
	}
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
