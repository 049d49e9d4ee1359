package agent_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/cli"
	"github.com/brokkr/brokkr/cli/cmdutil"
	cliconfig "github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/syncbuf"
	"github.com/brokkr/brokkr/server/servertest"
)

// brokkrctl runs brokkrctl args as the broker's admin in the background until the test ends,
// and returns its standard output; the command must end with exit 0 when cancelled.
func brokkrctl(t *testing.T, b *servertest.Broker, args ...string) *syncbuf.Buffer {
	t.Helper()
	ios, _, _, _ := iostreams.Test()
	out, errOut := &syncbuf.Buffer{}, &syncbuf.Buffer{}
	ios.Out, ios.ErrOut = out, errOut
	f := cmdutil.NewFactory("test", ios)
	vars := map[string]string{cliconfig.EnvConfig: filepath.Join(t.TempDir(), "config.yaml"),
		cliconfig.EnvBrokerURL: b.URL, cliconfig.EnvPAK: b.AdminPAK}
	f.Getenv = func(k string) string { return vars[k] }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan cmdutil.ExitCode, 1)
	go func() { done <- cli.Run(ctx, f, args) }()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("brokkrctl %s: exit %d; stderr:\n%s", strings.Join(args, " "), code, errOut)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("brokkrctl %s did not stop", strings.Join(args, " "))
		}
	})
	return out
}

// TestPodLogsEndToEnd: a stack's Deployments whose pod templates opt in to log streaming
// (through the agent's own Deployment, or with the stack's id on the template) are applied
// by a real agent; the canned output of their pods reaches the broker's log history and a
// running `brokkrctl stack logs --follow` within seconds of the pods running. The pods of a
// Deployment that did not opt in are not streamed.
func TestPodLogsEndToEnd(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "logs-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, true)
	ns := env.Namespace(t)
	stack := b.CreateStack(t, "web", a.ID)

	follow := brokkrctl(t, b, "stack", "logs", "web", "--follow")
	eventually(t, 10*time.Second, "brokkrctl to subscribe", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		return err == nil && c.LiveSubscribers == 1
	})
	r := startAgent(t, b, a, cluster, env, nil)
	eventually(t, 10*time.Second, "the agent's channel", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		return err == nil && c.ConnectedAgents == 1
	})

	deployment := func(name, podAnnotations string) string {
		return fmt.Sprintf(`---
apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s, namespace: %[2]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: %[1]s}}
  template:
    metadata:
      labels: {app: %[1]s}
      annotations: {%[3]s}
    spec:
      containers: [{name: main, image: nginx:1.27}]
`, name, ns, podAnnotations)
	}
	manifest := deployment("web", `brokkr.io/stream-logs: "true"`) +
		deployment("api", fmt.Sprintf(`brokkr.io/stream-logs: "true", k8s.brokkr.io/stack: %q`, stack.ID)) +
		deployment("quiet", "")
	b.Post(t, stack.ID, manifest, false)

	running := map[string]time.Time{} // app → when its pod was seen running
	pods := map[string]string{}       // app → pod
	eventually(t, time.Minute, "the pods to run", func() bool {
		list, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list.Items {
			app := p.Labels["app"]
			if _, seen := running[app]; !seen && p.Status.Phase == corev1.PodRunning {
				running[app], pods[app] = time.Now(), p.Name
			}
		}
		return len(running) == 3
	})

	want := map[string]string{} // "pod/container: line" of each streamed pod's first line
	for _, app := range []string{"web", "api"} {
		want[app] = fmt.Sprintf("%s/%s/main: %s", ns, pods[app], kubetest.FakeContainerLog[0])
	}
	stored := func() []client.AgentPodLog {
		h, err := b.Admin.Stacks().Logs(ctx, stack.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		return h.Lines
	}
	eventually(t, 30*time.Second, "the lines in the broker's history", func() bool {
		n := 0
		for _, l := range stored() {
			if l.Pod == pods["web"] || l.Pod == pods["api"] {
				n++
			}
		}
		return n == 2*len(kubetest.FakeContainerLog)
	})
	for _, app := range []string{"web", "api"} {
		took := time.Since(running[app])
		t.Logf("%s: lines stored %s after its pod was seen running", app, took.Round(time.Millisecond))
		if took > 10*time.Second {
			t.Errorf("%s: lines took %s", app, took)
		}
	}
	for _, l := range stored() {
		if l.AgentID != a.ID || l.StackID != stack.ID || l.Namespace != ns || l.Container != "main" || l.Pod == pods["quiet"] {
			t.Errorf("stored line %+v", l)
		}
	}
	eventually(t, 10*time.Second, "brokkrctl stack logs --follow to print them", func() bool {
		out := follow.String()
		return strings.Contains(out, want["web"]) && strings.Contains(out, want["api"])
	})
	if out := follow.String(); strings.Contains(out, pods["quiet"]) {
		t.Errorf("the pod that did not opt in was streamed:\n%s", out)
	}

	_, metrics := get(t, r.health+"/metrics")
	for _, m := range []string{"brokkr_agent_pod_log_lines_sent_total 4", "brokkr_agent_pod_log_followers 2",
		`brokkr_agent_pod_log_lines_dropped_total{reason="rate_limit"} 0`} {
		if !strings.Contains(metrics, m) {
			t.Errorf("metrics lack %q", m)
		}
	}
}
