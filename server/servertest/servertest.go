// Package servertest starts a real broker on a throw-away PostgreSQL database for the tests of
// the agent and the dashboard, with helpers to seed it. The package's TestMain must run dbtest
// (`func TestMain(m *testing.M) { dbtest.Main(m) }`, or kubetest.RunWith with dbtest.Run).
package servertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/manifest"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/internal/tracing"
	"github.com/brokkr/brokkr/server"
	"github.com/google/uuid"
)

// Broker is a running broker.
type Broker struct {
	URL      string
	AdminPAK string
	// Admin is a client with the admin key.
	Admin  *client.Client
	Server *server.Server
	// Store is the broker's database.
	Store *db.DB
	// Config is the configuration the broker was built with.
	Config config.Broker
	// Tracing is the broker's trace pipeline, built from Config's [telemetry] settings as
	// brokkr-broker builds it (disabled by default); ForceFlush exports what has ended.
	Tracing *tracing.Provider
}

// Options adjust the broker New builds.
type Options struct {
	// Configure changes the configuration (the defaults, with a fresh admin key) before the
	// broker is built.
	Configure func(*config.Broker)
	// Reload is the broker's configuration reload (nil disables it).
	Reload func() (config.Broker, error)
	// Wrap wraps the broker's HTTP handler.
	Wrap func(http.Handler) http.Handler
	// MaxConnections bounds the broker's database pool (default 10).
	MaxConnections int
	// Clock is the time rollouts and apply windows go by (default time.Now).
	Clock func() time.Time
	// Background runs the background workers and the notification listener, and waits until
	// /readyz says the listener is connected.
	Background bool
}

// Start starts a broker with its background workers; it stops when the test ends.
func Start(t testing.TB) *Broker {
	t.Helper()
	return New(t, Options{Background: true})
}

// New starts a bootstrapped broker on a fresh database; it stops when the test ends.
func New(t testing.TB, o Options) *Broker {
	t.Helper()
	ctx := context.Background()
	if o.MaxConnections == 0 {
		o.MaxConnections = 10
	}
	adminKey, adminHash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.DefaultBroker()
	cfg.Broker.PAKHash = adminHash
	cfg.Broker.AdminKeyFile = ""
	if o.Configure != nil {
		o.Configure(&cfg)
	}
	traces, err := tracing.New(ctx, cfg.Telemetry.ForBroker(), tracing.Options{Component: "broker"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = traces.Shutdown(sctx)
	})
	store, err := db.Open(ctx, dbtest.URL(t), db.Options{MaxConnections: o.MaxConnections, TracerProvider: traces.TracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	srv, err := server.New(server.Options{Config: cfg, DB: store, Reload: o.Reload, TracerProvider: traces.TracerProvider(), Clock: o.Clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if _, err := srv.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if o.Background {
		runCtx, cancel := context.WithCancel(context.Background())
		srv.Start(runCtx) // background workers, LISTEN/NOTIFY
		t.Cleanup(func() { cancel(); srv.Wait() })
	}
	h := srv.Handler()
	if o.Wrap != nil {
		h = o.Wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	if o.Background {
		waitReady(t, ts.URL)
	}
	admin, err := client.New(ts.URL, client.WithPAK(adminKey))
	if err != nil {
		t.Fatal(err)
	}
	return &Broker{URL: ts.URL, AdminPAK: adminKey, Admin: admin, Server: srv, Store: store, Config: cfg, Tracing: traces}
}

// waitReady waits until /readyz answers 200, which means the notification listener is
// connected too.
func waitReady(t testing.TB, url string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		res, err := http.Get(url + "/readyz") //nolint:noctx // test harness
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test broker is not ready: %v", err)
		}
	}
}

// Agent is an agent registered with the broker.
type Agent struct {
	ID     uuid.UUID
	Name   string
	PAK    string
	Client *client.Client // with the agent's key
}

// CreateAgent creates an agent (ACTIVE unless active is false) and returns its key.
func (b *Broker) CreateAgent(t testing.TB, name, cluster string, active bool) Agent {
	t.Helper()
	ctx := context.Background()
	res, err := b.Admin.Agents().Create(ctx, client.CreateAgentRequest{Name: name, ClusterName: cluster})
	if err != nil {
		t.Fatal(err)
	}
	if active {
		st := "ACTIVE"
		if _, err := b.Admin.Agents().Update(ctx, res.Agent.ID, client.UpdateAgentRequest{Status: &st}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(b.URL, client.WithPAK(res.InitialPAK))
	if err != nil {
		t.Fatal(err)
	}
	return Agent{ID: res.Agent.ID, Name: name, PAK: res.InitialPAK, Client: c}
}

// CreateStack creates a stack (under a new generator, with which the agents are registered)
// targeted at the given agents.
func (b *Broker) CreateStack(t testing.TB, name string, agents ...uuid.UUID) client.Stack {
	t.Helper()
	ctx := context.Background()
	gen, err := b.Admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "gen-" + name})
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.Admin.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: gen.Generator.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range agents {
		if _, err := b.Admin.Generators().Register(ctx, gen.Generator.ID, &a); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Admin.Agents().AddTarget(ctx, a, st.ID); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// Post adds a deployment object to a stack.
func (b *Broker) Post(t testing.TB, stackID uuid.UUID, yaml string, deletionMarker bool) client.DeploymentObject {
	t.Helper()
	o, err := b.Admin.Stacks().CreateDeploymentObject(context.Background(), stackID, yaml, deletionMarker)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// StoreUnchecked stores a deployment object without the broker's intake checks, as objects
// reach agents that a broker without those checks accepted (or that were stored before them).
func (b *Broker) StoreUnchecked(t testing.TB, stackID uuid.UUID, yaml string) client.DeploymentObject {
	t.Helper()
	ctx := context.Background()
	var stored db.DeploymentObject
	err := b.Store.InTx(ctx, func(q db.Queryer) error {
		var err error
		stored, err = db.CreateDeploymentObject(ctx, q, stackID, yaml, manifest.Checksum(yaml), false, false)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b.Server.SyncTargetState(ctx) // written behind the broker's back: let it catch up
	o, err := b.Admin.DeploymentObjects().Get(ctx, stored.ID)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// Events returns the agent's deployment events, newest first.
func (b *Broker) Events(t testing.TB, agentID uuid.UUID) []client.AgentEvent {
	t.Helper()
	evs, err := b.Admin.Agents().Events(context.Background(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}
