// Package server is the broker's HTTP layer: the /api/v1 REST API on echo, authentication
// and authorization, error mapping, request admission and the operations endpoints. It wires
// the broker's parts together: the event bus and the notification listener (events), the
// WebSocket channels (live), webhook delivery (webhooks), the audit log (audit) and the
// periodic background workers (workers). Its sub-packages never import it.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/api"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server/audit"
	"github.com/brokkr/brokkr/server/events"
	"github.com/brokkr/brokkr/server/heartbeats"
	"github.com/brokkr/brokkr/server/live"
	"github.com/brokkr/brokkr/server/rollouts"
	"github.com/brokkr/brokkr/server/targetstate"
	"github.com/brokkr/brokkr/server/webhooks"
	"github.com/brokkr/brokkr/server/workers"
)

const apiPrefix = "/api/v1"

// Server is one broker replica.
type Server struct {
	db        *db.DB
	log       *slog.Logger
	logLevel  *slog.LevelVar
	echo      *echo.Echo
	bus       *events.Bus
	metrics   *metrics
	authCache *authCache
	pak       pak.Settings

	cfgMu      sync.RWMutex
	cfg        config.Broker
	reload     func() (config.Broker, error)
	configFile string

	readOnlyHash string // hash of the in-memory read-only admin key
	readOnlyKey  string

	ready    readiness
	auditor  *audit.Writer
	workers  *workers.Runner
	listener *events.Listener   // PostgreSQL notifications from the other replicas
	live     *live.Hub          // WebSocket channels and their cross-replica fan-out
	targets  *targetstate.Cache // agents' target-state answers kept in memory
	webhooks *webhooks.Service  // webhook emission and delivery
	evicted  *evictionMetrics   // the telemetry eviction worker's counts

	heartbeats *heartbeats.Coalescer // agents' heartbeats, written in batches

	startOnce       sync.Once
	bg              sync.WaitGroup // the listener and the configuration file watcher
	listenerStarted atomic.Bool    // Start launched the notification listener; /readyz watches it

	templates *templateGuard // bounds on template checks and renderings

	admission *admission   // bound on API requests served at once
	conns     *connections // open HTTP connections of Serve, for keep-alive shedding

	tracerProvider trace.TracerProvider // nil: requests are not traced

	clock func() time.Time // rollouts and apply windows

	rollouts *rollouts.Controller // progressive rollouts
}

// Options are the dependencies of New.
type Options struct {
	Config   config.Broker
	DB       *db.DB
	Logger   *slog.Logger
	LogLevel *slog.LevelVar // the logger's level, changed when log.level is reloaded (optional)
	// Reload re-reads the configuration for POST /admin/config/reload and the file watcher;
	// nil disables reloading (503 config_reload_disabled).
	Reload func() (config.Broker, error)
	// ConfigFile is watched for changes when broker.config_watch is set.
	ConfigFile string
	// TracerProvider, when set, traces requests and webhook deliveries (nil: no tracing).
	// Statements are traced by the database pool (db.Options.TracerProvider).
	TracerProvider trace.TracerProvider
	// Clock is the time rollouts and apply windows go by (default time.Now); tests
	// control it.
	Clock func() time.Time
}

// New builds a broker around an open, migrated database. It does not bootstrap the database
// (see Bootstrap) and does not listen (see Serve).
func New(o Options) (*Server, error) {
	if o.DB == nil {
		return nil, errors.New("server: no database")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	s := &Server{
		db:         o.DB,
		log:        log,
		logLevel:   o.LogLevel,
		reload:     o.Reload,
		configFile: o.ConfigFile,
		bus:        events.NewBus(),
		cfg:        cfg,
		authCache:  newAuthCache(time.Duration(cfg.Broker.AuthCacheTTLSeconds)*time.Second, 10000),
		pak: pak.Settings{
			Prefix:           cfg.PAK.Prefix,
			ShortTokenPrefix: cfg.PAK.ShortTokenPrefix,
			ShortTokenLength: cfg.PAK.ShortTokenLength,
			LongTokenLength:  cfg.PAK.LongTokenLength,
		},
	}
	if s.pak.Prefix == "" {
		s.pak = pak.DefaultSettings()
	}
	s.tracerProvider = o.TracerProvider
	s.clock = o.Clock
	if s.clock == nil {
		s.clock = time.Now
	}
	key, hash, err := pak.Generate(s.pak)
	if err != nil {
		return nil, err
	}
	s.readOnlyKey, s.readOnlyHash = key, hash
	s.metrics = newMetrics(s)
	s.workers = workers.New(workers.Options{DB: s.db, Logger: log, Registry: s.metrics.registry, Config: s.Config})
	s.auditor = audit.New(audit.Options{DB: s.db, Logger: log, Registry: s.metrics.registry, Config: s.Config})
	s.templates = newTemplateGuard(cfg.Broker)
	s.heartbeats = heartbeats.New(heartbeats.Options{DB: s.db, Logger: log, Registry: s.metrics.registry,
		Interval: time.Duration(cfg.Broker.HeartbeatFlushIntervalMillis) * time.Millisecond})
	if s.targets, err = s.newTargetCache(cfg.Broker.TargetStateCacheEntries); err != nil {
		return nil, err
	}
	s.bus.BeforePublish(s.syncBeforePush)
	s.admission = newAdmission(s.metrics.registry, cfg.Broker.MaxInflightRequests, cfg.Broker.MaxQueueWaitMillis)
	s.conns = newConnections(s.metrics.registry, cfg.Broker.MaxKeepAliveConnections)
	s.echo = s.routes()
	s.listener = events.NewListener(s.db.URL(), log, s.notifyHandlers()...)
	return s, nil
}

// Config returns the configuration in force.
func (s *Server) Config() config.Broker {
	s.cfgMu.RLock()
	defer s.cfgMu.RUnlock()
	return s.cfg
}

// Bus returns the event bus.
func (s *Server) Bus() *events.Bus { return s.bus }

// inTx runs fn in a transaction with an emitter; committed events are published afterwards.
func (s *Server) inTx(ctx context.Context, fn func(q db.Queryer, em *events.Emitter) error) error {
	return s.bus.InTx(ctx, s.db, fn)
}

// ReadOnlyPAK returns this process's read-only admin key (valid until the process ends).
func (s *Server) ReadOnlyPAK() string { return s.readOnlyKey }

// Handler returns the HTTP handler of the broker.
func (s *Server) Handler() http.Handler { return s.echo }

// Start runs the broker's background work until ctx ends: the notification listener
// (cross-replica cache eviction, fan-out and revocations), the heartbeat flushes, the live
// channels' cross-replica side, the workers and the configuration file watcher. Serve calls it; tests that need it
// call it themselves.
func (s *Server) Start(ctx context.Context) {
	s.startOnce.Do(func() {
		s.listenerStarted.Store(true)
		s.bg.Go(func() { s.listener.Run(ctx) })
		s.bg.Go(func() { s.heartbeats.Run(ctx) })
		s.live.Start(ctx)
		s.workers.Start(ctx)
		if s.configFile != "" && s.reload != nil && s.Config().Broker.ConfigWatch {
			s.bg.Go(func() { s.watchConfig(ctx, s.configFile) })
		}
	})
}

// Wait blocks until the background work started by Start has stopped.
func (s *Server) Wait() {
	s.bg.Wait()
	s.live.Wait()
	s.workers.Wait()
}

// RunWorkerOnce runs the named worker now (tests and operators use it); unknown names do
// nothing. It reports whether the worker ran (false: unknown, or another replica held it).
func (s *Server) RunWorkerOnce(ctx context.Context, name string) bool {
	return s.workers.RunOnce(ctx, name)
}

// Serve answers on ln until ctx ends, then shuts down gracefully: stops accepting, lets
// in-flight requests finish within the configured timeout, and returns.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// A whole request, body included, must arrive within broker.read_timeout_seconds. net/http
	// lifts that deadline once the body is read (a long handler keeps its context) and when a
	// WebSocket takes the connection over; writes get a deadline per write (see admit).
	srv := &http.Server{
		Handler:           s.echo,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       s.ioTimeout(),
		IdleTimeout:       120 * time.Second,
		ConnState:         s.conns.track,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		stopBackground()
		s.Wait()
	}()
	s.Start(bgCtx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	timeout := time.Duration(s.Config().Broker.ShutdownTimeoutSeconds) * time.Second
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	s.log.Info("shutting down", slog.Duration("timeout", timeout))
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// routes builds the echo app: one route table for the whole broker.
func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{
		RequestIDHandler: func(c echo.Context, id string) { c.Set("request_id", id) },
	}))
	e.Use(s.traceRequests())
	e.Use(s.accessLog)
	e.Use(s.recoverPanic)
	e.Use(s.metrics.middleware)
	e.Use(s.admit)
	e.Use(s.bodyLimit)
	e.Use(s.rejectUnstorableText)
	e.Pre(s.deadlines)
	e.Pre(s.cors)

	// Operations routes: no authentication, any origin.
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "OK") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{})))
	e.GET("/docs/openapi.json", s.openAPI)

	// Authentication is route middleware rather than group middleware, so that unknown
	// paths answer 404 and known paths with a wrong method 405, without asking for a PAK.
	g := routes{g: e.Group(apiPrefix), mw: []echo.MiddlewareFunc{s.authenticate}, write: s.targetSync}
	s.authRoutes(g)
	s.installReadOnlyPAKs(g)
	s.agentRoutes(g)
	s.generatorRoutes(g)
	s.stackRoutes(g)
	s.driftRoutes(g)
	s.installRollouts(g)
	s.holdRoutes(g)
	s.installApplyWindows(g)
	s.installTemplates(g)
	s.installWorkOrders(g)
	s.installDiagnostics(g)
	s.installHealth(g)
	s.installWebhooks(g)
	s.installLive(e, g)
	s.installTelemetry(g)
	s.installAdmin(g)
	return e
}

// routes registers authenticated API routes.
type routes struct {
	g  *echo.Group
	mw []echo.MiddlewareFunc
	// write returns the extra middleware of a write route (nil: none); see targetSync.
	write func(path string) echo.MiddlewareFunc
}

func (r routes) GET(path string, h echo.HandlerFunc)    { r.g.GET(path, h, r.mw...) }
func (r routes) POST(path string, h echo.HandlerFunc)   { r.g.POST(path, h, r.writeMW(path)...) }
func (r routes) PUT(path string, h echo.HandlerFunc)    { r.g.PUT(path, h, r.writeMW(path)...) }
func (r routes) PATCH(path string, h echo.HandlerFunc)  { r.g.PATCH(path, h, r.writeMW(path)...) }
func (r routes) DELETE(path string, h echo.HandlerFunc) { r.g.DELETE(path, h, r.writeMW(path)...) }

func (r routes) writeMW(path string) []echo.MiddlewareFunc {
	if r.write == nil {
		return r.mw
	}
	if mw := r.write(path); mw != nil {
		return append(append([]echo.MiddlewareFunc(nil), r.mw...), mw)
	}
	return r.mw
}

// routeImplemented reports whether method+path (OpenAPI form, relative to /api/v1) is served.
func (s *Server) routeImplemented(method, path string) bool {
	echoPath := apiPrefix + openAPIToEchoPath(path)
	for _, r := range s.echo.Routes() {
		if r.Method == method && r.Path == echoPath {
			return true
		}
	}
	return false
}

// openAPIToEchoPath turns "/agents/{id}" into "/agents/:id".
func openAPIToEchoPath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			parts[i] = ":" + part[1:len(part)-1]
		}
	}
	return strings.Join(parts, "/")
}

func (s *Server) openAPI(c echo.Context) error {
	doc, err := api.Filtered(s.routeImplemented)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// readiness caches the database verdict of /readyz for two seconds.
type readiness struct {
	mu      sync.Mutex
	checked time.Time
	err     error
}

// Why a replica is not ready, as /readyz says it.
const (
	notReadyDatabase = "database unavailable"
	notReadyListener = "notification listener disconnected"
)

func (s *Server) readyz(c echo.Context) error {
	if reason := s.notReady(c.Request().Context()); reason != "" {
		return c.String(http.StatusServiceUnavailable, reason)
	}
	return c.String(http.StatusOK, "Ready")
}

// notReady returns why the replica is not ready, or "" when it is: /readyz and the
// brokkr_database_up and brokkr_ready gauges share this verdict.
func (s *Server) notReady(ctx context.Context) string {
	s.ready.mu.Lock()
	if time.Since(s.ready.checked) > 2*time.Second {
		ctx, cancel := context.WithTimeout(ctx, 750*time.Millisecond)
		s.ready.err = s.db.Ping(ctx)
		cancel()
		s.ready.checked = time.Now()
	}
	err := s.ready.err
	s.ready.mu.Unlock()
	if err != nil {
		return notReadyDatabase
	}
	// Without its listener a replica misses other replicas' revocations and pushes.
	if s.listenerStarted.Load() && !s.listener.Listening() {
		return notReadyListener
	}
	return ""
}
