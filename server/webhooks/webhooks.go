// Package webhooks delivers the broker's webhook events: it queues one delivery per matching
// subscription inside the transaction of the write that caused the event, sends due
// deliveries with retries from every replica, hands deliveries for in-cluster endpoints to
// agents and records what they report, and keeps subscription URLs and auth headers
// encrypted at rest. The HTTP layer serves the subscription API on top of it.
package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/secretbox"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/workers"
)

// Options are the dependencies of New.
type Options struct {
	DB       *db.DB
	Logger   *slog.Logger
	Registry prometheus.Registerer
	Config   func() config.Broker // the configuration in force
	Audit    *audit.Writer        // records deliveries that died
	// TracerProvider, when set, makes a span of every delivery attempt (nil: none).
	TracerProvider trace.TracerProvider
}

// The delivery paths, as metric labels: sent by the broker, or handed to an agent.
const (
	pathBroker = "broker"
	pathAgent  = "agent"
)

// Service is the webhook subsystem of one broker.
type Service struct {
	db              *db.DB
	log             *slog.Logger
	config          func() config.Broker
	audit           *audit.Writer
	client          *http.Client
	tracer          trace.Tracer
	decryptFailures *prometheus.CounterVec
	outcomes        *prometheus.CounterVec

	boxOnce sync.Once
	box     *secretbox.Box
	boxErr  error
}

// New returns the webhook subsystem and registers its metrics.
func New(o Options) *Service {
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = webhookSendConcurrency
	w := &Service{
		db: o.DB, log: o.Logger, config: o.Config, audit: o.Audit,
		client: &http.Client{Transport: transport}, // each request carries its own timeout
		tracer: tracerOf(o.TracerProvider),
		decryptFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_webhook_decrypt_failures_total",
			Help: "Webhook secrets that could not be decrypted, by field (url, auth_header) and delivery path (broker, agent).",
		}, []string{"field", "path"}),
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_webhook_deliveries_total",
			Help: "Recorded webhook delivery attempts by delivery path (broker, agent) and the delivery's resulting status (success, failed = will retry, dead).",
		}, []string{"path", "result"}),
	}
	for _, path := range []string{pathBroker, pathAgent} {
		for _, field := range []string{"url", "auth_header"} {
			w.decryptFailures.WithLabelValues(field, path)
		}
		for _, result := range []string{db.DeliverySuccess, db.DeliveryFailed, db.DeliveryDead} {
			w.outcomes.WithLabelValues(path, result)
		}
	}
	o.Registry.MustRegister(w.decryptFailures, w.outcomes)
	return w
}

// Workers returns the delivery worker and the cleanup of finished deliveries.
func (w *Service) Workers() []workers.Worker {
	return []workers.Worker{{
		Name:     "webhook-delivery",
		Interval: workers.Seconds(func(b config.BrokerSettings) int { return b.WebhookDeliveryIntervalSeconds }),
		Run:      w.deliverDue,
	}, {
		Name:     "webhook-cleanup",
		Interval: func(config.Broker) time.Duration { return time.Hour },
		Run:      w.cleanup,
	}}
}

// CheckKey runs at start. With broker.webhook_encryption_key set it checks the key.
// Without it, existing subscriptions could never be decrypted again (their key died with the
// process that created them), so the broker refuses to start; with no subscriptions it uses a
// random key for this process and says so.
func (w *Service) CheckKey(ctx context.Context) error {
	if key := w.config().Broker.WebhookEncryptionKey; key != "" {
		box, err := secretbox.ParseHexKey(key)
		if err != nil {
			return fmt.Errorf("broker.webhook_encryption_key: %w", err)
		}
		w.log.Info("webhook encryption key configured", slog.String("fingerprint", box.Fingerprint()))
		return nil
	}
	exist, err := db.WebhookSubscriptionsExist(ctx, w.db)
	if err != nil {
		return fmt.Errorf("check for webhook subscriptions: %w", err)
	}
	if exist {
		return errors.New("webhook subscriptions exist but broker.webhook_encryption_key is not set, so their " +
			"URLs and auth headers cannot be decrypted; set broker.webhook_encryption_key to the 64-hex-character " +
			"key they were created with")
	}
	if _, err := processKey(); err != nil {
		return err
	}
	w.log.Warn("broker.webhook_encryption_key is not set: webhook secrets are encrypted with a random key " +
		"for this process, and subscriptions created now become undecryptable after a restart; " +
		"set broker.webhook_encryption_key (64 hex characters) for production")
	return nil
}
