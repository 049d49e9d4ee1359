package faults

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// simAgent is an agent that claims and completes work orders through the replicas it is
// given, moving to the next replica when one stops answering.
type simAgent struct {
	id       uuid.UUID
	clients  []*client.Client
	current  int
	executed func(order uuid.UUID)
}

func (a *simAgent) c() *client.Client { return a.clients[a.current%len(a.clients)] }

// transportFailure reports whether err means the replica did not answer at all.
func transportFailure(err error) bool {
	var ae *client.Error
	return err != nil && !errors.As(err, &ae)
}

// pass lists the pending orders and runs each it can claim: claim, execute, complete.
func (a *simAgent) pass(ctx context.Context) {
	pending, err := a.c().WorkOrders().Pending(ctx, a.id, "")
	if transportFailure(err) {
		a.current++
		return
	}
	for _, wo := range pending {
		if _, err := a.c().WorkOrders().Claim(ctx, wo.ID, a.id); err != nil {
			if transportFailure(err) {
				a.current++ // the claim may have happened: its timeout releases the order
				return
			}
			continue // claimed by another agent meanwhile
		}
		a.executed(wo.ID)
		msg := "done by " + a.id.String()
		for attempt := 0; attempt < 20; attempt++ {
			_, err := a.c().WorkOrders().Complete(ctx, wo.ID, client.CompleteWorkOrderRequest{Success: true, Message: &msg})
			if err == nil || !transportFailure(err) {
				break // completed, or already in the log (completed through the killed replica)
			}
			a.current++
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestReplicaKilledDuringWorkOrderClaims runs simulated agents claiming and completing work
// orders through two replicas and kills one of them with SIGKILL half-way: every order ends
// in the log exactly once, and none is executed twice.
func TestReplicaKilledDuringWorkOrderClaims(t *testing.T) {
	_, c, a, b := twoReplicas(t)
	ctx := context.Background()
	admin := a.client(c.adminPAK)

	const agents, orders = 4, 120
	var agentIDs []uuid.UUID
	var sims []*simAgent
	var mu sync.Mutex
	execs := map[uuid.UUID]int{}
	for i := range agents {
		res, err := admin.Agents().Create(ctx, client.CreateAgentRequest{Name: fmt.Sprintf("sim-%d", i), ClusterName: "faults"})
		if err != nil {
			t.Fatal(err)
		}
		active := "ACTIVE"
		if _, err := admin.Agents().Update(ctx, res.Agent.ID, client.UpdateAgentRequest{Status: &active}); err != nil {
			t.Fatal(err)
		}
		agentIDs = append(agentIDs, res.Agent.ID)
		// Half of the agents start on the replica that will be killed.
		replicas := []*client.Client{a.client(res.InitialPAK), b.client(res.InitialPAK)}
		if i%2 == 1 {
			replicas[0], replicas[1] = replicas[1], replicas[0]
		}
		sims = append(sims, &simAgent{id: res.Agent.ID, clients: replicas, executed: func(id uuid.UUID) {
			mu.Lock()
			execs[id]++
			mu.Unlock()
		}})
	}
	var ids []uuid.UUID
	timeout, retries := int32(3), int32(5)
	for i := range orders {
		wo, err := admin.WorkOrders().Create(ctx, client.CreateWorkOrderRequest{WorkType: "custom",
			YAMLContent: fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: wo-%d}\n", i),
			MaxRetries:  &retries, ClaimTimeoutSeconds: &timeout, Targeting: &client.WorkOrderTargeting{AgentIDs: agentIDs}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, wo.ID)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	for _, s := range sims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for runCtx.Err() == nil {
				s.pass(runCtx)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	executed := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(execs)
	}
	eventually(t, time.Minute, "a third of the orders to run", func() bool { return executed() >= orders/3 })
	a.kill()
	t.Logf("replica a killed after %d of %d orders ran", executed(), orders)

	bAdmin := b.client(c.adminPAK)
	inLog := func(id uuid.UUID) (client.WorkOrderLog, bool) {
		entry, err := bAdmin.WorkOrders().LogEntry(ctx, id)
		return entry, err == nil
	}
	eventually(t, 2*time.Minute, "every order in the log", func() bool {
		for _, id := range ids {
			if _, ok := inLog(id); !ok {
				return false
			}
		}
		return true
	})
	stop()
	wg.Wait()
	for _, id := range ids {
		entry, _ := inLog(id)
		if !entry.Success {
			t.Errorf("order %s: %+v", id, entry)
		}
		if n := execs[id]; n != 1 {
			t.Errorf("order %s executed %d times", id, n)
		}
	}
	// Nothing left behind: no active order remains.
	left, err := bAdmin.WorkOrders().List(ctx, nil)
	if err != nil || len(left) != 0 {
		t.Fatalf("active orders left: %d %v", len(left), err)
	}
}

// TestReplicaKilledDuringWebhookDeliveries kills one of two replicas while both deliver
// webhooks: every event reaches the receiver, and only a delivery that was in flight on the
// killed replica may arrive twice (at-least-once; receivers deduplicate by the event id).
func TestReplicaKilledDuringWebhookDeliveries(t *testing.T) {
	db, c, a, b := twoReplicas(t)
	ctx := context.Background()

	var (
		mu       sync.Mutex
		received = map[string]int{}
	)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var env struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(body, &env) == nil && env.ID != "" {
			mu.Lock()
			received[env.ID]++
			mu.Unlock()
		}
		time.Sleep(10 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(received)
	}

	admin := a.client(c.adminPAK)
	if _, err := admin.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "faults", URL: receiver.URL,
		EventTypes: []string{"stack.created"}}); err != nil {
		t.Fatal(err)
	}
	gen, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: "faults"})
	if err != nil {
		t.Fatal(err)
	}
	const events = 150
	bAdmin := b.client(c.adminPAK)
	for i := range events {
		via := admin
		if i%2 == 1 {
			via = bAdmin
		}
		if _, err := via.Stacks().Create(ctx, client.CreateStackRequest{Name: fmt.Sprintf("s-%d", i), GeneratorID: gen.Generator.ID}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, time.Minute, "a quarter of the deliveries", func() bool { return count() >= events/4 })
	a.kill()
	killed := time.Now()
	conn, err := pgx.Connect(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(ctx) }()
	inFlight := map[string]bool{}
	rows, err := conn.Query(ctx, "SELECT event_id::text FROM webhook_deliveries WHERE status = 'acquired'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		inFlight[id] = true
	}
	rows.Close()
	t.Logf("replica a killed after %d of %d deliveries; %d in flight", count(), events, len(inFlight))

	eventually(t, 2*time.Minute, "every event delivered", func() bool { return count() == events })
	// The receiver counts a delivery before the broker records its answer: the last rows turn
	// to success a moment later.
	var deliveries, succeeded int
	eventually(t, 90*time.Second, "every delivery recorded as a success", func() bool {
		if err := conn.QueryRow(ctx, "SELECT count(*), count(*) FILTER (WHERE status = 'success') FROM webhook_deliveries").Scan(&deliveries, &succeeded); err != nil {
			t.Fatal(err)
		}
		if succeeded != events && time.Since(killed) > 85*time.Second {
			rows, _ := conn.Query(ctx, "SELECT status, attempts, coalesce(last_error, ''), acquired_until IS NOT NULL, coalesce(next_retry_at::text, '') FROM webhook_deliveries WHERE status <> 'success'")
			for rows.Next() {
				var st, le, nr string
				var at int
				var acq bool
				_ = rows.Scan(&st, &at, &le, &acq, &nr)
				t.Logf("delivery %s attempts %d acquired %v next %s: %s", st, at, acq, nr, le)
			}
			rows.Close()
		}
		return succeeded == events
	})
	if deliveries != events {
		t.Fatalf("%d delivery rows for %d events", deliveries, events)
	}
	mu.Lock()
	defer mu.Unlock()
	redelivered := 0
	for id, n := range received {
		if n > 1 {
			redelivered++
			if !inFlight[id] {
				t.Errorf("event %s delivered %d times but was not in flight on the killed replica", id, n)
			}
		}
	}
	t.Logf("%d events, %d redelivered after the kill", len(received), redelivered)
}

// TestPostgresRestartUnderLoad restarts PostgreSQL while two replicas serve requests: no
// request hangs, the replicas serve again within 5 seconds of the database being back, and
// their notification listeners resubscribe (a key rotated through one replica stops working on
// the other at once).
func TestPostgresRestartUnderLoad(t *testing.T) {
	db, c, a, b := twoReplicas(t)
	ctx := context.Background()
	admin := a.client(c.adminPAK)
	res, err := admin.Agents().Create(ctx, client.CreateAgentRequest{Name: "probe", ClusterName: "faults"})
	if err != nil {
		t.Fatal(err)
	}

	// Load: readers on both replicas, each request bounded by a 15 s deadline it must not hit.
	const requestDeadline = 15 * time.Second
	loadCtx, stopLoad := context.WithCancel(ctx)
	var (
		wg                  sync.WaitGroup
		total, failed, hung atomic.Int64
		slowest             atomic.Int64
	)
	for i := range 8 {
		r := a
		if i%2 == 1 {
			r = b
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{}
			for loadCtx.Err() == nil {
				reqCtx, cancel := context.WithTimeout(context.Background(), requestDeadline)
				req, _ := http.NewRequestWithContext(reqCtx, http.MethodGet, r.URL+"/api/v1/agents", nil)
				req.Header.Set("Authorization", "Bearer "+c.adminPAK)
				start := time.Now()
				resp, err := hc.Do(req)
				took := time.Since(start)
				cancel()
				for {
					old := slowest.Load()
					if int64(took) <= old || slowest.CompareAndSwap(old, int64(took)) {
						break
					}
				}
				total.Add(1)
				switch {
				case errors.Is(err, context.DeadlineExceeded):
					hung.Add(1)
				case err != nil:
					failed.Add(1)
				default:
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						failed.Add(1)
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(time.Second)
	db.restart()
	back := time.Now()
	serving := func(r *replica) bool {
		_, err := r.client(c.adminPAK).Agents().List(ctx)
		return err == nil
	}
	eventually(t, 5*time.Second, "both replicas to serve again within 5 s", func() bool { return serving(a) && serving(b) })
	t.Logf("serving again %s after PostgreSQL came back", time.Since(back).Round(time.Millisecond))
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	t.Logf("%d requests, %d failed during the restart, slowest %s", total.Load(), failed.Load(), time.Duration(slowest.Load()).Round(time.Millisecond))
	if hung.Load() > 0 {
		t.Fatalf("%d requests hung past %s", hung.Load(), requestDeadline)
	}

	// The listeners resubscribed: replica b caches the agent's key, a rotates it, b refuses
	// the old key well before the auth cache's TTL.
	path := "/api/v1/agents/" + res.Agent.ID.String()
	if _, err := b.client(res.InitialPAK).Agents().Get(ctx, res.Agent.ID); err != nil {
		t.Fatalf("GET %s with the agent's key on b: %v", path, err)
	}
	if _, err := admin.Agents().RotatePAK(ctx, res.Agent.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the rotated key to be refused on the other replica", func() bool {
		_, err := b.client(res.InitialPAK).Agents().Get(ctx, res.Agent.ID)
		var ae *client.Error
		return errors.As(err, &ae) && ae.StatusCode == http.StatusUnauthorized
	})
	if !a.ready() || !b.ready() {
		t.Fatal("a replica is not ready after the restart")
	}
}

// twoReplicas starts a database of the test's own and two replicas on it, a and b.
func twoReplicas(t *testing.T) (*database, *cluster, *replica, *replica) {
	t.Helper()
	db := startDatabase(t)
	c := newCluster(t, db)
	return db, c, c.start("a", ""), c.start("b", "")
}
