package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/syncbuf"
)

var binaries struct {
	sync.Once
	dir string
	err error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binaries.dir != "" {
		_ = os.RemoveAll(binaries.dir)
	}
	os.Exit(code)
}

// needAssets skips the test without the living cluster's binaries (fails it under CI=true).
func needAssets(t *testing.T) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") != "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run `make test-assets` (CI must run the demo test)")
	}
	t.Skip("no living cluster: set KUBEBUILDER_ASSETS=$(make -s print-test-assets) after `make test-assets`")
}

// buildAll builds the three programs and the demo once per test binary, into one directory.
func buildAll(t *testing.T) string {
	t.Helper()
	binaries.Do(func() {
		if binaries.dir, binaries.err = os.MkdirTemp("", "brokkr-demo-bin-"); binaries.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", binaries.dir+string(os.PathSeparator),
			"github.com/brokkr/brokkr/cmd/brokkr-broker", "github.com/brokkr/brokkr/cmd/brokkr-agent",
			"github.com/brokkr/brokkr/cmd/brokkrctl", "github.com/brokkr/brokkr/agent/internal/demo").CombinedOutput()
		if err != nil {
			binaries.err = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	if binaries.err != nil {
		t.Fatal(binaries.err)
	}
	return binaries.dir
}

// markProcesses gives every process the test starts from now on (and their children) an
// environment variable of its own, and returns it.
func markProcesses(t *testing.T) string {
	t.Helper()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	mark := "BROKKR_DEMO_TEST_MARK=" + hex.EncodeToString(b)
	k, v, _ := strings.Cut(mark, "=")
	t.Setenv(k, v)
	return mark
}

// marked lists the processes, other than the test's own, whose environment holds mark.
func marked(t *testing.T, mark string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, e := range entries {
		pid := e.Name()
		if pid == fmt.Sprint(os.Getpid()) || strings.Trim(pid, "0123456789") != "" {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", pid, "environ"))
		if err != nil || !bytes.Contains(append(env, 0), []byte(mark+"\x00")) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join("/proc", pid, "cmdline"))
		found = append(found, pid+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
	}
	return found
}

var exportRE = regexp.MustCompile(`export BROKKR_BROKER_URL=(\S+) BROKKR_PAK=(\S+)`)

// TestDemoUntilReady runs the demo with -until-ready and checks, through the broker's API,
// the clusters and the brokkrctl commands it prints, that the stacks were applied exactly on
// the agents their labels choose and run there; then that the demo left nothing behind.
func TestDemoUntilReady(t *testing.T) {
	needAssets(t)
	bin := buildAll(t)
	mark := markProcesses(t)
	out := &syncbuf.Buffer{}
	var dirs []string
	verified := false
	opts := options{binDir: bin, listen: "127.0.0.1:0", untilReady: true, timeout: 4 * time.Minute, out: out,
		onReady: func(ctx context.Context, f *fleet) error {
			dirs = append(dirs, f.dir)
			for _, m := range f.members {
				dirs = append(dirs, m.cluster.Dir())
			}
			checkFleet(ctx, t, f, bin, out.String())
			checkRollout(ctx, t, f, bin, out.String())
			verified = true
			return nil
		}}
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	if err := run(ctx, opts); err != nil {
		t.Fatalf("demo: %v\n%s", err, out)
	}
	if !verified {
		t.Fatalf("the demo ended without being ready:\n%s", out)
	}
	if left := marked(t, mark); len(left) > 0 {
		t.Errorf("processes left running after the demo:\n%s", strings.Join(left, "\n"))
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", d, err)
		}
	}
	if !strings.Contains(out.String(), "demo stopped") {
		t.Errorf("no word of the teardown:\n%s", out)
	}
}

// checkFleet checks the running demo from the outside, with the URL and PAK it printed.
func checkFleet(ctx context.Context, t *testing.T, f *fleet, bin, printed string) {
	t.Helper()
	m := exportRE.FindStringSubmatch(printed)
	if m == nil {
		t.Fatalf("the demo printed no brokkrctl settings:\n%s", printed)
	}
	url, pak := m[1], m[2]
	c, err := client.New(url, client.WithPAK(pak))
	if err != nil {
		t.Fatal(err)
	}
	agents, err := c.Agents().List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stacks, err := c.Stacks().List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(agents) != 3 || len(stacks) != 2 {
		t.Fatalf("%d agents and %d stacks, want 3 and 2", len(agents), len(stacks))
	}
	// Which stack each agent must have applied: hello-web everywhere, billing on prod only.
	want := map[string][]string{"dev": {"hello-web"}, "staging": {"hello-web"}, "prod": {"hello-web", "billing"}}
	for _, a := range agents {
		labels, err := c.Agents().Labels(ctx, a.ID)
		if err != nil || len(labels) != 1 || labels[0].Label != "env="+a.Name {
			t.Errorf("agent %s: labels %+v (%v), want env=%s", a.Name, labels, err, a.Name)
		}
		events, err := c.Agents().Events(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range stacks {
			latest, err := c.Stacks().LatestDeploymentObject(ctx, s.ID, false)
			if err != nil || latest == nil {
				t.Fatalf("stack %s: latest object %v", s.Name, err)
			}
			var got []string
			for _, ev := range events {
				if ev.DeploymentObjectID == latest.ID {
					got = append(got, ev.Status)
				}
			}
			targeted := slices.Contains(want[a.Name], s.Name)
			switch {
			case targeted && (len(got) == 0 || got[0] != agent.EventSuccess):
				t.Errorf("stack %s on agent %s: events %v, want %s", s.Name, a.Name, got, agent.EventSuccess)
			case !targeted && len(got) > 0:
				t.Errorf("stack %s reached agent %s, which its labels do not choose: events %v", s.Name, a.Name, got)
			}
		}
	}
	// The pods run in the clusters, and only where their stack goes.
	for _, mem := range f.members {
		for _, s := range f.stacks {
			pods, err := mem.cluster.Kube.CoreV1().Pods(s.namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=" + s.deployment})
			if err != nil {
				t.Fatal(err)
			}
			running := 0
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodRunning {
					running++
				}
			}
			if s.targets(mem.env) && running != s.replicas {
				t.Errorf("%s in cluster %s: %d pods running, want %d", s.name, mem.env, running, s.replicas)
			}
			if _, err := mem.cluster.Kube.CoreV1().Namespaces().Get(ctx, s.namespace, metav1.GetOptions{}); !s.targets(mem.env) && !apierrors.IsNotFound(err) {
				t.Errorf("namespace %s in cluster %s, which the stack does not target (%v)", s.namespace, mem.env, err)
			}
		}
	}
	// The printed brokkrctl settings work.
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "brokkrctl"), "fleet", "list", "-o", "json")
	cmd.Env = append(os.Environ(), "BROKKR_BROKER_URL="+url, "BROKKR_PAK="+pak, "HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("brokkrctl fleet list: %v", err)
	}
	var fleetList []client.FleetAgentRecord
	if err := json.Unmarshal(stdout, &fleetList); err != nil || len(fleetList) != 3 {
		t.Fatalf("brokkrctl fleet list: %v\n%s", err, stdout)
	}
	for _, r := range fleetList {
		if r.Status != "ACTIVE" || r.PendingObjectCount != 0 {
			t.Errorf("fleet record %+v: want an ACTIVE agent with nothing pending", r)
		}
	}
}

// TestDemoInterrupt runs the demo program, waits until its three agents run and interrupts
// it as Ctrl-C would: it must stop everything and remove its files.
func TestDemoInterrupt(t *testing.T) {
	needAssets(t)
	bin := buildAll(t)
	mark := markProcesses(t)
	cmd := exec.Command(filepath.Join(bin, "demo"), "-bin", bin, "-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncbuf.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 100)
	var all syncbuf.Buffer
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			_, _ = io.WriteString(&all, sc.Text()+"\n")
			lines <- sc.Text()
		}
	}()
	dirRE := regexp.MustCompile(`^brokkr demo in (\S+)`)
	kubeconfigRE := regexp.MustCompile(`--kubeconfig (\S+)/kubeconfig`)
	var dirs []string
	started := 0
	deadline := time.After(4 * time.Minute)
	for started < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("the demo ended before its agents ran: %v\n%s\n%s", cmd.Wait(), all.String(), stderr)
			}
			if m := dirRE.FindStringSubmatch(l); m != nil {
				dirs = append(dirs, m[1])
			}
			if m := kubeconfigRE.FindStringSubmatch(l); m != nil {
				dirs = append(dirs, m[1])
			}
			if strings.HasPrefix(l, "agent ") && strings.Contains(l, " started") {
				started++
			}
		case <-deadline:
			_ = cmd.Process.Kill()
			t.Fatalf("the agents did not start:\n%s", all.String())
		}
	}
	if len(dirs) != 4 {
		t.Fatalf("directories %v: want the demo's and three clusters'", dirs)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() {
		for range lines {
		}
		exited <- cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("the interrupted demo: %v\n%s\n%s", err, all.String(), stderr)
		}
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatalf("the demo did not stop within 2 minutes of SIGINT:\n%s", all.String())
	}
	if !strings.Contains(all.String(), "demo stopped") {
		t.Errorf("no word of the teardown:\n%s", all.String())
	}
	if left := marked(t, mark); len(left) > 0 {
		t.Errorf("processes left running after the demo:\n%s", strings.Join(left, "\n"))
	}
	for _, d := range dirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left behind (%v)", d, err)
		}
	}
}
