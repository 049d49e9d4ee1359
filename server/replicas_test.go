package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// TestAuthEvictionCrossesReplicas checks that a key rotated or deleted through one replica
// stops working on another replica that had it cached, without waiting for the cache TTL.
func TestAuthEvictionCrossesReplicas(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	waitFor(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })

	agent := a.createAgent("a1", "c1")
	path := "/api/v1/agents/" + agent.agent.ID.String()
	b.must(200, req{method: "GET", path: path, pak: agent.pak}) // cached on b now

	var rot client.RotateAgentPAKResponse
	a.must(200, req{method: "POST", path: path + "/rotate-pak", pak: a.admin}).decode(t, &rot)
	waitFor(t, "old key refused on the other replica", func() bool {
		return b.do(req{method: "GET", path: path, pak: agent.pak}).status == 401
	})
	b.must(200, req{method: "GET", path: path, pak: rot.PAK})

	a.must(204, req{method: "DELETE", path: path, pak: a.admin})
	waitFor(t, "deleted agent's key refused on the other replica", func() bool {
		return b.do(req{method: "GET", path: path, pak: rot.PAK}).status == 401
	})
}

// TestReplicasShareOneBootstrap starts several replicas on one fresh database at once: exactly one
// system generator and one admin-generator must result.
func TestReplicasShareOneBootstrap(t *testing.T) {
	a := newEnv(t)
	errs := make(chan error, 4)
	for i := 0; i < 4; i++ {
		go func() {
			srv, err := server.New(server.Options{Config: a.cfg, DB: a.db})
			if err == nil {
				_, err = srv.Bootstrap(context.Background())
			}
			errs <- err
		}()
	}
	for i := 0; i < 4; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var n struct {
		System int `db:"system"`
		Admin  int `db:"admin"`
		Roles  int `db:"roles"`
	}
	if err := a.db.Get(&n, `SELECT
		(SELECT count(*) FROM generators WHERE is_system AND deleted_at IS NULL) AS system,
		(SELECT count(*) FROM generators WHERE name = 'admin-generator' AND deleted_at IS NULL) AS admin,
		(SELECT count(*) FROM admin_role) AS roles`); err != nil {
		t.Fatal(err)
	}
	if n.System != 1 || n.Admin != 1 || n.Roles != 1 {
		t.Fatalf("after concurrent bootstrap: %+v", n)
	}
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
