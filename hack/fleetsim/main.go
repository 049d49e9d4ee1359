// Command fleetsim is a load generator for the broker: it creates a fleet of agents through
// the admin API and simulates them on the wire, as brokkr-agent behaves without a cluster,
// then reports the latency of every operation, request rate, errors and 429s, the CPU and
// memory of the broker, of its PostgreSQL and of the simulator itself, and optionally how
// long a new deployment object takes to reach every agent, how many channel frames the
// broker takes, and what one poll's SQL costs PostgreSQL alone (pgbench).
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
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/brokkr/brokkr/client"
)

// userAgent is the User-Agent of every request of the simulator.
const userAgent = "brokkr-fleetsim"

// Config is a run's settings (the command's flags). The zero value of a field means its
// default where the flag's default is not zero.
type Config struct {
	URL          string
	AdminPAK     string
	Agents       int
	Interval     time.Duration
	Duration     time.Duration
	Conns        int
	MaxInflight  int  // polling cycles at once; 0: 2 × Conns
	Ops          Ops  // zero: defaultOps
	NoETag       bool // unconditional target-state requests
	Channel      bool
	Channels     int // agents holding a channel with Channel; < 0: min(Agents, 1000)
	Flood        bool
	Distribute   bool
	DistributeAt time.Duration // after the load starts; 0: Duration/3
	DistTimeout  time.Duration // 0: 2 intervals + 10 s
	Prefix       string
	Reuse        bool
	FleetFile    string // with Reuse; "": defaultFleetFile(Prefix)
	SetupWorkers int
	BrokerPID    int
	BrokerCmd    string
	// DatabaseURL is the broker's database, for PostgreSQL's CPU and pgbench.
	DatabaseURL     string
	Pgbench         bool
	PgbenchDuration time.Duration // 0: 15 s
	PgbenchClients  int           // 0: 4
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
	var asJSON, etag bool
	var ops string
	flag.StringVar(&cfg.URL, "url", envOr("BROKER_URL", "http://127.0.0.1:3000"), "broker URL ($BROKER_URL)")
	flag.StringVar(&cfg.AdminPAK, "admin-pak", os.Getenv("ADMIN_PAK"), "admin PAK ($ADMIN_PAK)")
	flag.IntVar(&cfg.Agents, "agents", 100, "simulated agents")
	flag.DurationVar(&cfg.Interval, "interval", 10*time.Second, "polling interval of every agent (phases spread evenly)")
	flag.DurationVar(&cfg.Duration, "duration", 60*time.Second, "how long to run the load")
	flag.IntVar(&cfg.Conns, "conns", 64, "HTTP connections to the broker, shared by all agents' requests")
	flag.IntVar(&cfg.MaxInflight, "max-inflight", 0, "polling cycles running at once (default 2 × conns); cycles beyond start late")
	flag.StringVar(&ops, "ops", defaultOps, "what every agent does each cycle, a comma list of: "+opNames())
	flag.BoolVar(&etag, "etag", true, "conditional target-state requests (If-None-Match with the last ETag)")
	flag.BoolVar(&cfg.Channel, "channel", false, "hold agent WebSocket channels and react to pushes")
	flag.IntVar(&cfg.Channels, "channels", -1, "agents holding a channel with -channel (default min(agents, 1000))")
	flag.BoolVar(&cfg.Flood, "channel-flood", false, "send heartbeat frames over every channel as fast as it takes them")
	flag.BoolVar(&cfg.Distribute, "distribute", false, "post a deployment object during the run and time its SUCCESS at every agent")
	flag.DurationVar(&cfg.DistributeAt, "distribute-at", 0, "when to post it after the load starts (default duration/3)")
	flag.DurationVar(&cfg.DistTimeout, "distribute-timeout", 0, "how long to wait for every agent (default 2 intervals + 10s)")
	flag.StringVar(&cfg.Prefix, "prefix", "", "name prefix of the agents, stack and generator (default fleetsim-<unix time>)")
	flag.BoolVar(&cfg.Reuse, "reuse", false, "reuse the fleet of an earlier run with the same -prefix: from the fleet file, else by rotating keys")
	flag.StringVar(&cfg.FleetFile, "fleet-file", "", "where -reuse keeps the fleet's ids and keys (default <user cache dir>/brokkr-fleetsim/<prefix>.json)")
	flag.IntVar(&cfg.SetupWorkers, "setup-workers", 16, "concurrent admin requests while creating the fleet")
	flag.IntVar(&cfg.BrokerPID, "broker-pid", 0, "broker process to sample CPU and RSS from")
	flag.StringVar(&cfg.BrokerCmd, "broker-cmd", "", "find the broker process by name instead, e.g. brokkr-broker")
	flag.StringVar(&cfg.DatabaseURL, "database-url", os.Getenv("DATABASE_URL"), "the broker's database, on this machine: PostgreSQL's CPU, and -pgbench ($DATABASE_URL)")
	flag.BoolVar(&cfg.Pgbench, "pgbench", false, "after the load, run one poll's SQL with pgbench and compare PostgreSQL's CPU per poll (needs -database-url)")
	flag.DurationVar(&cfg.PgbenchDuration, "pgbench-duration", 15*time.Second, "how long pgbench runs")
	flag.IntVar(&cfg.PgbenchClients, "pgbench-clients", 4, "pgbench clients")
	flag.BoolVar(&asJSON, "json", false, "write the report as JSON")
	cpuProfile := flag.String("cpuprofile", "", "write the simulator's own CPU profile to this file")
	flag.Parse()
	if *cpuProfile != "" {
		stopProfile, err := profileCPU(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "fleetsim:", err)
			os.Exit(1)
		}
		defer stopProfile()
	}
	var err error
	if cfg.Ops, err = parseOps(ops); err != nil {
		fmt.Fprintln(os.Stderr, "fleetsim:", err)
		os.Exit(2)
	}
	cfg.NoETag = !etag
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

// profileCPU starts a CPU profile of the simulator into file.
func profileCPU(file string) (stop func(), err error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// withDefaults checks cfg and fills in the defaults of zero fields.
func withDefaults(cfg Config) (Config, error) {
	if cfg.Agents < 1 || cfg.Interval <= 0 || cfg.Duration <= 0 || cfg.Conns < 1 || cfg.SetupWorkers < 1 {
		return cfg, errors.New("-agents, -interval, -duration, -conns and -setup-workers must be positive")
	}
	if cfg.Ops == (Ops{}) {
		cfg.Ops, _ = parseOps(defaultOps)
	}
	switch {
	case cfg.Flood && !cfg.Channel:
		return cfg, errors.New("-channel-flood needs -channel")
	case cfg.Distribute && !cfg.Ops.Event:
		return cfg, errors.New("-distribute needs the event operation in -ops")
	case cfg.Pgbench && cfg.DatabaseURL == "":
		return cfg, errors.New("-pgbench needs -database-url or $DATABASE_URL")
	}
	if cfg.Reuse && cfg.FleetFile == "" {
		cfg.FleetFile = defaultFleetFile(cfg.Prefix)
	}
	if cfg.MaxInflight <= 0 {
		cfg.MaxInflight = 2 * cfg.Conns
	}
	if cfg.PgbenchDuration <= 0 {
		cfg.PgbenchDuration = 15 * time.Second
	}
	if cfg.PgbenchClients <= 0 {
		cfg.PgbenchClients = 4
	}
	return cfg, nil
}

// Run creates (or reuses) the fleet, runs the load and returns its report.
func Run(ctx context.Context, cfg Config) (Report, error) {
	cfg, err := withDefaults(cfg)
	if err != nil {
		return Report{}, err
	}
	progress := cfg.Progress
	if progress == nil {
		progress = io.Discard
	}
	files, err := raiseFileLimit()
	if err != nil {
		return Report{}, fmt.Errorf("open files limit: %w", err)
	}
	if need := uint64(cfg.Conns + 2*cfg.channels() + 64); files < need {
		return Report{}, fmt.Errorf("open files limit %d, the run needs about %d (connections and channels)", files, need)
	}
	if cfg.Pgbench {
		if _, err := findPgbench(ctx); err != nil { // before the load rather than after it
			return Report{}, err
		}
	}
	m, err := newMeters(ctx, cfg)
	if err != nil {
		return Report{}, err
	}
	admin, err := client.New(cfg.URL, client.WithPAK(cfg.AdminPAK), client.WithUserAgent(userAgent))
	if err != nil {
		return Report{}, err
	}
	setupStart := time.Now()
	fmt.Fprintf(progress, "setting up %d agents (%s-*)...\n", cfg.Agents, cfg.Prefix)
	fl, err := setupFleet(ctx, cfg, admin, progress)
	if err != nil {
		return Report{}, fmt.Errorf("setup: %w", err)
	}
	setup := time.Since(setupStart)
	fmt.Fprintf(progress, "fleet ready in %.1fs (%d created, %d from the fleet file, %d with a new key); running for %s\n",
		setup.Seconds(), fl.created, fl.fromFile, fl.rotated, cfg.Duration)
	sm, agents, err := simAgents(cfg, fl)
	if err != nil {
		return Report{}, err
	}

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var wg sync.WaitGroup
	m.start(loadCtx, &wg)
	start := time.Now()
	sc := newScheduler(agents, start, cfg.Interval, cfg.MaxInflight, sm.stats)
	wg.Go(func() { sc.run(loadCtx) })
	if err := startChannels(loadCtx, &wg, cfg, agents); err != nil {
		return Report{}, err
	}
	var distErr error
	if sm.dist != nil {
		distErr = distribute(loadCtx, cfg, admin, fl, sm.dist, progress)
	}
	sleep(loadCtx, time.Until(start.Add(cfg.Duration)))
	elapsed := time.Since(start)
	stopLoad()
	wg.Wait()
	if ctx.Err() != nil {
		return Report{}, ctx.Err()
	}

	r := buildReport(cfg, sm.stats, elapsed)
	r.SetupS = round1(setup.Seconds())
	r.Created, r.FromFile, r.Rotated, r.FileLimit = fl.created, fl.fromFile, fl.rotated, files
	m.report(&r)
	if sm.dist != nil {
		r.Distribution = sm.dist.result()
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
	if cfg.Pgbench {
		fmt.Fprintf(progress, "running pgbench for %s...\n", cfg.PgbenchDuration)
		if r.Pgbench, err = runPgbench(ctx, cfg, fl.agents, m.postmaster); err != nil {
			return r, err
		}
	}
	return r, nil
}

// simAgents builds the simulated agents: one client each with the agent's key over the
// shared connection pool, no retries (a 429 is counted, not hidden).
func simAgents(cfg Config, fl *fleet) (*sim, []*simAgent, error) {
	hc := &http.Client{Transport: newTransport(cfg.Conns)}
	sm := &sim{ops: cfg.Ops, stats: newStats(),
		fetch: &targetFetcher{base: strings.TrimRight(cfg.URL, "/"), hc: hc, conditional: !cfg.NoETag}}
	if cfg.Distribute {
		sm.dist = newDistTracker(len(fl.agents))
	}
	agents := make([]*simAgent, len(fl.agents))
	for i, fa := range fl.agents {
		c, err := client.New(cfg.URL, client.WithPAK(fa.PAK), client.WithHTTPClient(hc),
			client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithUserAgent(userAgent))
		if err != nil {
			return nil, nil, err
		}
		agents[i] = &simAgent{idx: i, id: fa.ID, c: c, sim: sm, pak: fa.PAK}
	}
	return sm, agents, nil
}

// startChannels opens the channels of the first agents, one WebSocket connection each,
// outside the shared pool.
func startChannels(ctx context.Context, wg *sync.WaitGroup, cfg Config, agents []*simAgent) error {
	wsHTTP := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	for _, a := range agents[:cfg.channels()] {
		ws, err := client.New(cfg.URL, client.WithPAK(a.pak), client.WithHTTPClient(wsHTTP),
			client.WithRetry(client.RetryPolicy{MaxAttempts: 1}), client.WithUserAgent(userAgent))
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
