// Package e2e runs brokkrctl end to end: the real brokkrctl and brokkr-broker binaries, a
// broker on its own PostgreSQL database, and testscript scripts in testdata/*.txtar.
package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/internal/syncbuf"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	sweepStaleBinDirs()
	dir, err := os.MkdirTemp("", binDirPrefix)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator), "./cmd/brokkrctl", "./cmd/brokkr-broker")
	build.Dir = ".."
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: build binaries: %v\n", err)
		_ = os.RemoveAll(dir)
		os.Exit(1)
	}
	// dbtest.Main exits the process; the binaries are removed by the tests' cleanup, and
	// directories left by interrupted runs are swept by the next run.
	dbtest.Main(m)
}

const binDirPrefix = "brokkr-e2e-bin-"

// sweepStaleBinDirs removes binary directories of earlier runs older than an hour.
func sweepStaleBinDirs() {
	matches, _ := filepath.Glob(filepath.Join(os.TempDir(), binDirPrefix+"*"))
	for _, m := range matches {
		if st, err := os.Stat(m); err == nil && time.Since(st.ModTime()) > time.Hour {
			_ = os.RemoveAll(m)
		}
	}
}

// broker is a running brokkr-broker process.
type broker struct {
	url      string
	adminPAK string
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// startBroker runs brokkr-broker serve on its own database with a known admin PAK and waits
// until it is ready.
func startBroker(t *testing.T) broker {
	t.Helper()
	adminKey, adminHash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "brokkr-broker"), "serve",
		"--listen", "127.0.0.1:0", "--database-url", dbtest.URL(t), "--log-level", "warn")
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "BROKKR__BROKER__PAK_HASH="+adminHash, "HOME="+home,
		"BROKKR__BROKER__ADMIN_KEY_FILE="+filepath.Join(home, "admin-pak"))
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncbuf.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		cancel()
		<-done
	})
	urlCh := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urlCh <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	var base string
	select {
	case base = <-urlCh:
	case <-done:
		t.Fatalf("brokkr-broker exited before listening:\n%s", logs.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("brokkr-broker did not start listening:\n%s", logs.String())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get(base + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("brokkr-broker not ready: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return broker{url: base, adminPAK: adminKey}
}

func TestScripts(t *testing.T) {
	t.Cleanup(func() { _ = os.RemoveAll(binDir) })
	b := startBroker(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("HOME", filepath.Join(env.WorkDir, ".home"))
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(env.WorkDir, ".home", ".config"))
			env.Setenv("BROKKR_BROKER_URL", b.url)
			env.Setenv("BROKKR_PAK", b.adminPAK)
			env.Setenv("NO_COLOR", "1")
			// A prefix unique to the script keeps names apart when scripts run in parallel.
			env.Setenv("RUN", strings.ReplaceAll(uuid.NewString()[:8], "-", ""))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"jsonget":  cmdJSONGet,
			"jsoneq":   cmdJSONEq,
			"exitcode": cmdExitCode,
			"claim":    cmdClaim,
			"report":   cmdReport,
		},
	})
}

// jsonPath walks a dotted path ("agent.id", "items.0.name") through a decoded JSON value.
func jsonPath(v any, p string) (any, error) {
	if p == "" || p == "." {
		return v, nil
	}
	for _, seg := range strings.Split(strings.TrimPrefix(p, "."), ".") {
		switch t := v.(type) {
		case map[string]any:
			next, ok := t[seg]
			if !ok {
				return nil, fmt.Errorf("no field %q", seg)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(t) {
				return nil, fmt.Errorf("no index %q in an array of %d", seg, len(t))
			}
			v = t[i]
		default:
			return nil, fmt.Errorf("cannot take %q of %T", seg, v)
		}
	}
	return v, nil
}

// lastJSON decodes the stdout of the previous command.
func lastJSON(ts *testscript.TestScript) any {
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile("stdout")), &v); err != nil {
		ts.Fatalf("stdout is not JSON: %v", err)
	}
	return v
}

func scalar(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// cmdJSONGet: jsonget VAR PATH — set VAR to the value at PATH in the last stdout.
func cmdJSONGet(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: jsonget VAR PATH")
	}
	v, err := jsonPath(lastJSON(ts), args[1])
	if err != nil {
		ts.Fatalf("jsonget %s: %v", args[1], err)
	}
	ts.Setenv(args[0], scalar(v))
}

// cmdJSONEq: [!] jsoneq PATH VALUE — the value at PATH in the last stdout is (not) VALUE;
// "len(PATH)" compares the length of an array.
func cmdJSONEq(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: jsoneq PATH VALUE")
	}
	p := args[0]
	var got string
	if inner, ok := strings.CutPrefix(p, "len("); ok {
		v, err := jsonPath(lastJSON(ts), strings.TrimSuffix(inner, ")"))
		if err != nil {
			ts.Fatalf("jsoneq %s: %v", p, err)
		}
		arr, ok := v.([]any)
		if !ok {
			ts.Fatalf("jsoneq %s: not an array", p)
		}
		got = strconv.Itoa(len(arr))
	} else {
		v, err := jsonPath(lastJSON(ts), p)
		if err != nil {
			ts.Fatalf("jsoneq %s: %v", p, err)
		}
		got = scalar(v)
	}
	if (got == args[1]) == neg {
		ts.Fatalf("jsoneq %s: got %q, want %s%q", p, got, map[bool]string{true: "not ", false: ""}[neg], args[1])
	}
}

// cmdExitCode: exitcode N PROG ARGS... — run PROG and require exit status N.
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode N PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		got = exitErr.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// cmdClaim: claim WORK_ORDER_ID — claim a work order as the agent of $AGENT_ID with
// $AGENT_PAK, as a brokkr agent does, and print the claimed order as JSON.
func cmdClaim(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 1 {
		ts.Fatalf("usage: claim WORK_ORDER_ID")
	}
	c, err := client.New(ts.Getenv("BROKKR_BROKER_URL"), client.WithPAK(ts.Getenv("AGENT_PAK")))
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := c.WorkOrders().Claim(ctx, uuid.MustParse(args[0]), uuid.MustParse(ts.Getenv("AGENT_ID")))
	if neg {
		if err == nil {
			ts.Fatalf("claim succeeded unexpectedly")
		}
		return
	}
	ts.Check(err)
	b, err := json.Marshal(w)
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "%s\n", b)
}

// cmdReport: report OBJECT_ID STATUS [MESSAGE] — report the outcome of applying a deployment
// object as the agent of $AGENT_ID with $AGENT_PAK, as a brokkr agent does.
func cmdReport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 || len(args) > 3 {
		ts.Fatalf("usage: report OBJECT_ID STATUS [MESSAGE]")
	}
	c, err := client.New(ts.Getenv("BROKKR_BROKER_URL"), client.WithPAK(ts.Getenv("AGENT_PAK")))
	ts.Check(err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ev := client.NewAgentEvent{DeploymentObjectID: uuid.MustParse(args[0]), EventType: "DEPLOY", Status: args[1]}
	if len(args) == 3 {
		ev.Message = &args[2]
	}
	_, err = c.Agents().CreateEvent(ctx, uuid.MustParse(ts.Getenv("AGENT_ID")), ev)
	ts.Check(err)
}
