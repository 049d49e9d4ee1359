package workorders_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/workorders"
	"github.com/brokkr/brokkr/client"
	"github.com/google/uuid"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
)

func configMapYAML(ns, name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata:
  name: %s
  namespace: %s
data:
  mode: batch
`, name, ns)
}

// jobYAML is a Job whose pod the scheduler places on a kwok node, where it runs and
// succeeds: the Job controller completes the Job.
func jobYAML(ns, name string) string { return jobManifest(ns, name, "") }

// heldJobYAML is a Job whose pod no scheduler places: it stays Pending, and the Job
// running, until the test binds the pod (completePod) or fails it (failPod).
func heldJobYAML(ns, name string) string { return jobManifest(ns, name, unscheduled) }

// unscheduled is the scheduler name of held pods: no scheduler binds them, so kwok leaves
// them alone.
const unscheduled = "brokkr-test-unscheduled"

func jobManifest(ns, name, scheduler string) string {
	schedulerName := ""
	if scheduler != "" {
		schedulerName = "\n      schedulerName: " + scheduler
	}
	return fmt.Sprintf(`apiVersion: batch/v1
kind: Job
metadata:
  name: %s
  namespace: %s
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never%s
      containers:
      - name: main
        image: busybox:1.36
        command: ["true"]
`, name, ns, schedulerName)
}

func docs(parts ...string) string { return strings.Join(parts, "---\n") }

// jobPod waits for the pod the Job controller creates for Job ns/name and returns its name.
func jobPod(t *testing.T, env *kubetest.Env, ns, name string) string {
	t.Helper()
	var pod string
	eventually(t, "pod of job "+name, func() (bool, error) {
		list, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=" + name})
		if err != nil || len(list.Items) != 1 {
			return false, err
		}
		pod = list.Items[0].Name
		return true, nil
	})
	return pod
}

// completePod places the held pod of Job ns/name on a kwok node, as the scheduler would:
// kwok runs it and it succeeds, and the Job controller completes the Job.
func completePod(t *testing.T, env *kubetest.Env, ns, name string) {
	t.Helper()
	pod := jobPod(t, env, ns, name)
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod}, Target: corev1.ObjectReference{Kind: "Node", Name: "kwok-node-0"}}
	if err := env.Kube.CoreV1().Pods(ns).Bind(context.Background(), b, metav1.CreateOptions{}); err != nil {
		t.Fatalf("bind pod %s of job %s: %v", pod, name, err)
	}
}

// failPod fails the held pod of Job ns/name (its container exits with code 1), as a kubelet
// would: with backoffLimit 0, the Job controller fails the Job.
func failPod(t *testing.T, env *kubetest.Env, ns, name string) {
	t.Helper()
	pods := env.Kube.CoreV1().Pods(ns)
	pod := jobPod(t, env, ns, name)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		p, err := pods.Get(context.Background(), pod, metav1.GetOptions{})
		if err != nil {
			return err
		}
		now := metav1.Now()
		p.Status.Phase = corev1.PodFailed
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "main", Image: "busybox:1.36",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "Error", ExitCode: 1, StartedAt: now, FinishedAt: now}}}}
		_, err = pods.UpdateStatus(context.Background(), p, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("fail pod %s of job %s: %v", pod, name, err)
	}
}

// jobHas reports whether Job ns/name has condition typ=True.
func jobHas(env *kubetest.Env, ns, name string, typ batchv1.JobConditionType) (bool, error) {
	j, err := env.Kube.BatchV1().Jobs(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		return false, err
	}
	for _, c := range j.Status.Conditions {
		if c.Type == typ && c.Status == corev1.ConditionTrue {
			return true, nil
		}
	}
	return false, fmt.Errorf("job %s status %+v", name, j.Status)
}

func TestCustomJobsComplete(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom,
		docs(configMapYAML(f.ns, "settings"), jobYAML(f.ns, "migrate"), heldJobYAML(f.ns, "seed")), 0)
	done := f.runOnce(t)
	// The Jobs complete one after the other while the runner waits: migrate on its own,
	// seed when the test lets its pod run.
	eventually(t, "job migrate complete", func() (bool, error) { return jobHas(f.env, f.ns, "migrate", batchv1.JobComplete) })
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("RunOnce returned (%v) while job seed is still running", err)
	default:
	}
	completePod(t, f.env, f.ns, "seed")
	wait(t, done)

	l := f.finished(t, wo.ID)
	want := fmt.Sprintf("applied 3 objects (ConfigMap %s/settings); jobs completed: %[1]s/migrate, %[1]s/seed", f.ns)
	if !l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want success with %q", l.Success, message(l), want)
	}
	cm, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Get(context.Background(), "settings", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	managers := make([]string, 0, len(cm.ManagedFields))
	for _, m := range cm.ManagedFields {
		managers = append(managers, m.Manager+"/"+string(m.Operation))
	}
	if !slices.Contains(managers, "brokkr-agent/Apply") || cm.Data["mode"] != "batch" {
		t.Fatalf("configmap data %v managers %v, want applied by brokkr-agent", cm.Data, managers)
	}
	if got := f.runner.Metrics.(*doneCounter).Calls(); !slices.Equal(got, []string{"custom/true"}) {
		t.Fatalf("metrics %v", got)
	}
	// Nothing is left to run.
	if ran, err := f.runner.RunOnce(context.Background()); ran || err != nil {
		t.Fatalf("second RunOnce = %t, %v", ran, err)
	}
}

func TestCustomApplyOnly(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom, docs(configMapYAML(f.ns, "a"), configMapYAML("", "b")), 0)
	wait(t, f.runOnce(t))
	l := f.finished(t, wo.ID)
	want := fmt.Sprintf("applied 2 objects (ConfigMap %s/a, ConfigMap default/b); no jobs to watch", f.ns)
	if !l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want %q", l.Success, message(l), want)
	}
	if _, err := f.env.Kube.CoreV1().ConfigMaps("default").Get(context.Background(), "b", metav1.GetOptions{}); err != nil {
		t.Fatalf("configmap default/b: %v", err)
	}
}

func TestCustomJobFails(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom, docs(heldJobYAML(f.ns, "migrate"), heldJobYAML(f.ns, "slow")), 0)
	done := f.runOnce(t)
	failPod(t, f.env, f.ns, "migrate")
	// The failure ends the order although job slow never finishes.
	wait(t, done)
	l := f.finished(t, wo.ID) // in the log despite 3 retries left: not retryable
	want := fmt.Sprintf("job %s/migrate ran and failed: BackoffLimitExceeded: Job has reached the specified backoff limit", f.ns)
	if l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want failure %q", l.Success, message(l), want)
	}
	if got := f.runner.Metrics.(*doneCounter).Calls(); !slices.Equal(got, []string{"custom/false"}) {
		t.Fatalf("metrics %v", got)
	}
}

func TestCustomJobDeleted(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom, heldJobYAML(f.ns, "migrate"), 0)
	done := f.runOnce(t)
	jobs := f.env.Kube.BatchV1().Jobs(f.ns)
	eventually(t, "job applied", func() (bool, error) {
		_, err := jobs.Get(context.Background(), "migrate", metav1.GetOptions{})
		return err == nil, err
	})
	time.Sleep(200 * time.Millisecond) // let the runner start watching
	bg := metav1.DeletePropagationBackground
	if err := jobs.Delete(context.Background(), "migrate", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	l := f.finished(t, wo.ID)
	want := fmt.Sprintf("job %s/migrate was deleted before it finished", f.ns)
	if l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want failure %q", l.Success, message(l), want)
	}
}

func TestCustomBudgetExhausted(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom, heldJobYAML(f.ns, "forever"), 61) // budget 1 s
	start := time.Now()
	wait(t, f.runOnce(t))
	if took := time.Since(start); took < time.Second || took > 10*time.Second {
		t.Fatalf("RunOnce took %s, want about the 1 s budget", took)
	}
	l := f.finished(t, wo.ID)
	want := fmt.Sprintf("job %s/forever did not finish within 1s", f.ns)
	if l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want failure %q", l.Success, message(l), want)
	}
	// The Job is left alone.
	if _, err := f.env.Kube.BatchV1().Jobs(f.ns).Get(context.Background(), "forever", metav1.GetOptions{}); err != nil {
		t.Fatalf("job forever: %v", err)
	}
}

func TestCustomBadManifest(t *testing.T) {
	f := setup(t)
	cm := configMapYAML(f.ns, "never")
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"invalid YAML", docs(cm, "kind: [unclosed\n"), "document 2: invalid YAML"},
		{"missing kind", docs(cm, "apiVersion: v1\nmetadata:\n  name: x\n"), "document 2: kind is required"},
		{"job without name", docs(cm, "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: run-\n  namespace: "+f.ns+"\nspec: {}\n"),
			"generateName cannot be applied"},
		{"rejected by the apiserver", docs(cm, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_A_Name\n  namespace: "+f.ns+"\n"),
			"is invalid"},
		{"empty", "---\n", "no Kubernetes objects"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wo := f.order(t, workorders.TypeCustom, tc.yaml, 0)
			wait(t, f.runOnce(t))
			l := f.finished(t, wo.ID) // in the log: not retried
			if l.Success || !strings.Contains(message(l), tc.want) {
				t.Fatalf("log success=%t message %q, want failure containing %q", l.Success, message(l), tc.want)
			}
			_, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Get(context.Background(), "never", metav1.GetOptions{})
			if !apierrors.IsNotFound(err) {
				t.Fatalf("configmap never: %v, want nothing applied", err)
			}
		})
	}
}

func TestUnknownWorkType(t *testing.T) {
	f := setup(t)
	wo := f.order(t, "deploy-rocket", configMapYAML(f.ns, "x"), 0)
	wait(t, f.runOnce(t))
	l := f.finished(t, wo.ID)
	if l.Success || message(l) != "Unknown work type: deploy-rocket" {
		t.Fatalf("log success=%t message %q", l.Success, message(l))
	}
}

func TestClaimRace(t *testing.T) {
	env := kubetest.Get(t)
	f := setup(t)
	other := f.broker.CreateAgent(t, "edge-other", "cluster-2", true)
	runners := []*workorders.Runner{f.runner, newRunner(t, env, other)}
	for round := range 3 {
		name := fmt.Sprintf("race-%d", round)
		wo, err := f.broker.Admin.WorkOrders().Create(context.Background(), client.CreateWorkOrderRequest{
			WorkType: workorders.TypeCustom, YAMLContent: configMapYAML(f.ns, name),
			Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{f.agent.ID, other.ID}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			ran   = make([]bool, len(runners))
			errs  = make([]error, len(runners))
		)
		for i, r := range runners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ran[i], errs[i] = r.RunOnce(context.Background())
			}()
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: RunOnce errors %v", round, errs)
		}
		if ran[0] == ran[1] {
			t.Fatalf("round %d: ran = %v, want exactly one runner", round, ran)
		}
		winner := runners[slices.Index(ran, true)]
		l, err := f.broker.Admin.WorkOrders().LogEntry(context.Background(), wo.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !l.Success || l.ClaimedBy == nil || *l.ClaimedBy != winner.AgentID {
			t.Fatalf("round %d: log %+v, want success claimed by %s", round, l, winner.AgentID)
		}
		total := len(runners[0].Metrics.(*doneCounter).Calls()) + len(runners[1].Metrics.(*doneCounter).Calls())
		if total != round+1 {
			t.Fatalf("round %d: %d executions in all, want %d", round, total, round+1)
		}
	}
}

func TestInterruptedOrderIsOfferedAgain(t *testing.T) {
	f := setup(t)
	wo := f.order(t, workorders.TypeCustom, heldJobYAML(f.ns, "long"), 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := f.runner.RunOnce(ctx)
		done <- err
	}()
	eventually(t, "job applied", func() (bool, error) {
		_, err := f.env.Kube.BatchV1().Jobs(f.ns).Get(context.Background(), "long", metav1.GetOptions{})
		return err == nil, err
	})
	time.Sleep(200 * time.Millisecond)
	cancel() // the agent stops
	wait(t, done)
	got, err := f.broker.Admin.WorkOrders().Get(context.Background(), wo.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != client.WorkOrderRetryPending || got.RetryCount != 1 || got.LastError == nil ||
		!strings.Contains(*got.LastError, "interrupted") {
		t.Fatalf("order after interruption: status %s retries %d last_error %v, want a scheduled retry",
			got.Status, got.RetryCount, got.LastError)
	}
}
