package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server"
)

func TestBootstrapOnEmptyDatabase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A second database, migrated but never bootstrapped.
	store := openFreshDB(t)
	// Agents that exist before the system generator is provisioned get registered with it.
	pre, err := db.CreateAgent(ctx, store, "pre-existing", "c1", "")
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.cfg
	cfg.Broker.PAKHash = ""
	keyFile := filepath.Join(t.TempDir(), "admin-pak")
	cfg.Broker.AdminKeyFile = keyFile
	srv, err := server.New(server.Options{Config: cfg, DB: store})
	if err != nil {
		t.Fatal(err)
	}
	minted, err := srv.Bootstrap(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(minted, "_") != 2 || !strings.HasPrefix(minted, "brokkr_BR") {
		t.Fatalf("minted %q", minted)
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	b, _ := os.ReadFile(keyFile)
	if strings.TrimSpace(string(b)) != minted {
		t.Fatalf("key file holds %q", b)
	}
	hash, _ := pak.Hash(minted)
	id, err := db.ResolvePAKHash(ctx, store, hash)
	if err != nil || !id.Admin {
		t.Fatalf("minted key resolves to %+v, %v", id, err)
	}
	var gens []struct {
		Name     string  `db:"name"`
		IsSystem bool    `db:"is_system"`
		PAKHash  *string `db:"pak_hash"`
	}
	if err := store.Select(&gens, `SELECT name, is_system, pak_hash FROM generators ORDER BY name`); err != nil {
		t.Fatal(err)
	}
	if len(gens) != 2 || gens[0].Name != "__system__" || !gens[0].IsSystem || gens[0].PAKHash != nil ||
		gens[1].Name != "admin-generator" || gens[1].PAKHash == nil || *gens[1].PAKHash != hash {
		t.Fatalf("generators after bootstrap: %+v", gens)
	}
	regs, err := db.ListRegistrations(ctx, store, pre.ID)
	if err != nil || len(regs) != 1 {
		t.Fatalf("pre-existing agent registrations: %+v %v", regs, err)
	}

	// A second start keeps the key; a configured hash replaces it.
	srv2, _ := server.New(server.Options{Config: cfg, DB: store})
	if again, err := srv2.Bootstrap(ctx); err != nil || again != "" {
		t.Fatalf("second start minted %q, %v", again, err)
	}
	if id, err := db.ResolvePAKHash(ctx, store, hash); err != nil || !id.Admin {
		t.Fatalf("key lost on restart: %+v %v", id, err)
	}
	_, newHash, _ := pak.Generate(pak.DefaultSettings())
	cfg.Broker.PAKHash = newHash
	srv3, _ := server.New(server.Options{Config: cfg, DB: store})
	if _, err := srv3.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ResolvePAKHash(ctx, store, hash); err == nil {
		t.Fatal("old admin key still valid after configuring a new hash")
	}
	if id, err := db.ResolvePAKHash(ctx, store, newHash); err != nil || !id.Admin {
		t.Fatalf("configured key: %+v %v", id, err)
	}
}

func TestBootstrapRejectsMalformedHash(t *testing.T) {
	e := newEnv(t)
	cfg := e.cfg
	cfg.Broker.PAKHash = "not-a-hash"
	srv, err := server.New(server.Options{Config: cfg, DB: e.db})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := srv.Bootstrap(context.Background()); err == nil || !strings.Contains(err.Error(), "pak_hash") {
		t.Fatalf("bootstrap with malformed hash: %v", err)
	}
}
