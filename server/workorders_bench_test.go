package server_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
)

// BenchmarkWorkOrderClaim measures claiming with 50 concurrent claimers, all eligible
// through a shared label, against a pool of pending orders:
//   - store: every claim targets its own order (the conditional UPDATE with the eligibility
//     check, no contention on rows);
//   - contended: four claimers race for each order, exactly one wins (claims/s counts wins);
//   - http: uncontended claims through the REST API with each agent's own PAK.
func BenchmarkWorkOrderClaim(b *testing.B) {
	const claimers = 50
	e := newEnv(b)
	ctx := context.Background()
	agents := make([]agentFixture, claimers)
	for i := range agents {
		agents[i] = e.createAgent(fmt.Sprintf("claimer-%02d", i), "bench")
	}
	if _, err := e.db.ExecContext(ctx, `INSERT INTO agent_labels (agent_id, label) SELECT id, 'pool:bench' FROM agents`); err != nil {
		b.Fatal(err)
	}
	seed := func(b *testing.B, n int) []uuid.UUID {
		b.Helper()
		var ids []uuid.UUID
		err := e.db.InTx(ctx, func(q db.Queryer) error {
			if err := q.SelectContext(ctx, &ids, `INSERT INTO work_orders (work_type, yaml_content)
				SELECT 'build', 'kind: Build # ' || i FROM generate_series(1, $1) i RETURNING id`, n); err != nil {
				return err
			}
			_, err := q.ExecContext(ctx, `INSERT INTO work_order_labels (work_order_id, label)
				SELECT id, 'pool:bench' FROM unnest($1::uuid[]) id`, ids)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		return ids
	}
	// run starts claimers goroutines that each call claim once per iteration, with the index
	// of the iteration and the claimer's agent, and reports wins per second.
	run := func(b *testing.B, claim func(i int64, a agentFixture) (bool, error)) {
		b.SetParallelism((claimers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
		var next, wins, who atomic.Int64
		b.ResetTimer()
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			a := agents[(who.Add(1)-1)%claimers]
			for pb.Next() {
				won, err := claim(next.Add(1)-1, a)
				if err != nil {
					b.Error(err)
					return
				}
				if won {
					wins.Add(1)
				}
			}
		})
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(wins.Load())/elapsed.Seconds(), "claims/s")
	}

	b.Run("store", func(b *testing.B) {
		ids := seed(b, b.N)
		run(b, func(i int64, a agentFixture) (bool, error) {
			if _, err := db.ClaimWorkOrder(ctx, e.db, ids[i], a.agent.ID); err != nil {
				return false, fmt.Errorf("claim %s: %w", ids[i], err)
			}
			return true, nil
		})
	})

	b.Run("contended", func(b *testing.B) {
		const racers = 4
		ids := seed(b, b.N/racers+1)
		run(b, func(i int64, a agentFixture) (bool, error) {
			_, err := db.ClaimWorkOrder(ctx, e.db, ids[i/racers], a.agent.ID)
			switch {
			case err == nil:
				return true, nil
			case errors.Is(err, db.ErrNotFound):
				return false, nil
			}
			return false, err
		})
		var unclaimed int
		if err := e.db.GetContext(ctx, &unclaimed, `SELECT count(*) FROM work_orders WHERE id = ANY($1) AND status <> 'CLAIMED'`,
			ids[:b.N/racers]); err != nil {
			b.Fatal(err)
		}
		if unclaimed != 0 {
			b.Fatalf("%d raced orders were not claimed", unclaimed)
		}
	})

	b.Run("http", func(b *testing.B) {
		ids := seed(b, b.N)
		// A plain client: the benchmark measures the broker, not the response validator.
		hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: claimers}}
		defer hc.CloseIdleConnections()
		run(b, func(i int64, a agentFixture) (bool, error) {
			body := fmt.Sprintf(`{"agent_id":%q}`, a.agent.ID)
			hr, err := http.NewRequest("POST", e.url+v1path("work-orders", ids[i], "claim"), bytes.NewReader([]byte(body)))
			if err != nil {
				return false, err
			}
			hr.Header.Set("Content-Type", "application/json")
			hr.Header.Set("Authorization", "Bearer "+a.pak)
			res, err := hc.Do(hr)
			if err != nil {
				return false, err
			}
			defer res.Body.Close()
			raw, _ := io.ReadAll(res.Body)
			if res.StatusCode != http.StatusOK {
				return false, fmt.Errorf("claim %s: %d %s", ids[i], res.StatusCode, raw)
			}
			return true, nil
		})
	})
}
