package cli_test

import (
	"bytes"
	"context"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is a real broker on its own database plus a configuration directory for brokkrctl.
type env struct {
	t      *testing.T
	url    string
	admin  string
	api    *client.Client
	cfg    string
	names  map[string]string
	offset time.Duration
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e, _ := newEnvWith(t, nil)
	return e
}

// newEnvWith is newEnv with the broker's handler wrapped by wrap (when set); it also returns
// the broker's database.
func newEnvWith(t *testing.T, wrap func(http.Handler) http.Handler) (*env, *db.DB) {
	t.Helper()
	b := servertest.New(t, servertest.Options{Wrap: wrap, MaxConnections: 5})
	return &env{t: t, url: b.URL, admin: b.AdminPAK, api: b.Admin,
		cfg: filepath.Join(t.TempDir(), "brokkr", "config.yaml"), names: map[string]string{}, offset: 2 * time.Hour}, b.Store
}

// name makes golden files show label instead of id.
func (e *env) name(id uuid.UUID, label string) { e.names[id.String()] = "<" + label + ">" }

// result is one brokkrctl invocation.
type result struct {
	stdout, stderr string
	code           cmdutil.ExitCode
}

// run is brokkrctl args with the broker and admin PAK in the environment.
func (e *env) run(tty bool, args ...string) result {
	return e.runWith(runOpts{tty: tty, env: map[string]string{config.EnvBrokerURL: e.url, config.EnvPAK: e.admin}}, args...)
}

type runOpts struct {
	tty   bool
	env   map[string]string
	stdin string
	ctx   context.Context
}

func (e *env) runWith(o runOpts, args ...string) result {
	e.t.Helper()
	ios, in, out, errOut := iostreams.Test()
	in.WriteString(o.stdin)
	ios.SetStdoutTTY(o.tty)
	ios.SetStdinTTY(o.tty)
	ios.SetStderrTTY(o.tty)
	ios.SetTerminalWidth(200)
	f := cmdutil.NewFactory("test", ios)
	f.Getenv = func(k string) string {
		if k == config.EnvConfig {
			return e.cfg
		}
		return o.env[k]
	}
	f.Now = func() time.Time { return time.Now().Add(e.offset) }
	ctx := o.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	code := cli.Run(ctx, f, args)
	return result{stdout: out.String(), stderr: errOut.String(), code: code}
}

var (
	uuidRE       = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	timeRE       = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`)
	paddedUUIDRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}  +`)
	msRE         = regexp.MustCompile(`in \d+ ms`)
	maskRE       = regexp.MustCompile(`brokkr_BR[0-9A-Za-z]+_\*\*\*\*`)
	verRE        = regexp.MustCompile(`brokkrctl [^\n]* go1\.[^\n]*`)
)

// normalize replaces ids with their labels and timestamps with <time>.
func (e *env) normalize(s string) string {
	label := func(id string) string {
		if n, ok := e.names[id]; ok {
			return n
		}
		return "<uuid>"
	}
	// In aligned tables keep the column width: pad the label to the id's length.
	s = paddedUUIDRE.ReplaceAllStringFunc(s, func(m string) string {
		l := label(m[:36])
		return l + strings.Repeat(" ", len(m)-len(l))
	})
	s = uuidRE.ReplaceAllStringFunc(s, label)
	s = strings.ReplaceAll(s, e.url, "<broker>")
	s = msRE.ReplaceAllString(s, "in <n> ms")
	s = maskRE.ReplaceAllString(s, "brokkr_<short>_****")
	s = verRE.ReplaceAllString(s, "brokkrctl <version>")
	return timeRE.ReplaceAllString(s, "<time>")
}

// golden compares a result with testdata/<name>.golden (rewritten with -update).
func (e *env) golden(name string, r result) {
	e.t.Helper()
	got := e.normalize("exit: " + strconv.Itoa(int(r.code)) + "\n-- stdout --\n" + r.stdout + "-- stderr --\n" + r.stderr)
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			e.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("%v (run go test ./cli/ -update to create it)", err)
	}
	if !bytes.Equal(want, []byte(got)) {
		e.t.Errorf("%s differs from the golden file (go test ./cli/ -update rewrites it)\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// agent creates an agent and returns it with its PAK.
func (e *env) agent(name string) (client.Agent, string) {
	e.t.Helper()
	res, err := e.api.Agents().Create(context.Background(), client.CreateAgentRequest{Name: name, ClusterName: "cluster-" + name})
	if err != nil {
		e.t.Fatal(err)
	}
	e.name(res.Agent.ID, "agent-"+name)
	return res.Agent, res.InitialPAK
}
