package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/server/servertest"
)

// TestPgbenchScript checks the script made from the store's own statements: the agent's id a
// variable of its own, the other arguments variables defined once, nil arguments NULL, no
// placeholder left, one statement per line end.
func TestPgbenchScript(t *testing.T) {
	agent := uuid.New()
	stmts, err := pollStatements(agent)
	if err != nil {
		t.Fatal(err)
	}
	script, vars, err := pgbenchScript(stmts, agent, "agent_7")
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSuffix(script, ";\n"), ";\n")
	if len(parts) != 2 || !strings.HasPrefix(parts[0], "SELECT") || !strings.HasPrefix(parts[1], "UPDATE agents SET last_heartbeat = now()") {
		t.Fatalf("script:\n%s", script)
	}
	if regexp.MustCompile(`\$[0-9]`).MatchString(script) || strings.Contains(script, agent.String()) {
		t.Errorf("placeholder or literal id left:\n%s", script)
	}
	// target state: the agent's id for its targets, labels, annotations, registrations and
	// events, incremental false; heartbeat: reported and reachable true, latency NULL
	if n := strings.Count(parts[0], ":agent_7"); n != 5 {
		t.Errorf("target state names the agent %d times:\n%s", n, parts[0])
	}
	if !strings.Contains(parts[0], "WHERE NOT :s1a2 OR NOT EXISTS") || !strings.Contains(parts[1], "WHERE id = :agent_7 AND deleted_at IS NULL") ||
		!strings.Contains(parts[1], "CASE WHEN :s2a2 THEN NULL ELSE k8s_api_latency_ms END") {
		t.Errorf("script:\n%s", script)
	}
	want := map[string]string{"s1a2": "false", "s2a2": "true", "s2a3": "true"}
	if len(vars) != len(want) {
		t.Errorf("variables %v, want %v", vars, want)
	}
	for k, v := range want {
		if vars[k] != v {
			t.Errorf("variables %v, want %v", vars, want)
		}
	}

	// the invocation: one script per sampled agent, at most maxPgbenchScripts
	fleet := make([]simAgentID, 150)
	ids := map[string]bool{}
	for i := range fleet {
		fleet[i].ID = uuid.New()
		ids[fleet[i].ID.String()] = true
	}
	run, err := newPgbenchRun(fleet, "/tmp/x", 4, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	args := strings.Join(run.args, " ")
	for _, want := range []string{"--no-vacuum --protocol=prepared --client=4 --jobs=2 --time=15 ", "--define=s2a3=true"} {
		if !strings.Contains(args, want) {
			t.Errorf("arguments lack %q: %s", want, args)
		}
	}
	if run.agents != maxPgbenchScripts || len(run.scripts) != maxPgbenchScripts {
		t.Fatalf("%d agents, %d scripts", run.agents, len(run.scripts))
	}
	seen := map[string]bool{}
	for i := range maxPgbenchScripts {
		file := filepath.Join("/tmp/x", fmt.Sprintf("poll-%03d.sql", i))
		m := regexp.MustCompile(fmt.Sprintf(`--define=agent_%d=(\S+)`, i)).FindStringSubmatch(args)
		if !strings.Contains(args, "--file="+file) || m == nil || !ids[m[1]] || seen[m[1]] {
			t.Fatalf("script %d: %s", i, args)
		}
		seen[m[1]] = true
		if !strings.Contains(run.scripts[file], fmt.Sprintf(":agent_%d ", i)) {
			t.Errorf("script %d does not poll as its agent:\n%s", i, run.scripts[file])
		}
	}
}

// TestPgbenchAgainstTheBrokersDatabase runs the poll's SQL with pgbench against the database
// of a real broker after a load that sends no heartbeat: the heartbeats the agents then show
// are pgbench's, so the statements ran, as the fleet's agents, where the broker keeps them.
func TestPgbenchAgainstTheBrokersDatabase(t *testing.T) {
	if _, err := findPgbench(context.Background()); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%v (pgbench comes with the PostgreSQL server binaries the tests use)", err)
		}
		t.Skip(err)
	}
	b := servertest.Start(t)
	r, err := Run(context.Background(), Config{
		URL: b.URL, AdminPAK: b.AdminPAK, Agents: 3, Interval: 500 * time.Millisecond, Duration: time.Second,
		Conns: 2, Ops: Ops{TargetState: true}, Prefix: "pgb", SetupWorkers: 2, BrokerPID: os.Getpid(),
		DatabaseURL: b.Store.URL(), Pgbench: true, PgbenchDuration: 2 * time.Second, PgbenchClients: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	p := r.Pgbench
	if p == nil || p.Polls == 0 || p.Failed != 0 || p.Agents != 3 || p.Clients != 2 || p.PollsPerS <= 0 ||
		p.LatencyAvgMs <= 0 || p.PostgresCPUS <= 0 || p.PostgresUSPerPoll <= 0 || strings.Contains(p.Command, b.Store.URL()) {
		t.Fatalf("pgbench %+v", p)
	}
	// PostgreSQL's CPU was measured on its postmaster (too little load here to expect ticks)
	if r.Postgres == nil {
		t.Error("PostgreSQL's CPU not measured during the load")
	} else if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", r.Postgres.PID)); err != nil || strings.TrimSpace(string(comm)) != "postgres" {
		t.Errorf("PostgreSQL measured as pid %d (%q, %v)", r.Postgres.PID, comm, err)
	}
	agents, err := b.Admin.Agents().List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	beats := 0
	for _, a := range agents {
		if strings.HasPrefix(a.Name, "pgb-") && a.LastHeartbeat != nil && a.K8sReachable != nil && *a.K8sReachable {
			beats++
		}
	}
	if beats != 3 {
		t.Errorf("%d of 3 agents have pgbench's heartbeat", beats)
	}
}

func TestParsePgbench(t *testing.T) {
	out := `transaction type: multiple scripts
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 2
maximum number of tries: 1
duration: 15 s
number of transactions actually processed: 12345
number of failed transactions: 2 (0.016%)
latency average = 4.767 ms
initial connection time = 9.051 ms
tps = 839.042190 (without initial connection time)
`
	r, err := parsePgbench(out)
	if err != nil || r.Polls != 12345 || r.Failed != 2 || r.LatencyAvgMs != 4.767 || r.PollsPerS != 839 {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := parsePgbench("pgbench: error: connection refused"); err == nil {
		t.Error("no summary accepted")
	}
}
