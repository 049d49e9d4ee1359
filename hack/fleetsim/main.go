// Command fleetsim is a load generator for the broker: it creates a fleet of agents through
// the admin API and simulates them on the wire, as brokkr-agent behaves without a cluster,
// then reports the latency of every operation, request rate, errors and 429s, the broker's
// CPU and memory, and optionally how long a new deployment object takes to reach every
// agent and how many channel frames the broker takes.
//
//	go run ./hack/fleetsim -url http://127.0.0.1:3000 -admin-pak "$PAK" -agents 1000 -duration 60s -channel -distribute
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// Config is a run's settings (the command's flags).
type Config struct {
	URL          string
	AdminPAK     string
	Agents       int
	Interval     time.Duration
	Duration     time.Duration
	Conns        int
	Channel      bool
	Channels     int // agents holding a channel with Channel; < 0: min(Agents, 1000)
	Flood        bool
	Distribute   bool
	DistributeAt time.Duration // after the load starts; 0: Duration/3
	DistTimeout  time.Duration // 0: 2 intervals + 10 s
	Prefix       string
	Reuse        bool
	SetupWorkers int
	BrokerPID    int
	BrokerCmd    string
	// Progress receives progress lines (nil: none).
	Progress io.Writer
}

func (c Config) channels() int {
	switch {
	case !c.Channel:
		return 0
	case c.Channels < 0:
		return min(c.Agents, 1000)
	}
	return min(c.Channels, c.Agents)
}

func main() {
	var cfg Config
	var asJSON bool
	flag.StringVar(&cfg.URL, "url", envOr("BROKER_URL", "http://127.0.0.1:3000"), "broker URL ($BROKER_URL)")
	flag.StringVar(&cfg.AdminPAK, "admin-pak", os.Getenv("ADMIN_PAK"), "admin PAK ($ADMIN_PAK)")
	flag.IntVar(&cfg.Agents, "agents", 100, "simulated agents")
	flag.DurationVar(&cfg.Interval, "interval", 10*time.Second, "polling interval of every agent (phases spread evenly)")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to run the load")
	flag.IntVar(&cfg.Conns, "conns", 64, "HTTP connections to the broker, shared by all agents' requests")
	flag.BoolVar(&cfg.Channel, "channel", false, "hold agent WebSocket channels and react to pushes")
	flag.IntVar(&cfg.Channels, "channels", -1, "agents holding a channel with -channel (default min(agents, 1000))")
	flag.BoolVar(&cfg.Flood, "channel-flood", false, "send heartbeat frames over every channel as fast as it takes them")
	flag.BoolVar(&cfg.Distribute, "distribute", false, "post a deployment object during the run and time its SUCCESS at every agent")
	flag.DurationVar(&cfg.DistributeAt, "distribute-at", 0, "when to post it after the load starts (default duration/3)")
	flag.DurationVar(&cfg.DistTimeout, "distribute-timeout", 0, "how long to wait for every agent (default 2 intervals + 10s)")
	flag.StringVar(&cfg.Prefix, "prefix", "", "name prefix of the agents, stack and generator (default fleetsim-<unix time>)")
	flag.BoolVar(&cfg.Reuse, "reuse", false, "reuse the agents and stack of an earlier run with the same -prefix (their keys are rotated)")
	flag.IntVar(&cfg.SetupWorkers, "setup-workers", 16, "concurrent admin requests while creating the fleet")
	flag.IntVar(&cfg.BrokerPID, "broker-pid", 0, "broker process to sample CPU and RSS from")
	flag.StringVar(&cfg.BrokerCmd, "broker-cmd", "", "find the broker process by name instead, e.g. brokkr-broker")
	flag.BoolVar(&asJSON, "json", false, "write the report as JSON")
	flag.Parse()
	if cfg.Prefix == "" {
		cfg.Prefix = fmt.Sprintf("fleetsim-%d", time.Now().Unix())
	}
	cfg.Progress = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
	if asJSON {
		err = writeJSON(os.Stdout, r)
	} else {
		err = writeTable(os.Stdout, r)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// Run creates (or reuses) the fleet, runs the load and returns its report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	if cfg.Agents < 1 || cfg.Interval <= 0 || cfg.Duration <= 0 || cfg.Conns < 1 || cfg.SetupWorkers < 1 {
		return Report{}, errors.New("-agents, -interval, -duration, -conns and -setup-workers must be positive")
	}
	if cfg.Flood && !cfg.Channel {
		return Report{}, errors.New("-channel-flood needs -channel")
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	sampler, err := brokerSampler(cfg)
	if err != nil {
		return Report{}, err
	}
	admin, err := client.New(cfg.URL, client.WithPAK(cfg.AdminPAK), client.WithUserAgent("brokkr-fleetsim"))
	if err != nil {
		return Report{}, err
	}
	setupStart := time.Now()
	fmt.Fprintf(progress, "creating %d agents (%s-*)...\n", cfg.Agents, cfg.Prefix)
	fl, err := setupFleet(ctx, cfg, admin)
	if err != nil {
		return Report{}, fmt.Errorf("setup: %w", err)
	}
	setup := time.Since(setupStart)
	fmt.Fprintf(progress, "fleet ready in %.1fs; running for %s\n", setup.Seconds(), cfg.Duration)
	agents, err := simAgents(cfg, fl)
	if err != nil {
		return Report{}, err
	}
	s := agents[0].stats
	dist := agents[0].dist

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	if sampler != nil {
		sampler = restart(sampler)
		wg.Go(func() { sampler.run(loadCtx) })
	}
	start := time.Now()
	if err := startAgents(loadCtx, &wg, cfg, agents); err != nil {
		return Report{}, err
	}
	var distErr error
	if dist != nil {
		distErr = distribute(loadCtx, cfg, admin, fl, dist, progress)
	}
	sleep(loadCtx, time.Until(start.Add(cfg.Duration)))
	elapsed := time.Since(start)
	stopLoad()
	wg.Wait()
	if ctx.Err() != nil {
		return Report{}, ctx.Err()
	}

	r := buildReport(cfg, s, elapsed)
	r.SetupS = round1(setup.Seconds())
	if dist != nil {
		r.Distribution = dist.result()
		if distErr != nil && !errors.Is(distErr, errDistTimeout) {
			return r, distErr
		}
	}
	if cfg.Flood {
		var n uint64
		for _, a := range agents {
			n += a.frames.Load()
		}
		r.Flood = &FloodReport{Frames: n, FramesPerS: round1(float64(n) / elapsed.Seconds())}
	}
	if sampler != nil {
		r.Broker = sampler.report()
	}
	return r, nil
}

func brokerSampler(cfg Config) (*procSampler, error) {
	pid := cfg.BrokerPID
	if pid == 0 && cfg.BrokerCmd != "" {
		var err error
		if pid, err = findPid(cfg.BrokerCmd); err != nil {
			return nil, err
		}
	}
	if pid == 0 {
		return nil, nil
	}
	return newProcSampler(pid)
}

// restart begins the sampler's measurement now, leaving the setup out.
func restart(p *procSampler) *procSampler {
	if q, err := newProcSampler(p.pid); err == nil {
		return q
	}
	return p
}

// simAgents builds the simulated agents: one client each with the agent's key over the
// shared connection pool, no retries (a 429 is counted, not hidden).
func simAgents(cfg Config, fl *fleet) ([]*simAgent, error) {
	s := newStats()
	var dist *distTracker
	if cfg.Distribute {
		dist = newDistTracker(len(fl.agents))
	}
	hc := &http.Client{Transport: newTransport(cfg.Conns)}
	agents := make([]*simAgent, len(fl.agents))
	for i, fa := range fl.agents {
		c, err := client.New(cfg.URL, client.WithPAK(fa.pak), client.WithHTTPClient(hc),
			client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithUserAgent("brokkr-fleetsim"))
		if err != nil {
			return nil, err
		}
		agents[i] = &simAgent{idx: i, id: fa.id, c: c, stats: s, dist: dist, done: map[uuid.UUID]bool{}, pak: fa.pak}
	}
	return agents, nil
}

// startAgents starts every agent's polling loop, its phase spread evenly over the
// interval, and the channels (one WebSocket connection each, outside the shared pool).
func startAgents(ctx context.Context, wg *sync.WaitGroup, cfg Config, agents []*simAgent) error {
	n := len(agents)
	for i, a := range agents {
		phase := time.Duration(int64(cfg.Interval) * int64(i) / int64(n))
		wg.Go(func() { a.loop(ctx, phase, cfg.Interval) })
	}
	wsHTTP := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	for _, a := range agents[:cfg.channels()] {
		ws, err := client.New(cfg.URL, client.WithPAK(a.pak), client.WithHTTPClient(wsHTTP),
			client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithUserAgent("brokkr-fleetsim"))
		if err != nil {
			return err
		}
		wg.Go(func() { a.channel(ctx, ws, cfg.Flood) })
	}
	return nil
}

// distribute posts a new deployment object to the fleet's stack at DistributeAt and waits
// until every agent has reported SUCCESS for it, or DistTimeout.
func distribute(ctx context.Context, cfg Config, admin *client.Client, fl *fleet, d *distTracker, progress io.Writer) error {
	at := cfg.DistributeAt
	if at <= 0 {
		at = cfg.Duration / 3
	}
	timeout := cfg.DistTimeout
	if timeout <= 0 {
		timeout = 2*cfg.Interval + 10*time.Second
	}
	sleep(ctx, at)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	d.begin()
	obj, err := admin.Stacks().CreateDeploymentObject(ctx, fl.stackID, manifest(cfg.Prefix, 1), false)
	if err != nil {
		return fmt.Errorf("post the deployment object: %w", err)
	}
	d.started(obj.ID)
	fmt.Fprintf(progress, "posted deployment object %s; waiting for %d agents\n", obj.ID, len(fl.agents))
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-d.all:
		return nil
	case <-t.C:
		return errDistTimeout
	case <-ctx.Done():
		return ctx.Err()
	}
}
