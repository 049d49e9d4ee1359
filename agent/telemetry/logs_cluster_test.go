package telemetry

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
)

// appendLog appends lines stamped ts to kwok's canned container log, which every container
// of the test cluster serves: followed streams receive them as a container's new output.
func appendLog(t *testing.T, env *kubetest.Env, ts time.Time, texts ...string) {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(env.Dir(), "fake-container.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range texts {
		fmt.Fprintf(&b, "%s stdout F %s\n", ts.UTC().Format(time.RFC3339Nano), s)
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// cutter keeps the connections of a rest.Config so that a test can break them all, as an
// apiserver restart or a network failure does.
type cutter struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (c *cutter) wrap(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	var d net.Dialer
	out.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := d.DialContext(ctx, network, addr)
		if err == nil {
			c.mu.Lock()
			c.conns = append(c.conns, conn)
			c.mu.Unlock()
		}
		return conn, err
	}
	return out
}

func (c *cutter) cut() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, conn := range c.conns {
		_ = conn.Close()
	}
	c.conns = nil
}

// logRun is a Logs running against the test cluster, its frames collected, for the pods of
// one namespace.
type logRun struct {
	l     *Logs
	sink  *frameSink
	agent uuid.UUID
	ns    string
}

// startLogs runs Logs for the pods of ns; with watchAll, it watches the whole cluster.
func startLogs(t *testing.T, cfg *rest.Config, ns string, watchAll, withOwners bool) *logRun {
	t.Helper()
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &logRun{sink: &frameSink{}, agent: uuid.New(), ns: ns}
	opts := LogsOptions{Kube: kc, AgentID: r.agent, Uplink: r.sink, Log: testLog(t), Namespace: ns}
	if watchAll {
		opts.Namespace = ""
	}
	if withOwners {
		opts.Owners = NewEvents(EventsOptions{Cluster: newCluster(t, cfg), AgentID: r.agent, Log: testLog(t)})
	}
	r.l = NewLogs(opts)
	r.l.retryMin, r.l.retryMax, r.l.grace = 200*time.Millisecond, 2*time.Second, 500*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.l.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Logs.Run did not return within 10 s")
		}
	})
	return r
}

// of returns the lines of one pod, in order.
func (r *logRun) of(t *testing.T, pod string) []client.PodLogLine {
	var out []client.PodLogLine
	for _, l := range lines(t, r.sink.all()) {
		if l.Namespace == r.ns && l.Pod == pod {
			out = append(out, l)
		}
	}
	return out
}

// marked returns the texts of the lines of pod that start with prefix.
func (r *logRun) marked(t *testing.T, pod, prefix string) []string {
	var out []string
	for _, l := range r.of(t, pod) {
		if strings.HasPrefix(l.Line, prefix) {
			out = append(out, l.Line)
		}
	}
	return out
}

// followers counts the followers of the pods of the run's namespace.
func (r *logRun) followers() int {
	r.l.mu.Lock()
	defer r.l.mu.Unlock()
	n := 0
	for key, p := range r.l.pods {
		if strings.HasPrefix(key, r.ns+"/") {
			n += len(p.running)
		}
	}
	return n
}

// createPod creates a pod of one container "c" and waits until kwok runs it.
func createPod(t *testing.T, env *kubetest.Env, ns, name string, ann map[string]string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	if _, err := env.Kube.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, name+" to run", func() bool {
		p, err := env.Kube.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		pod = p
		return err == nil && p.Status.Phase == corev1.PodRunning && len(p.Status.ContainerStatuses) == 1
	})
	return pod
}

func optIn(stack string) map[string]string {
	ann := map[string]string{AnnotationStreamLogs: "true"}
	if stack != "" {
		ann[kube.AnnotationStack] = stack
	}
	return ann
}

// canned waits for the canned log of pod, and checks its frames.
func (r *logRun) canned(t *testing.T, ns, pod string, stack uuid.UUID) {
	t.Helper()
	eventually(t, 30*time.Second, "the canned log of "+pod, func() bool { return len(r.of(t, pod)) >= len(kubetest.FakeContainerLog) })
	got := r.of(t, pod)
	for i, want := range kubetest.FakeContainerLog {
		l := got[i]
		ts := time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC)
		if l.Line != want || !l.TS.Equal(ts) || l.AgentID != r.agent || l.StackID != stack || l.Namespace != ns || l.Container != "c" {
			t.Fatalf("line %d of %s: %+v, want %q at %v of stack %s", i, pod, l, want, ts, stack)
		}
	}
}

// TestLogsOfOptedInPods: pods annotated brokkr.io/stream-logs: "true" with their stack, and
// pods of the agent's workloads whose template opted in, are followed; pods that did not opt
// in, without a stack, with another agent's owner, or with an invalid stack id are not. A
// deleted pod's follower stops.
func TestLogsOfOptedInPods(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	r := startLogs(t, env.Config, ns, true, true)
	stack, workload := uuid.New(), uuid.New()

	createPod(t, env, ns, "annotated", optIn(stack.String()))
	createPod(t, env, ns, "not-opted-in", map[string]string{kube.AnnotationStack: stack.String()})
	createPod(t, env, ns, "no-stack", optIn(""))
	createPod(t, env, ns, "bad-stack", optIn("web"))
	createTemplated(t, env, ns, "ours", ownedBy(workload, r.agent), optIn(""))
	createTemplated(t, env, ns, "theirs", ownedBy(uuid.New(), uuid.New()), optIn(""))

	r.canned(t, ns, "annotated", stack)
	var ours string
	eventually(t, time.Minute, "the pod of the agent's Deployment", func() bool {
		for _, l := range lines(t, r.sink.all()) {
			if l.Namespace == ns && strings.HasPrefix(l.Pod, "ours-") {
				ours = l.Pod
				return true
			}
		}
		return false
	})
	r.canned(t, ns, ours, workload)
	theirs := podsOf(t, env, ns, "theirs")
	time.Sleep(2 * time.Second) // the other pods had their chance
	for _, pod := range append([]string{"not-opted-in", "no-stack", "bad-stack"}, theirs...) {
		if got := r.of(t, pod); len(got) > 0 {
			t.Errorf("pod %s was followed: %+v", pod, got)
		}
	}
	if n := r.followers(); n != 2 {
		t.Errorf("%d followers, want 2", n)
	}

	if err := env.Kube.CoreV1().Pods(ns).Delete(context.Background(), "annotated", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the follower of the deleted pod to stop", func() bool { return r.followers() == 1 })
}

// createTemplated creates a Deployment annotated ann whose pod template carries podAnn.
func createTemplated(t *testing.T, env *kubetest.Env, ns, name string, ann, podAnn map[string]string) {
	t.Helper()
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}, Annotations: podAnn},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
			},
		},
	}
	if _, err := env.Kube.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// podsOf waits for the running pods of a Deployment and returns their names.
func podsOf(t *testing.T, env *kubetest.Env, ns, app string) []string {
	t.Helper()
	var names []string
	eventually(t, time.Minute, "the pods of "+app, func() bool {
		list, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
		if err != nil {
			t.Fatal(err)
		}
		names = names[:0]
		for _, p := range list.Items {
			if p.Status.Phase == corev1.PodRunning {
				names = append(names, p.Name)
			}
		}
		return len(names) > 0
	})
	return names
}

// TestLogsResumeAfterABrokenStream breaks every connection to the apiserver in the middle of
// lines that share one timestamp, and the container keeps writing meanwhile: the stream is
// opened again and every line arrives exactly once, in order.
func TestLogsResumeAfterABrokenStream(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	var c cutter
	r := startLogs(t, c.wrap(env.Config), ns, false, false)
	var opens []*corev1.PodLogOptions
	var mu sync.Mutex
	open := r.l.open
	r.l.open = func(ctx context.Context, namespace, pod string, o *corev1.PodLogOptions) (io.ReadCloser, error) {
		mu.Lock()
		opens = append(opens, o.DeepCopy())
		mu.Unlock()
		return open(ctx, namespace, pod, o)
	}
	stack := uuid.New()
	createPod(t, env, ns, "p", optIn(stack.String()))
	r.canned(t, ns, "p", stack)
	time.Sleep(1200 * time.Millisecond) // past the rate limit's second of the log read so far

	// The log file is the whole cluster's: the marker tells this test's lines apart.
	m := "resume " + uuid.NewString()[:8]
	at := time.Now()
	appendLog(t, env, at, m+" a1", m+" a2", m+" a3")
	eventually(t, 10*time.Second, "the first lines", func() bool { return len(r.marked(t, "p", m)) == 3 })
	c.cut()
	appendLog(t, env, at, m+" a4", m+" a5") // the same instant as a1..a3
	appendLog(t, env, time.Now(), m+" b1")
	want := []string{m + " a1", m + " a2", m + " a3", m + " a4", m + " a5", m + " b1"}
	eventually(t, 30*time.Second, "the lines written during the break", func() bool { return len(r.marked(t, "p", m)) >= len(want) })
	time.Sleep(time.Second) // a duplicate would arrive now
	if got := r.marked(t, "p", m); !slices.Equal(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(opens) < 2 || opens[len(opens)-1].SinceTime == nil || !opens[len(opens)-1].SinceTime.Time.Equal(at) {
		t.Fatalf("streams opened with %+v; want a reopen since %v", opens, at)
	}
}

// TestLogsRateLimitOnTheCluster: 250 lines written at once by one container → 100 lines and
// a rate_limit gap counting the other 150.
func TestLogsRateLimitOnTheCluster(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	r := startLogs(t, env.Config, ns, false, false)
	stack := uuid.New()
	createPod(t, env, ns, "chatty", optIn(stack.String()))
	r.canned(t, ns, "chatty", stack)
	time.Sleep(1200 * time.Millisecond) // past the second of the log read so far (and its gap)

	m := "burst " + uuid.NewString()[:8]
	at := time.Now()
	burst := make([]string, 250)
	for i := range burst {
		burst[i] = fmt.Sprintf("%s %03d", m, i)
	}
	appendLog(t, env, at, burst...)
	// Gaps of lines written earlier by other tests (the log file is the cluster's) are older.
	ours := func() []client.LogGap {
		var out []client.LogGap
		for _, g := range gaps(t, r.sink.all()) {
			if !g.SinceTS.Before(at.UTC()) {
				out = append(out, g)
			}
		}
		return out
	}
	eventually(t, 10*time.Second, "the rate_limit gap", func() bool { return len(ours()) > 0 })
	time.Sleep(1200 * time.Millisecond) // a second window would end by now
	sent, gs := r.marked(t, "chatty", m), ours()
	var dropped uint64
	for _, g := range gs {
		if g.Reason != client.GapRateLimit || g.StackID != stack || g.AgentID != r.agent || !g.SinceTS.Equal(at.UTC()) {
			t.Errorf("gap %+v", g)
		}
		dropped += g.DroppedCount
	}
	if len(sent) != 100 || dropped != 150 || len(gs) != 1 {
		t.Fatalf("%d lines sent and %d dropped in %d gaps, want 100 and 150 in one", len(sent), dropped, len(gs))
	}
	if !slices.Equal(sent, burst[:100]) {
		t.Fatalf("sent %q", sent)
	}
}

// TestLogsOfARestartedContainer: a new run of a container is followed from its beginning by
// a new stream, and the follower of the run before stops.
func TestLogsOfARestartedContainer(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	r := startLogs(t, env.Config, ns, false, false)
	stack := uuid.New()
	pod := createPod(t, env, ns, "restarts", optIn(stack.String()))
	r.canned(t, ns, "restarts", stack)

	// kwok runs no processes: write the status of a restart as a kubelet would.
	pod.Status.ContainerStatuses[0].RestartCount = 1
	pod.Status.ContainerStatuses[0].State.Running.StartedAt = metav1.Now()
	if _, err := env.Kube.CoreV1().Pods(ns).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the log of the new run", func() bool {
		return len(r.marked(t, "restarts", kubetest.FakeContainerLog[0])) == 2
	})
	eventually(t, 10*time.Second, "the follower of the old run to stop", func() bool { return r.followers() == 1 })
	time.Sleep(1200 * time.Millisecond)
	m := "after the restart " + uuid.NewString()[:8]
	appendLog(t, env, time.Now(), m)
	eventually(t, 10*time.Second, "the new line", func() bool { return len(r.marked(t, "restarts", m)) > 0 })
	time.Sleep(time.Second)
	if got := r.marked(t, "restarts", m); len(got) != 1 {
		t.Fatalf("the new line arrived %d times", len(got))
	}
}

// TestLogsOfAPodOlderThanTheAgent: a container that ran before the agent started is followed
// from the agent's start, so that a restarted agent does not send its log again.
func TestLogsOfAPodOlderThanTheAgent(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	stack := uuid.New()
	createPod(t, env, ns, "older", optIn(stack.String()))
	time.Sleep(1100 * time.Millisecond) // start times have whole seconds
	r := startLogs(t, env.Config, ns, false, false)
	eventually(t, 30*time.Second, "the follower", func() bool { return r.followers() == 1 })
	time.Sleep(500 * time.Millisecond)
	m := "written after the start " + uuid.NewString()[:8]
	appendLog(t, env, time.Now(), m)
	eventually(t, 10*time.Second, "the new line", func() bool { return len(r.of(t, "older")) > 0 })
	time.Sleep(500 * time.Millisecond)
	if got := texts(r.of(t, "older")); !slices.Equal(got, []string{m}) {
		t.Fatalf("lines %q", got)
	}
}
