package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/brokkr/brokkr/internal/pgserver"
)

// maxPgbenchScripts bounds the agents a pgbench run polls as: one script per agent (pgbench
// takes at most 128), each agent's id a variable of its own.
const maxPgbenchScripts = 100

// PgBenchReport is PostgreSQL running the SQL of one poll (target state in full and the
// heartbeat, prepared, as the broker runs them without caching) from pgbench, after the load:
// its CPU per poll (all its processes) is what the broker's CPU per poll compares with.
type PgBenchReport struct {
	Command           string  `json:"command"` // the database URL left out
	Clients           int     `json:"clients"`
	DurationS         float64 `json:"duration_s"`
	Agents            int     `json:"agents"` // fleet agents polled as, at random
	Polls             uint64  `json:"polls"`  // pgbench transactions
	Failed            uint64  `json:"failed"`
	PollsPerS         float64 `json:"polls_per_s"`
	LatencyAvgMs      float64 `json:"latency_avg_ms"`
	PostgresCPUS      float64 `json:"postgres_cpu_s"`
	PostgresUSPerPoll float64 `json:"postgres_us_per_poll"`
}

// findPgbench looks for pgbench next to the machine's PostgreSQL server programs, then on
// PATH, then in pg_config's bindir.
func findPgbench(ctx context.Context) (string, error) {
	if dir, err := pgserver.FindBinDir(); err == nil {
		if p := filepath.Join(dir, "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	if out, err := exec.CommandContext(ctx, "pg_config", "--bindir").Output(); err == nil {
		if p := filepath.Join(strings.TrimSpace(string(out)), "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("pgbench not found next to PostgreSQL's programs, on PATH or in pg_config --bindir " +
		"(Debian: apt-get install postgresql-client or postgresql-contrib)")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0
}

// postmaster returns the pid of the PostgreSQL server behind url: the parent of a backend.
func postmaster(ctx context.Context, url string) (int, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("database: %w", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var backend int
	if err := conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0, fmt.Errorf("database: %w", err)
	}
	f, err := statFields(backend)
	if err != nil {
		return 0, fmt.Errorf("PostgreSQL is not on this machine (or not visible in /proc): %w", err)
	}
	return strconv.Atoi(f[1])
}

// pgbenchRun is one pgbench invocation: its arguments and the script files they name.
type pgbenchRun struct {
	args    []string // without the database URL, which comes last
	scripts map[string]string
	agents  int
}

// newPgbenchRun builds the pgbench invocation for the fleet: one script per agent of a random
// sample, all with the statements of pollStatements, prepared, for d with clients clients.
func newPgbenchRun(agents []simAgentID, dir string, clients int, d time.Duration) (*pgbenchRun, error) {
	if len(agents) == 0 || clients < 1 {
		return nil, errors.New("pgbench needs agents and clients")
	}
	sample := slices.Clone(agents)
	rand.Shuffle(len(sample), func(i, j int) { sample[i], sample[j] = sample[j], sample[i] })
	sample = sample[:min(len(sample), maxPgbenchScripts)]
	marker := uuid.New()
	stmts, err := pollStatements(marker)
	if err != nil {
		return nil, err
	}
	r := &pgbenchRun{scripts: map[string]string{}, agents: len(sample),
		args: []string{"--no-vacuum", "--protocol=prepared", "--client=" + strconv.Itoa(clients),
			"--jobs=" + strconv.Itoa(min(clients, 2)), "--time=" + strconv.Itoa(max(int(d.Round(time.Second).Seconds()), 1))}}
	var vars map[string]string
	for i, a := range sample {
		name := fmt.Sprintf("agent_%d", i)
		script, v, err := pgbenchScript(stmts, marker, name)
		if err != nil {
			return nil, err
		}
		vars = v
		file := filepath.Join(dir, fmt.Sprintf("poll-%03d.sql", i))
		r.scripts[file] = script
		r.args = append(r.args, "--file="+file, "--define="+name+"="+a.ID.String())
	}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		r.args = append(r.args, "--define="+k+"="+vars[k])
	}
	return r, nil
}

// runPgbench runs pgbench against the database of url with the poll scripts and measures
// PostgreSQL's CPU (the server's whole process tree) meanwhile.
func runPgbench(ctx context.Context, cfg Config, agents []simAgentID, pm int) (*PgBenchReport, error) {
	bin, err := findPgbench(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fleetsim-pgbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	run, err := newPgbenchRun(agents, dir, cfg.PgbenchClients, cfg.PgbenchDuration)
	if err != nil {
		return nil, err
	}
	for file, script := range run.scripts {
		if err := os.WriteFile(file, []byte(script), 0o644); err != nil {
			return nil, err
		}
	}
	before, err := treeCPU(pm)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, append(slices.Clone(run.args), cfg.DatabaseURL)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	after, cpuErr := treeCPU(pm)
	if err != nil {
		return nil, fmt.Errorf("pgbench: %w: %s", err, lastLines(stderr.String(), 5))
	}
	if cpuErr != nil {
		return nil, cpuErr
	}
	r, err := parsePgbench(stdout.String())
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, lastLines(stdout.String()+stderr.String(), 10))
	}
	r.Command = "pgbench " + strings.Join(run.args[:5], " ") + fmt.Sprintf(" (%d scripts, one per agent)", run.agents)
	r.Clients, r.Agents, r.DurationS = cfg.PgbenchClients, run.agents, round1(took.Seconds())
	r.PostgresCPUS = round3(after - before)
	if r.Polls > 0 {
		r.PostgresUSPerPoll = round1((after - before) * 1e6 / float64(r.Polls))
	}
	return r, nil
}

var (
	pgbenchProcessed = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	pgbenchFailed    = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
	pgbenchLatency   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	pgbenchTPS       = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
)

// parsePgbench reads pgbench's summary.
func parsePgbench(out string) (*PgBenchReport, error) {
	m := pgbenchProcessed.FindStringSubmatch(out)
	if m == nil {
		return nil, errors.New("pgbench printed no transaction count")
	}
	r := &PgBenchReport{}
	r.Polls, _ = strconv.ParseUint(m[1], 10, 64)
	if m := pgbenchFailed.FindStringSubmatch(out); m != nil {
		r.Failed, _ = strconv.ParseUint(m[1], 10, 64)
	}
	if m := pgbenchLatency.FindStringSubmatch(out); m != nil {
		r.LatencyAvgMs, _ = strconv.ParseFloat(m[1], 64)
	}
	if m := pgbenchTPS.FindStringSubmatch(out); m != nil {
		r.PollsPerS, _ = strconv.ParseFloat(m[1], 64)
		r.PollsPerS = round1(r.PollsPerS)
	}
	return r, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}
