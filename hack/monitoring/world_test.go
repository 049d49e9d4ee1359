package monitoring

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
)

// world is the workload of a real run: simulated agents (their requests to the broker are
// real; they have no cluster, so what they apply is made up) and an operator posting
// deployment objects, browsing and now and then sending a burst of requests.
type world struct {
	t      *testing.T
	b      *servertest.Broker
	o      runOptions
	period time.Duration
	stacks []client.Stack
	agents []*simAgent
	rnd    *rand.Rand
}

func newWorld(t *testing.T, ctx context.Context, b *servertest.Broker, urls []string, rc *receiver, o runOptions) *world {
	t.Helper()
	w := &world{t: t, b: b, o: o, period: max(o.Scrape, time.Second), rnd: rand.New(rand.NewPCG(1, 2))}
	for i := range o.Agents {
		a := b.CreateAgent(t, fmt.Sprintf("edge-%02d", i+1), fmt.Sprintf("cluster-%d", i%3+1), true)
		sa := newSimAgent(t, a, urls[i%len(urls)], i)
		if sa.edge {
			if _, err := b.Admin.Agents().AddLabel(ctx, a.ID, "env:edge"); err != nil {
				t.Fatal(err)
			}
		}
		w.agents = append(w.agents, sa)
	}
	for i := range o.Stacks {
		var ids []uuid.UUID
		var members []*simAgent
		for j, a := range w.agents {
			if j%o.Stacks == i || (j+1)%o.Stacks == i {
				ids, members = append(ids, a.id), append(members, a)
			}
		}
		st := b.CreateStack(t, fmt.Sprintf("app-%d", i+1), ids...)
		for _, a := range members {
			a.stacks = append(a.stacks, st.ID)
		}
		w.stacks = append(w.stacks, st)
		b.Post(t, st.ID, configMap(i, 0), false)
	}
	subscribe(t, b.Admin, "applied", rc.URL+"/ok", []string{"deployment.applied"}, nil)
	subscribe(t, b.Admin, "created", rc.URL+"/flaky", []string{"deployment.created"}, nil)
	subscribe(t, b.Admin, "failed", rc.URL+"/gone", []string{"deployment.failed"}, nil)
	subscribe(t, b.Admin, "in-cluster", rc.URL+"/ok", []string{"deployment.created"}, []string{"env:edge"})
	return w
}

// configMap is the n-th version of stack i's deployment object.
func configMap(i, n int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-%d\n  namespace: default\ndata:\n  version: \"%d\"\n", i+1, n)
}

// targets are the agents' /metrics endpoints.
func (w *world) targets() []ScrapeTarget {
	var out []ScrapeTarget
	for _, a := range w.agents {
		out = append(out, ScrapeTarget{URL: a.srv.URL + "/metrics", Job: "brokkr-agent", Instance: a.name})
	}
	return out
}

// start runs the agents, the operator and two live subscribers until ctx ends.
func (w *world) start(ctx context.Context, wg *sync.WaitGroup) {
	for _, a := range w.agents {
		wg.Go(func() { a.run(ctx, w.period, w.o.Duration) })
	}
	wg.Go(func() { w.operate(ctx) })
	for _, open := range []func() (*client.Subscription, error){
		func() (*client.Subscription, error) { return w.b.Admin.Live().Fleet(ctx) },
		func() (*client.Subscription, error) { return w.b.Admin.Live().Stack(ctx, w.stacks[0].ID) },
	} {
		sub, err := open()
		if err != nil {
			w.t.Fatal(err)
		}
		wg.Go(func() {
			defer sub.Close()
			for {
				if _, err := sub.Next(ctx); err != nil && ctx.Err() != nil {
					return
				}
			}
		})
	}
}

// operate is the operator: a new deployment object every few periods, lists and a lookup
// that is not found every period, and a burst of requests now and then.
func (w *world) operate(ctx context.Context) {
	versions := make([]int, len(w.stacks))
	tick := time.NewTicker(w.period)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		admin := w.b.Admin
		_, _ = admin.Agents().List(ctx)
		_, _ = admin.Stacks().List(ctx, nil)
		_, _ = admin.Agents().Get(ctx, uuid.UUID{0xde, 0xad})
		if n%3 == 0 {
			i := w.rnd.IntN(len(w.stacks))
			versions[i]++
			_, _ = admin.Stacks().CreateDeploymentObject(ctx, w.stacks[i].ID, configMap(i, versions[i]), false)
		}
		if n%8 == 4 {
			w.burst(ctx, 80)
		}
	}
}

// burst sends n requests at once, more than the broker admits at a time.
func (w *world) burst(ctx context.Context, n int) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { _, _ = w.b.Admin.Agents().List(ctx) })
	}
	wg.Wait()
}

// postWebhook delivers a webhook the broker handed to an agent, as the agent would.
func postWebhook(ctx context.Context, p client.PendingWebhookDelivery) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(p.Payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	_ = res.Body.Close()
	return res.StatusCode, nil
}
