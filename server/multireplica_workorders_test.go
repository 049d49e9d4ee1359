package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// rawDo performs one request and is safe to call from any goroutine: failures are reported
// with t.Errorf (never t.Fatal) and give a zero status.
func rawDo(t testing.TB, e *env, method, path, key string, body any) resp {
	var rdr io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Errorf("encode body: %v", err)
			return resp{}
		}
		rdr = bytes.NewReader(raw)
	}
	hr, err := http.NewRequest(method, e.url+path, rdr)
	if err != nil {
		t.Errorf("new request: %v", err)
		return resp{}
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Authorization", "Bearer "+key)
	res, err := e.http.Do(hr)
	if err != nil {
		t.Errorf("%s %s: %v", method, path, err)
		return resp{}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("%s %s: read body: %v", method, path, err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

// TestWorkOrderClaimsAcrossReplicas races 20 agents for 30 work orders through two broker
// replicas on one database: every order must go to exactly one agent.
func TestWorkOrderClaimsAcrossReplicas(t *testing.T) {
	const (
		agents = 20
		orders = 30
	)
	e := newEnv(t)
	replicas := []*env{e, e.replica()}

	fleet := make([]agentFixture, agents)
	for i := range fleet {
		fleet[i] = e.createAgent(fmt.Sprintf("racer-%02d", i), "race")
		e.addAgentLabel(fleet[i].agent.ID, "pool:race")
	}
	ids := make([]uuid.UUID, orders)
	for i := range ids {
		ids[i] = e.createWorkOrder(map[string]any{"targeting": map[string]any{"labels": []string{"pool:race"}}}).ID
	}

	type outcome struct {
		order, agent uuid.UUID
		status       int
		code         string
		claimedBy    *uuid.UUID
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		start    = make(chan struct{})
		wg       sync.WaitGroup
	)
	for _, a := range fleet {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each agent tries every order, in its own random order, each time through a
			// randomly chosen replica.
			mine := append([]uuid.UUID(nil), ids...)
			rand.Shuffle(len(mine), func(i, j int) { mine[i], mine[j] = mine[j], mine[i] })
			<-start
			for _, id := range mine {
				r := replicas[rand.IntN(len(replicas))]
				got := rawDo(t, r, "POST", v1path("work-orders", id, "claim"), a.pak, map[string]any{"agent_id": a.agent.ID})
				o := outcome{order: id, agent: a.agent.ID, status: got.status, code: got.code()}
				if got.status == 200 {
					var w client.WorkOrder
					if err := json.Unmarshal(got.body, &w); err != nil {
						t.Errorf("decode claim: %v", err)
					}
					o.claimedBy = w.ClaimedBy
				}
				mu.Lock()
				outcomes = append(outcomes, o)
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	if len(outcomes) != agents*orders {
		t.Fatalf("%d outcomes, want %d", len(outcomes), agents*orders)
	}
	winner := make(map[uuid.UUID]uuid.UUID, orders)
	for _, o := range outcomes {
		switch {
		case o.status == 200:
			if prev, dup := winner[o.order]; dup {
				t.Errorf("order %s claimed twice: by %s and %s", o.order, prev, o.agent)
			}
			if o.claimedBy == nil || *o.claimedBy != o.agent {
				t.Errorf("order %s: winner %s, but the response says claimed_by %v", o.order, o.agent, o.claimedBy)
			}
			winner[o.order] = o.agent
		case o.status == 404 && o.code == "work_order_not_claimable":
		default:
			t.Errorf("order %s, agent %s: %d %s", o.order, o.agent, o.status, o.code)
		}
	}
	if len(winner) != orders {
		t.Fatalf("%d orders were claimed, want all %d", len(winner), orders)
	}

	// The database agrees with the responses.
	var rows []struct {
		ID        uuid.UUID  `db:"id"`
		Status    string     `db:"status"`
		ClaimedBy *uuid.UUID `db:"claimed_by"`
	}
	if err := e.db.SelectContext(context.Background(), &rows,
		`SELECT id, status, claimed_by FROM work_orders WHERE id = ANY($1)`, ids); err != nil {
		t.Fatal(err)
	}
	if len(rows) != orders {
		t.Fatalf("%d work orders in the database, want %d", len(rows), orders)
	}
	perAgent := map[uuid.UUID]int{}
	for _, r := range rows {
		if r.Status != "CLAIMED" || r.ClaimedBy == nil || *r.ClaimedBy != winner[r.ID] {
			t.Errorf("order %s in the database: %s by %v, the responses say %s", r.ID, r.Status, r.ClaimedBy, winner[r.ID])
		}
		if r.ClaimedBy != nil {
			perAgent[*r.ClaimedBy]++
		}
	}
	t.Logf("%d orders claimed by %d distinct agents over %d replicas", orders, len(perAgent), len(replicas))
	// Each successful claim emitted exactly one audit row naming its agent.
	for _, r := range replicas {
		r.srv.FlushAudit(context.Background())
	}
	if n := e.sqlCount(`SELECT count(*) FROM audit_logs WHERE action = 'workorder.claimed'`); n != orders {
		t.Errorf("%d claim audit rows, want %d", n, orders)
	}
}
