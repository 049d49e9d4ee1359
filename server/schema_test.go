package server_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server"
)

// TestBrokerInSchema runs two brokers in two schemas of one database: each sees only its
// own rows, and the public schema's tables are untouched.
func TestBrokerInSchema(t *testing.T) {
	ctx := context.Background()
	url := dbtest.URL(t)
	counts := map[string]int{}
	for _, schema := range []string{"tenant_a", "tenant_b"} {
		if err := db.MigrateUp(ctx, url, schema); err != nil {
			t.Fatal(err)
		}
		store, err := db.Open(ctx, url, db.Options{Schema: schema, MaxConnections: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		key, hash, _ := pak.Generate(pak.DefaultSettings())
		cfg := config.DefaultBroker()
		cfg.Broker.PAKHash, cfg.Database.Schema = hash, schema
		srv, err := server.New(server.Options{Config: cfg, DB: store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srv.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		ts := httptest.NewServer(srv.Handler())
		defer ts.Close()
		e := &env{t: t, url: ts.URL, admin: key, http: ts.Client()}
		n := map[string]int{"tenant_a": 1, "tenant_b": 2}[schema]
		for i := 0; i < n; i++ {
			e.createAgent("agent", "cluster-"+string(rune('a'+i)))
		}
		counts[schema] = n
	}
	check := func(schema string, want int) {
		t.Helper()
		store, err := db.Open(ctx, url, db.Options{MaxConnections: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		var got int
		if err := store.GetContext(ctx, &got, `SELECT count(*) FROM `+db.QuoteIdent(schema)+`.agents`); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s.agents holds %d rows, want %d", schema, got, want)
		}
	}
	check("tenant_a", counts["tenant_a"])
	check("tenant_b", counts["tenant_b"])
	check("public", 0)
}

func TestOpenRejectsInvalidSchema(t *testing.T) {
	for _, bad := range []string{"Bad-Name", "1abc", "pg_catalog", "a;drop table agents"} {
		if _, err := db.Open(context.Background(), "postgres://127.0.0.1:1/unused", db.Options{Schema: bad}); err == nil {
			t.Errorf("schema %q accepted", bad)
		}
	}
}
