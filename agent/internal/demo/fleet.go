package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/client"
)

// member is one cluster of the fleet and its agent.
type member struct {
	env     string // dev, staging, prod: the agent's label is env=<env>
	agent   client.Agent
	pak     string
	cluster *kubetest.Env
	proc    *proc
	health  string // host:port of the agent's /healthz and /metrics
}

// fleet is the running demo.
type fleet struct {
	opts     options
	dir      string
	broker   *proc
	url      string
	adminPAK string
	admin    *client.Client
	members  []*member
	stacks   []*demoStack

	mu       sync.Mutex // guards the members' clusters while they start
	starting sync.WaitGroup
	stopping chan struct{}
}

// envs are the fleet's environments, one cluster and agent each.
var envs = []string{"dev", "staging", "prod"}

func newFleet(opts options) (*fleet, error) {
	if opts.out == nil {
		opts.out = os.Stdout
	}
	for _, name := range []string{"brokkr-broker", "brokkr-agent"} {
		if _, err := os.Stat(filepath.Join(opts.binDir, name)); err != nil {
			return nil, fmt.Errorf("%s is missing in %s (run `make build`, or `make demo`): %w", name, opts.binDir, err)
		}
	}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return nil, errors.New("KUBEBUILDER_ASSETS is not set: run `make demo` (it builds the living cluster's binaries once), or set KUBEBUILDER_ASSETS=$(make -s print-test-assets) after `make test-assets`")
	}
	dir, err := os.MkdirTemp("", "brokkr-demo-")
	if err != nil {
		return nil, err
	}
	// The embedded database runs as the postgres account when the demo runs as root.
	if err := os.Chmod(dir, 0o755); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	f := &fleet{opts: opts, dir: dir, stopping: make(chan struct{})}
	for _, env := range envs {
		f.members = append(f.members, &member{env: env})
	}
	return f, nil
}

// say tells the user something.
func (f *fleet) say(format string, args ...any) {
	fmt.Fprintf(f.opts.out, format+"\n", args...)
}

// start brings the fleet up: the broker and the three clusters at once, then the broker's
// objects, then each cluster's agent as soon as its cluster is up.
func (f *fleet) start(ctx context.Context) error {
	f.say("brokkr demo in %s", f.dir)
	dataDir := filepath.Join(f.dir, "postgres")
	broker, err := startProc(f.dir, "broker", childEnv(
		"BROKKR__BROKER__ADMIN_KEY_FILE="+filepath.Join(f.dir, "admin-pak"),
		"BROKKR__BROKER__SHUTDOWN_TIMEOUT_SECONDS=5",
		"BROKKR__BROKER__FLEET_SWEEP_INTERVAL_SECONDS=5",
	), filepath.Join(f.opts.binDir, "brokkr-broker"), "serve", "--listen", f.opts.listen, "--data-dir", dataDir)
	if err != nil {
		return err
	}
	f.broker = broker
	f.watch(broker)

	f.say("starting three living clusters (etcd, kube-apiserver, controller-manager, scheduler, kwok fake nodes)...")
	clusters := make(chan *member, len(f.members))
	errs := make(chan error, len(f.members))
	for _, m := range f.members {
		f.starting.Add(1)
		go func() {
			defer f.starting.Done()
			env, err := startCluster()
			if err != nil {
				errs <- fmt.Errorf("cluster %s: %w", m.env, err)
				return
			}
			f.mu.Lock()
			m.cluster = env
			f.mu.Unlock()
			clusters <- m
		}()
	}

	if err := f.awaitBroker(ctx, 2*time.Minute); err != nil {
		return err
	}
	f.say("broker up at %s (embedded PostgreSQL in %s)", f.url, dataDir)
	if err := f.setup(ctx); err != nil {
		return err
	}
	f.printUsage()

	for range f.members {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-errs:
			return err
		case m := <-clusters:
			if err := f.startAgent(m); err != nil {
				return err
			}
			f.say("cluster %-7s up: kubectl --kubeconfig %s get pods -A", m.env, m.cluster.Kubeconfig)
			f.say("agent   %-7s started (env=%s; log %s, metrics http://%s/metrics)", m.env, m.env, m.proc.Log, m.health)
		}
	}
	return nil
}

// startCluster starts a living cluster, a second time when the first attempt fails (two
// clusters starting at once may pick the same free port).
func startCluster() (*kubetest.Env, error) {
	env, err := kubetest.Start()
	if err != nil {
		env, err = kubetest.Start()
	}
	return env, err
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// awaitBroker waits until the broker listens, has written the admin PAK and is ready.
func (f *fleet) awaitBroker(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	keyFile := filepath.Join(f.dir, "admin-pak")
	for {
		if !f.broker.Alive() {
			return fmt.Errorf("the broker exited (%s); its log ends:\n%s", f.broker.status(), f.broker.Tail())
		}
		if f.url == "" {
			if b, err := os.ReadFile(f.broker.Log); err == nil {
				if m := listeningRE.FindSubmatch(b); m != nil {
					f.url = string(m[1])
				}
			}
		}
		if f.url != "" && f.adminPAK == "" {
			if b, err := os.ReadFile(keyFile); err == nil {
				f.adminPAK = strings.TrimSpace(string(b))
			}
		}
		if f.url != "" && f.adminPAK != "" {
			if f.admin == nil {
				c, err := client.New(f.url, client.WithPAK(f.adminPAK))
				if err != nil {
					return err
				}
				f.admin = c
			}
			if f.admin.Ready(ctx) == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("the broker was not ready within %s; its log ends:\n%s", timeout, f.broker.Tail())
			}
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// startAgent writes the agent's configuration file and runs brokkr-agent with it.
func (f *fleet) startAgent(m *member) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	m.health = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cfg := fmt.Sprintf(`[agent]
broker_url = %q
pak = %q
agent_name = %q
cluster_name = %q
kubeconfig_path = %q
health_addr = "127.0.0.1"
health_port = %d
polling_interval = 5
deployment_health_interval = 10
shutdown_timeout = 5
`, f.url, m.pak, m.agent.Name, m.agent.ClusterName, m.cluster.Kubeconfig, port)
	path := filepath.Join(f.dir, "agent-"+m.env+".toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	p, err := startProc(f.dir, "agent-"+m.env, childEnv(), filepath.Join(f.opts.binDir, "brokkr-agent"), "start", "--config", path)
	if err != nil {
		return err
	}
	m.proc = p
	f.watch(p)
	return nil
}

// watch tells the user when a program dies while the demo runs.
func (f *fleet) watch(p *proc) {
	go func() {
		select {
		case <-f.stopping:
		case <-p.Done():
			select {
			case <-f.stopping:
			default:
				f.say("%s exited unexpectedly (%s); its log ends:\n%s", p.Name, p.status(), p.Tail())
			}
		}
	}()
}

// stop tears everything down: the agents, the clusters (once their start is over), the
// broker and its database, the temporary directory.
func (f *fleet) stop() error {
	close(f.stopping)
	f.say("stopping the demo...")
	var errs []error
	var mu sync.Mutex
	each := func(fn func(m *member) error) {
		var wg sync.WaitGroup
		for _, m := range f.members {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := fn(m); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	each(func(m *member) error {
		if m.proc == nil {
			return nil
		}
		return m.proc.stop(15 * time.Second)
	})
	f.starting.Wait()
	each(func(m *member) error {
		f.mu.Lock()
		c := m.cluster
		f.mu.Unlock()
		if c != nil {
			c.Stop()
		}
		return nil
	})
	if f.broker != nil {
		if err := f.broker.stop(30 * time.Second); err != nil {
			errs = append(errs, err)
		}
		if err := stopPostgres(filepath.Join(f.dir, "postgres")); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(f.dir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	f.say("demo stopped: agents, clusters and broker are gone, %s removed", f.dir)
	return nil
}

func freePort() (int, error) {
	l, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port, nil
}
