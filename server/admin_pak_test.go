package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/pak"
)

// TestRotateAdminPAKAcrossReplicas rotates the admin key through one replica: the old key is
// refused by another replica that had it cached (also where it named the admin generator),
// promptly rather than after the auth cache's TTL; the new key works on both; the rotation
// is audited; and, since this broker configures broker.pak_hash, the answer warns that the
// next start brings the old key back.
func TestRotateAdminPAKAcrossReplicas(t *testing.T) {
	a := newEnv(t)
	b := a.replica()
	start(t, a.srv)
	start(t, b.srv)
	waitFor(t, "listeners", func() bool { return a.srv.ListeningForTest() && b.srv.ListeningForTest() })
	if a.cfg.Broker.AuthCacheTTLSeconds < 30 {
		t.Fatalf("auth cache TTL %d s: too short to tell eviction from expiry", a.cfg.Broker.AuthCacheTTLSeconds)
	}
	old := a.admin
	b.must(200, req{method: "GET", path: "/api/v1/agents", pak: old}) // cached on b now

	var res client.AdminPAKResponse
	a.must(200, req{method: "POST", path: "/api/v1/admin/rotate-pak", pak: old}).decode(t, &res)
	if res.PAK == "" || res.PAK == old {
		t.Fatalf("rotation answered %+v", res)
	}
	if h, err := pak.Hash(res.PAK); err != nil || h != res.PAKHash {
		t.Fatalf("pak_hash %s is not the hash of the new key (%s, %v)", res.PAKHash, h, err)
	}
	if !strings.Contains(res.Warning, "broker.pak_hash") || !strings.Contains(res.Warning, res.PAKHash) {
		t.Errorf("no warning naming broker.pak_hash and the new hash: %q", res.Warning)
	}

	began := time.Now()
	waitFor(t, "old admin key refused on the other replica", func() bool {
		return b.do(req{method: "GET", path: "/api/v1/agents", pak: old}).status == 401
	})
	if d := time.Since(began); d > 5*time.Second {
		t.Errorf("the other replica refused the old key after %v", d)
	}
	a.expectError(401, "unauthorized", req{method: "GET", path: "/api/v1/agents", pak: old})
	for _, e := range []*env{a, b} {
		e.must(200, req{method: "GET", path: "/api/v1/admin/audit-logs", pak: res.PAK})
	}
	var genHash string
	if err := a.db.Get(&genHash, `SELECT pak_hash FROM generators WHERE name = 'admin-generator'`); err != nil {
		t.Fatal(err)
	}
	if genHash != res.PAKHash {
		t.Errorf("admin-generator holds %s, want the new admin hash", genHash)
	}

	rows := a.auditRows("pak.rotated")
	if len(rows) != 1 || rows[0].ActorType != "admin" {
		t.Fatalf("audit rows of pak.rotated: %+v", rows)
	}
	var details map[string]any
	if err := json.Unmarshal(rows[0].Details, &details); err != nil || details["role"] != "admin" {
		t.Errorf("audit details %s (%v)", rows[0].Details, err)
	}
}
