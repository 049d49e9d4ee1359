package audit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
)

// Options are the dependencies of New.
type Options struct {
	DB       *db.DB
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Config   func() config.Broker // the configuration in force (batching, rate limit)
}

// Writer records audit entries without blocking requests: entries are queued and inserted
// in batches (broker.audit_batch_size rows or every flush interval). A full queue drops the
// entry, counts it in brokkr_audit_dropped_total and logs it, so nothing is lost silently.
//
// Every entry is made storable before it is queued (see sanitizeRecord). Should a batch
// insert fail all the same, its rows are inserted one by one, so one bad row costs only
// itself: it is logged and counted in brokkr_audit_write_failures_total. auth.failed entries
// are rate-limited per client address (see AdmitFailedAuth).
type Writer struct {
	db      *db.DB
	log     *slog.Logger
	config  func() config.Broker
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

// sweepInterval is how often ended auth.failed windows are summarised.
const sweepInterval = 10 * time.Second

// New starts a writer; Close stops it.
func New(o Options) *Writer {
	size := o.Config().Broker.AuditBufferSize
	if size <= 0 {
		size = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	w := &Writer{
		db: o.DB, log: o.Logger, config: o.Config,
		queue: make(chan db.AuditRecord, size), flushes: make(chan chan struct{}),
		done: make(chan struct{}), stop: cancel, limiter: newFailedAuthLimiter(failedAuthMaxAddresses),
		written: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_written_total", Help: "Audit rows written."}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_dropped_total", Help: "Audit entries dropped because the queue was full."}),
		failed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_write_failures_total", Help: "Audit rows lost to failed inserts."}),
		suppressed: prometheus.NewCounter(prometheus.CounterOpts{Name: "brokkr_audit_failed_auth_suppressed_total",
			Help: "auth.failed audit entries not written one by one because their address passed broker.audit_failed_auth_per_minute (they are counted in summary entries)."}),
	}
	o.Registry.MustRegister(w.written, w.dropped, w.failed, w.suppressed)
	go w.run(ctx)
	return w
}

// Record queues an entry.
func (w *Writer) Record(e Entry) {
	r := db.AuditRecord{
		Timestamp: time.Now(), ActorType: e.ActorType, ActorID: e.ActorID, Action: e.Action,
		ResourceType: e.ResourceType, ResourceID: e.ResourceID, IPAddress: e.IPAddress, UserAgent: e.UserAgent,
	}
	if r.ActorType == "" {
		r.ActorType = ActorSystem
	}
	if e.Details != nil {
		if b, err := json.Marshal(e.Details); err == nil {
			r.Details = b
		}
	}
	w.enqueue(r)
}

// AdmitFailedAuth counts a failed authentication of request r and reports whether its
// auth.failed entry is to be recorded: the first broker.audit_failed_auth_per_minute of
// each client address per minute are, the others are summarised once their minute is over.
func (w *Writer) AdmitFailedAuth(r *http.Request) bool {
	limit := w.config().Broker.AuditFailedAuthPerMinute
	if limit <= 0 {
		limit = defaultFailedAuthPerMinute
	}
	ok, summaries := w.limiter.admit(failedAuthKey(r), limit)
	for _, s := range summaries {
		w.enqueue(s)
	}
	if !ok {
		w.suppressed.Inc()
	}
	return ok
}

// SetClock replaces the clock of the auth.failed rate limiter (tests move time with it).
func (w *Writer) SetClock(now func() time.Time) {
	w.limiter.mu.Lock()
	defer w.limiter.mu.Unlock()
	w.limiter.now = now
}

// enqueue makes a record storable and queues it, dropping it (loudly) when the queue is full.
func (w *Writer) enqueue(r db.AuditRecord) {
	sanitizeRecord(&r)
	select {
	case w.queue <- r:
	default:
		w.dropped.Inc()
		w.log.Error("audit queue full; entry dropped", slog.String("action", r.Action),
			slog.String("resource_type", r.ResourceType))
	}
}

func (w *Writer) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]db.AuditRecord, 0, 128)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	sweep := time.NewTicker(sweepInterval)
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
			sanitizeRecord(&r)
			batch = append(batch, r)
		}
	}
	for {
		cfg := w.config().Broker
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
func (w *Writer) insert(batch []db.AuditRecord) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := db.InsertAuditLogs(ctx, w.db, batch)
	if err == nil {
		w.written.Add(float64(len(batch)))
		return
	}
	if len(batch) > 1 {
		w.log.Warn("audit batch insert failed; inserting its rows one by one",
			slog.Int("rows", len(batch)), slog.Any("error", err))
		cancel()
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
	}
	for i := range batch {
		if len(batch) > 1 {
			err = db.InsertAuditLogs(ctx, w.db, batch[i:i+1])
		}
		switch {
		case err == nil:
			w.written.Inc()
		case rowRefused(err):
			r := batch[i]
			w.failed.Inc()
			w.log.Error("audit row refused by the database; entry lost", slog.String("action", r.Action),
				slog.String("actor_type", r.ActorType), slog.String("resource_type", r.ResourceType),
				slog.Time("timestamp", r.Timestamp), slog.Any("error", err))
		default:
			lost := len(batch) - i
			w.failed.Add(float64(lost))
			w.log.Error("write audit rows", slog.Int("rows", lost), slog.Any("error", err))
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
func (w *Writer) drain(batch *[]db.AuditRecord, max int, write func()) {
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

// Flush writes everything queued so far and returns when it is stored.
func (w *Writer) Flush(ctx context.Context) {
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

// Close flushes and stops the writer.
func (w *Writer) Close() {
	w.once.Do(func() {
		w.stop()
		<-w.done
	})
}
