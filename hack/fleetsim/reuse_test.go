package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/brokkr/brokkr/server/servertest"
)

// TestReuse runs three times on one fleet: the second run takes the first run's agents from
// the fleet file without a request each and creates only the missing ones; the third, its
// file lost, gives the agents new keys instead of creating them again.
func TestReuse(t *testing.T) {
	b := servertest.Start(t)
	file := filepath.Join(t.TempDir(), "fleet", "reuse.json")
	cfg := Config{
		URL: b.URL, AdminPAK: b.AdminPAK, Agents: 4, Interval: 200 * time.Millisecond, Duration: 500 * time.Millisecond,
		Conns: 2, Prefix: "reuse", Reuse: true, FleetFile: file, SetupWorkers: 2,
	}
	run := func(agents int) Report {
		t.Helper()
		cfg.Agents = agents
		r, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if r.Errors != 0 || r.Polls == 0 {
			t.Fatalf("%d agents: errors %d, %d polls: %+v", agents, r.Errors, r.Polls, r.Ops)
		}
		return r
	}
	if r := run(4); r.Created != 4 || r.FromFile != 0 || r.Rotated != 0 {
		t.Fatalf("first run: %d created, %d from the file, %d rotated", r.Created, r.FromFile, r.Rotated)
	}
	st, err := os.Stat(file)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("fleet file: %v %v", st, err)
	}
	if r := run(6); r.Created != 2 || r.FromFile != 4 || r.Rotated != 0 {
		t.Fatalf("second run: %d created, %d from the file, %d rotated", r.Created, r.FromFile, r.Rotated)
	}
	// a smaller run keeps the file's other agents for the next
	if r := run(3); r.FromFile != 3 || r.Created != 0 {
		t.Fatalf("third run: %d created, %d from the file", r.Created, r.FromFile)
	}
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := run(6); r.Created != 0 || r.FromFile != 0 || r.Rotated != 6 {
		t.Fatalf("run without a usable file: %d created, %d from the file, %d rotated", r.Created, r.FromFile, r.Rotated)
	}
	if r := run(6); r.FromFile != 6 {
		t.Fatalf("the file was not written again: %d from it", r.FromFile)
	}
	agents, err := b.Admin.Agents().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 6 {
		t.Errorf("%d agents on the broker, want 6", len(agents))
	}
}
