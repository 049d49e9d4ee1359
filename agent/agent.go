// Package agent is brokkr-agent: it runs in a cluster, pulls the agent's target state from
// the broker over outbound HTTP, applies it with server-side apply, prunes what no longer
// belongs, and reports events, heartbeats, deployment health, work-order results,
// diagnostics and webhook deliveries.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"

	"github.com/brokkr/brokkr/agent/httpserver"
	"github.com/brokkr/brokkr/agent/internal/backoff"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/agent/telemetry"
	"github.com/brokkr/brokkr/agent/webhooks"
	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/agent/workorders"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/buildinfo"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logx"
)

// Options configure an Agent.
type Options struct {
	Config config.AgentSettings
	// Kube, when set, is used instead of loading Config.KubeconfigPath.
	Kube *rest.Config
	// Log receives the agent's records; nil discards them.
	Log *slog.Logger
	// HTTPClient, when set, carries the requests to the broker.
	HTTPClient *http.Client
	// HealthListener, when set, is where the health server listens instead of
	// Config.HealthAddr:HealthPort.
	HealthListener net.Listener
	// StartupInterval is the wait between the startup probes of the broker (1 s when 0).
	StartupInterval time.Duration
	// Backoff retries transient Kubernetes failures (kube.DefaultBackoff when zero).
	Backoff kube.Backoff
	// JobPollInterval paces work-order Job and BuildRun checks (5 s when 0).
	JobPollInterval time.Duration
	// TracerProvider, when set, traces reconcile passes, their Kubernetes requests and the
	// requests to the broker, which carry the trace on (nil: no tracing).
	TracerProvider trace.TracerProvider
}

// Agent is one brokkr agent.
type Agent struct {
	cfg     config.AgentSettings
	opts    Options
	log     *slog.Logger
	client  *client.Client
	cluster *kube.Cluster
	reg     *prometheus.Registry
	metrics *httpserver.Metrics

	id        uuid.UUID
	status    atomic.Value // string: the agent's status at the broker
	rec       *Reconciler
	works     *workorders.Runner
	inspector *workload.Inspector
	hooks     *webhooks.Deliverer
	// uplink queues the telemetry frames the WebSocket channel carries to the broker.
	uplink     *telemetry.Uplink
	kubeEvents *telemetry.Events
	// podLogs streams the output of the pods that opted in over the uplink.
	podLogs *telemetry.Logs

	brokerOK atomic.Bool
	// brokerBack is closed, and replaced, when the broker answers a heartbeat again after
	// failing: every loop backing off then runs at once instead of finishing its backoff.
	backMu        sync.Mutex
	brokerBack    chan struct{}
	lastHeartbeat atomic.Int64 // unix nanoseconds of the last heartbeat the broker took
	wsUp          atomic.Bool

	reconcileNow chan struct{}
	workNow      chan struct{}
}

// New prepares an agent: it loads the Kubernetes configuration and builds the clients, but
// makes no request yet.
func New(opts Options) (*Agent, error) {
	cfg := opts.Config
	log := logx.OrDiscard(opts.Log)
	copts := []client.Option{client.WithPAK(cfg.PAK), client.WithUserAgent("brokkr-agent/" + buildinfo.Get().Version)}
	if hc := brokerHTTPClient(opts); hc != nil {
		copts = append(copts, client.WithHTTPClient(hc))
	}
	c, err := client.New(cfg.BrokerURL, copts...)
	if err != nil {
		return nil, fmt.Errorf("broker client: %w", err)
	}
	kcfg := opts.Kube
	if kcfg == nil {
		if kcfg, err = kube.LoadConfig(cfg.KubeconfigPath); err != nil {
			return nil, err
		}
	}
	kcfg = rest.CopyConfig(kcfg)
	if opts.TracerProvider != nil {
		kcfg = kube.Traced(kcfg, opts.TracerProvider)
	}
	kcfg.QPS, kcfg.Burst = float32(cfg.KubeQPS), cfg.KubeBurst
	cluster, err := kube.New(kcfg)
	if err != nil {
		return nil, err
	}
	reg := httpserver.NewRegistry()
	a := &Agent{
		cfg: cfg, opts: opts, log: log, client: c, cluster: cluster, reg: reg,
		metrics:      httpserver.NewMetrics(reg),
		reconcileNow: make(chan struct{}, 1),
		workNow:      make(chan struct{}, 1),
	}
	a.uplink = telemetry.NewUplink(telemetry.QueueSize, a.metrics)
	a.status.Store("")
	return a, nil
}

// Client is the agent's broker client.
func (a *Agent) Client() *client.Client { return a.client }

// ID is the agent's id, known once Run has found the agent's record.
func (a *Agent) ID() uuid.UUID { return a.id }

// Run starts the agent and blocks until ctx ends, then shuts down gracefully: in-flight work
// gets up to shutdown_timeout to finish. Startup failures (broker unreachable after
// max_retries probes, a rejected PAK, no such agent, no Kubernetes API) are returned.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.start(ctx); err != nil {
		return err
	}
	a.log.Info("agent started", logx.AgentID(a.id), "agent_name", a.cfg.AgentName, "cluster_name", a.cfg.ClusterName,
		"status", a.status.Load(), "watch_namespace", a.cfg.WatchNamespace)

	// Work runs on a context that outlives ctx by the shutdown timeout, so a cancelled
	// agent finishes what it started instead of leaving half-applied state.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	stopAfter := context.AfterFunc(ctx, func() {
		a.log.Info("shutting down", "timeout", seconds(a.cfg.ShutdownTimeout))
		time.AfterFunc(seconds(a.cfg.ShutdownTimeout), cancelWork)
	})
	defer stopAfter()

	var wg sync.WaitGroup
	spawn := func(fn func()) {
		wg.Add(1)
		go func() { defer wg.Done(); fn() }()
	}
	if srv := a.healthServer(); srv != nil {
		spawn(func() {
			var err error
			if a.opts.HealthListener != nil {
				err = srv.Serve(ctx, a.opts.HealthListener)
			} else {
				err = srv.ListenAndServe(ctx)
			}
			if err != nil {
				a.log.Error("health server", logx.Err(err))
			}
		})
	}
	if !a.cfg.WSForceREST {
		spawn(func() { a.websocket(ctx) })
		// Telemetry travels over the channel only: without it, nothing is watched.
		spawn(func() { a.kubeEvents.Run(ctx) })
		spawn(func() { a.podLogs.Run(ctx) })
	}
	poll := seconds(a.cfg.PollingInterval)
	// The heartbeat backs off to 30 s at most, so a broker that comes back is noticed soon
	// and wakes the other loops (which back off up to 5 minutes).
	spawn(func() { a.every(ctx, work, "heartbeat", poll, nil, false, a.heartbeat, 30*time.Second) })
	spawn(func() { a.every(ctx, work, "reconcile", poll, a.reconcileNow, true, a.reconcile, 5*time.Minute) })
	spawn(func() { a.every(ctx, work, "work-orders", poll, a.workNow, true, a.workOrders, 5*time.Minute) })
	if a.cfg.DeploymentHealthEnabled {
		spawn(func() {
			a.every(ctx, work, "deployment-health", seconds(a.cfg.DeploymentHealthInterval), nil, true, a.deploymentHealth, 5*time.Minute)
		})
	}
	if a.cfg.DriftInterval > 0 {
		spawn(func() { a.every(ctx, work, "drift", seconds(a.cfg.DriftInterval), nil, true, a.drift, 5*time.Minute) })
	}
	spawn(func() {
		a.every(ctx, work, "diagnostics", seconds(a.cfg.DiagnosticsInterval), nil, true, a.diagnostics, 5*time.Minute)
	})
	spawn(func() {
		a.every(ctx, work, "webhooks", seconds(a.cfg.WebhookInterval), nil, true, a.webhooks, 5*time.Minute)
	})
	wg.Wait()
	a.log.Info("agent stopped")
	return nil
}

func seconds(n int) time.Duration { return time.Duration(n) * time.Second }

// start runs the startup sequence.
func (a *Agent) start(ctx context.Context) error {
	if err := a.waitForBroker(ctx); err != nil {
		return err
	}
	who, err := a.client.Auth().Verify(ctx)
	switch {
	case client.IsUnauthorized(err):
		return errors.New("the broker rejected the agent PAK (agent.pak)")
	case err != nil:
		return fmt.Errorf("verify PAK: %w", err)
	case who.Agent == nil:
		return errors.New("agent.pak is not an agent's key")
	}
	self, err := a.client.Agents().Search(ctx, a.cfg.AgentName, a.cfg.ClusterName)
	switch {
	case client.IsNotFound(err):
		return fmt.Errorf("agent %q of cluster %q not found at the broker (agent.agent_name, agent.cluster_name)", a.cfg.AgentName, a.cfg.ClusterName)
	case err != nil:
		return fmt.Errorf("find agent: %w", err)
	case self.ID != *who.Agent:
		return fmt.Errorf("agent.pak belongs to agent %s, not to %q of cluster %q (%s)", *who.Agent, a.cfg.AgentName, a.cfg.ClusterName, self.ID)
	}
	a.id = self.ID
	a.status.Store(self.Status)
	gens, err := a.cfg.GeneratorUUIDs()
	if err != nil {
		return err
	}
	for _, g := range gens {
		_, err := a.client.Generators().Register(ctx, g, nil)
		switch {
		case err == nil:
			a.log.Info("registered with generator", logx.GeneratorID(g))
		case client.IsConflict(err):
		default:
			a.log.Warn("registering with generator", logx.GeneratorID(g), logx.Err(err))
		}
	}
	version, took, err := a.cluster.Version(ctx)
	if err != nil {
		return fmt.Errorf("kubernetes API: %w", err)
	}
	a.metrics.SetKubernetesUp(true)
	a.log.Info("kubernetes API reachable", "version", version, "latency", took.Round(time.Millisecond))

	apply := kube.ApplyOptions{
		FieldManager: a.cfg.FieldManager, DefaultNamespace: a.cfg.WatchNamespace,
		Concurrency: a.cfg.ApplyConcurrency, Validate: a.cfg.ValidateBeforeApply, RollbackNamespaces: true, Backoff: a.opts.Backoff.OrDefault(),
		Observe: func(op string, d time.Duration, _ error) { a.metrics.ObserveKubeOp(op, d) },
	}
	a.rec = &Reconciler{Cluster: a.cluster, Client: a.client, AgentID: a.id, Apply: apply,
		WatchNamespace: a.cfg.WatchNamespace, ResyncInterval: seconds(a.cfg.ResyncInterval),
		Log: a.log, Metrics: reconcileMetrics{a.metrics}, Report: a.reportEvent, Tracer: a.tracer()}
	a.works = &workorders.Runner{Cluster: a.cluster, Client: a.client, AgentID: a.id, Log: a.log,
		PollInterval: a.opts.JobPollInterval, Metrics: a.metrics}
	a.inspector = &workload.Inspector{Kube: a.cluster.Kube, Dynamic: a.cluster.Dynamic, Mapper: a.cluster.Mapper,
		WatchNamespace: a.cfg.WatchNamespace, Log: a.log}
	if a.cfg.DeploymentHealthEnabled {
		a.rec.Health = a.inspector.Health
	}
	a.hooks = &webhooks.Deliverer{Log: a.log, Metrics: a.metrics}
	a.kubeEvents = telemetry.NewEvents(telemetry.EventsOptions{Cluster: a.cluster, AgentID: a.id,
		Namespace: a.cfg.WatchNamespace, CacheSize: a.cfg.KubeEventUIDCacheCap, Uplink: a.uplink, Log: a.log})
	a.podLogs = telemetry.NewLogs(telemetry.LogsOptions{Kube: a.cluster.Kube, AgentID: a.id, Namespace: a.cfg.WatchNamespace,
		Uplink: a.uplink, Connected: a.wsUp.Load, Owners: a.kubeEvents, Metrics: a.metrics.PodLogs(), Log: a.log})
	return nil
}

// waitForBroker probes the broker's /readyz up to max_retries times, StartupInterval apart.
func (a *Agent) waitForBroker(ctx context.Context) error {
	interval := a.opts.StartupInterval
	if interval <= 0 {
		interval = time.Second
	}
	attempts := max(a.cfg.MaxRetries, 1)
	attempt := 0
	return wait.Backoff{Duration: interval}.DelayFunc().Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		attempt++
		err := a.client.Ready(ctx)
		if err == nil {
			return true, nil
		}
		if attempt == 1 || attempt%10 == 0 {
			a.log.Info("waiting for the broker", "broker_url", a.cfg.BrokerURL, "attempt", attempt, logx.Err(err))
		}
		if attempt >= attempts {
			return false, fmt.Errorf("broker %s not ready after %d attempts: %w", a.cfg.BrokerURL, a.cfg.MaxRetries, err)
		}
		return false, nil
	})
}

// every runs fn on a jittered period (first run at once) and whenever trigger fires, until
// ctx ends. fn runs on work, which outlives ctx during a graceful shutdown. When activeOnly
// is set, fn runs only while the agent is ACTIVE. A failing fn is retried with exponential
// backoff (twice the period, doubling up to 32 times the period, and never more than
// maxBackoff or the period, whichever is longer) — the cluster is left as it is meanwhile —
// and at once when the broker answers again after an outage. A success starts the backoff
// over.
//
// The wait for the next run ends early on a trigger or on the broker's return, which the
// wait package's loops do not offer: this loop keeps its own timer and takes its schedule
// from a wait.Backoff.
func (a *Agent) every(ctx, work context.Context, name string, period time.Duration, trigger <-chan struct{}, activeOnly bool, fn func(context.Context) error, maxBackoff time.Duration) {
	if period <= 0 {
		period = 10 * time.Second
	}
	failing := wait.Backoff{Duration: 2 * period, Factor: 2, Steps: 4, Cap: max(maxBackoff, period)}
	retries := failing
	failures := 0
	next := time.Duration(0)
	for {
		timer := time.NewTimer(next)
		var back <-chan struct{}
		if failures > 0 {
			back = a.brokerBackCh()
		}
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		case <-trigger:
			timer.Stop()
		case <-back:
			timer.Stop()
		}
		if activeOnly && a.status.Load() != "ACTIVE" {
			next = jitter(period)
			continue
		}
		if err := fn(work); err != nil {
			failures++
			next = jitter(min(retries.Step(), retries.Cap))
			a.log.Warn(name+" failed", logx.Err(err), "failures", failures, "retry_in", next.Round(time.Millisecond))
			continue
		}
		retries, failures = failing, 0
		next = jitter(period)
	}
}

// brokerBackCh returns the channel closed when the broker answers again after an outage.
func (a *Agent) brokerBackCh() <-chan struct{} {
	a.backMu.Lock()
	defer a.backMu.Unlock()
	if a.brokerBack == nil {
		a.brokerBack = make(chan struct{})
	}
	return a.brokerBack
}

// signalBrokerBack wakes every loop waiting out a backoff.
func (a *Agent) signalBrokerBack() {
	a.backMu.Lock()
	defer a.backMu.Unlock()
	if a.brokerBack != nil {
		close(a.brokerBack)
	}
	a.brokerBack = make(chan struct{})
}

// jitter spreads d by ±10 % so that a fleet of agents does not poll in lockstep.
func jitter(d time.Duration) time.Duration { return backoff.Spread(d, 0.1) }

func trigger(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// heartbeat probes the Kubernetes API, reports to the broker and refreshes the agent's
// status (it may have been activated or deactivated).
func (a *Agent) heartbeat(ctx context.Context) error {
	_, took, kerr := a.cluster.Version(ctx)
	reachable := kerr == nil
	a.metrics.SetKubernetesUp(reachable)
	report := &client.HeartbeatRequest{K8sReachable: &reachable}
	if reachable {
		ms := int32(min(took.Milliseconds(), 1<<31-1))
		report.K8sAPILatencyMs = &ms
	}
	if err := a.client.Agents().Heartbeat(ctx, a.id, report); err != nil {
		a.brokerOK.Store(false)
		a.metrics.SetBrokerUp(false)
		return fmt.Errorf("heartbeat: %w", err)
	}
	a.metrics.HeartbeatSent()
	if !a.brokerOK.Swap(true) {
		a.signalBrokerBack()
	}
	a.metrics.SetBrokerUp(true)
	a.lastHeartbeat.Store(time.Now().UnixNano())
	self, err := a.client.Agents().Get(ctx, a.id)
	if err != nil {
		return fmt.Errorf("refresh agent status: %w", err)
	}
	if old := a.status.Swap(self.Status); old != self.Status {
		a.log.Info("agent status changed", "from", old, "to", self.Status)
		if self.Status == "ACTIVE" {
			trigger(a.reconcileNow)
			trigger(a.workNow)
		}
	}
	return nil
}

func (a *Agent) reconcile(ctx context.Context) error {
	start := time.Now()
	res, err := a.rec.Reconcile(ctx)
	if res.NotModified {
		a.metrics.ObservePollNotModified(time.Since(start))
	} else {
		a.metrics.ObservePoll(time.Since(start), err)
	}
	if err != nil {
		return err
	}
	if res.Applied+res.Failed+res.Pruned > 0 {
		a.log.Info("reconciled", "applied", res.Applied, "unchanged", res.Unchanged, "failed", res.Failed,
			"pruned", res.Pruned, "duration", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// reportEvent sends a deployment event, retrying max_event_message_retries times
// event_message_retry_delay seconds apart. An answer of 4xx but 429 ends the retries: the
// broker will not take the event however often it is sent.
func (a *Agent) reportEvent(ctx context.Context, ev client.NewAgentEvent) error {
	retries := wait.Backoff{Duration: seconds(a.cfg.EventMessageRetryDelay), Steps: max(a.cfg.MaxEventMessageRetries, 0) + 1}
	var err error
	werr := wait.ExponentialBackoffWithContext(ctx, retries, func(ctx context.Context) (bool, error) {
		if _, err = a.client.Agents().CreateEvent(ctx, a.id, ev); err == nil {
			return true, nil
		}
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 && apiErr.StatusCode != http.StatusTooManyRequests {
			return false, err
		}
		return false, nil
	})
	if err == nil {
		return werr // ctx ended before the first attempt
	}
	return err
}

// drift runs one drift check of the applied stacks.
func (a *Agent) drift(ctx context.Context) error {
	res, err := a.rec.CheckDrift(ctx)
	if res.Drifted > 0 {
		a.log.Info("drift checked", "checked", res.Checked, "drifted", res.Drifted, "corrected", res.Corrected)
	}
	return err
}

func (a *Agent) workOrders(ctx context.Context) error {
	ran, err := a.works.RunOnce(ctx)
	if ran && err == nil {
		trigger(a.workNow) // there may be more waiting
	}
	return err
}

func (a *Agent) deploymentHealth(ctx context.Context) error {
	tracked := a.rec.Tracked()
	if len(tracked) == 0 {
		return nil
	}
	reports := a.inspector.Health(ctx, tracked)
	if len(reports) == 0 {
		return nil
	}
	return a.client.DeploymentHealth().Report(ctx, a.id, reports)
}

func (a *Agent) webhooks(ctx context.Context) error {
	_, err := a.hooks.RunOnce(ctx, a.client, a.id)
	return err
}

// KubeCheck implements httpserver.Status.
func (a *Agent) KubeCheck(ctx context.Context) error {
	_, _, err := a.cluster.Version(ctx)
	return err
}

// BrokerStatus implements httpserver.Status.
func (a *Agent) BrokerStatus() (bool, time.Time) {
	var last time.Time
	if n := a.lastHeartbeat.Load(); n != 0 {
		last = time.Unix(0, n)
	}
	return a.brokerOK.Load(), last
}

func (a *Agent) healthServer() *httpserver.Server {
	if a.opts.HealthListener == nil && a.cfg.HealthPort == 0 {
		return nil
	}
	addr := net.JoinHostPort(a.cfg.HealthAddr, strconv.Itoa(a.cfg.HealthPort))
	return httpserver.New(addr, a, a.reg, buildinfo.Get().Version, a.log)
}

// reconcileMetrics adapts the agent's metrics to the reconciler.
type reconcileMetrics struct{ m *httpserver.Metrics }

func (r reconcileMetrics) ObserveApply(d time.Duration, applied, unchanged, failed int) {
	r.m.ObserveApply(d)
	r.m.ObjectsApplied("applied", applied)
	r.m.ObjectsApplied("unchanged", unchanged)
	r.m.ObjectsApplied("failed", failed)
}
func (r reconcileMetrics) ObjectsPruned(n int) { r.m.ObjectsPruned(n) }
func (r reconcileMetrics) Inventory(objects, deploymentObjects int) {
	r.m.SetManagedObjects(objects)
	r.m.SetDeploymentObjects(deploymentObjects)
}
