package monitoring

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/tsdb"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/servertest"
)

// runOptions shape a real run.
type runOptions struct {
	Duration time.Duration // how long the workload runs
	Scrape   time.Duration // the scrape interval
	Agents   int           // simulated agents
	Stacks   int
}

// recorded is what a real run leaves: the scraped series and the window they cover.
type recorded struct {
	DB     *tsdb.DB
	Window Window
	Agents int
}

// realRun starts two broker replicas on one database, drives them with simulated agents
// and an operator for o.Duration, and scrapes both replicas and every agent into a TSDB
// every o.Scrape, as Prometheus would.
func realRun(t *testing.T, o runOptions) recorded {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b := servertest.New(t, servertest.Options{Background: true, Configure: func(c *config.Broker) {
		c.Broker.WebhookDeliveryIntervalSeconds = 1
		c.Broker.FleetSweepIntervalSeconds = 5
		c.Broker.MaxInflightRequests = 6
		c.Broker.MaxQueueWaitMillis = 25
	}})
	second := replica(t, ctx, b)
	brokers := []ScrapeTarget{
		{URL: b.URL + "/metrics", Job: "brokkr-broker", Instance: "broker-0"},
		{URL: second + "/metrics", Job: "brokkr-broker", Instance: "broker-1"},
	}
	rc := newReceiver(t)
	w := newWorld(t, ctx, b, []string{b.URL, second}, rc, o)

	db, err := tsdb.Open(t.TempDir(), nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })

	var wg sync.WaitGroup
	runCtx, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	start := time.Now().Truncate(time.Second)
	w.start(runCtx, &wg)
	scraper := NewScraper()
	tick := time.NewTicker(o.Scrape)
	defer tick.Stop()
	var end time.Time
	for done := false; !done; {
		select {
		case <-runCtx.Done():
			done = true
		case now := <-tick.C:
			app := db.Appender(ctx)
			for _, tg := range append(brokers, w.targets()...) {
				if err := scraper.Scrape(ctx, app, tg, now); err != nil {
					t.Fatalf("scrape %s: %v", tg.URL, err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			end = now
		}
	}
	stop()
	wg.Wait()
	return recorded{DB: db, Agents: o.Agents, Window: Window{Start: start, End: end, Step: o.Scrape, RateInterval: rateInterval(o)}}
}

// rateInterval is what Grafana would use for $__rate_interval: four scrape intervals, and
// at least 20 s in a long run so that the lines are as smooth as in a real Prometheus.
func rateInterval(o runOptions) string {
	r := 4 * o.Scrape
	if o.Duration > time.Minute {
		r = max(r, 20*time.Second)
	}
	return fmt.Sprintf("%ds", int(r.Seconds()))
}

// replica starts another broker on the same database, as a second replica behind a load
// balancer, and returns its URL.
func replica(t *testing.T, ctx context.Context, b *servertest.Broker) string {
	t.Helper()
	srv, err := server.New(server.Options{Config: b.Config, DB: b.Store})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	runCtx, cancel := context.WithCancel(ctx)
	srv.Start(runCtx)
	t.Cleanup(func() { cancel(); srv.Wait() })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return ts.URL
}

// receiver is a webhook endpoint: /ok accepts, /flaky refuses every third request with
// 503, /gone answers 410 (the delivery dies).
type receiver struct {
	*httptest.Server
	mu sync.Mutex
	n  int
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.n++
		n := rc.n
		rc.mu.Unlock()
		switch {
		case r.URL.Path == "/gone":
			w.WriteHeader(http.StatusGone)
		case r.URL.Path == "/flaky" && n%3 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

// subscribe creates a webhook subscription, failing the test on error.
func subscribe(t *testing.T, c *client.Client, name, url string, events, targetLabels []string) {
	t.Helper()
	retries, timeout := int32(2), int32(2)
	if _, err := c.Webhooks().Create(context.Background(), client.CreateWebhookRequest{Name: name, URL: url,
		EventTypes: events, TargetLabels: targetLabels, MaxRetries: &retries, TimeoutSeconds: &timeout}); err != nil {
		t.Fatal(err)
	}
}
