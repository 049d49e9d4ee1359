package kubetest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

func TestControlPlane(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	var rc kubetest.RequestCounter
	kc, err := kubernetes.NewForConfig(rc.Wrap(env.Config))
	if err != nil {
		t.Fatal(err)
	}
	got, err := kc.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{})
	if err != nil || got.Name != ns {
		t.Fatalf("namespace %s: %v", ns, err)
	}
	if rc.Writes() != 0 || len(rc.Requests()) != 1 {
		t.Fatalf("requests %v, writes %d", rc.Requests(), rc.Writes())
	}
	if a, b := kubetest.UniqueName("Test/Foo_Bar"), kubetest.UniqueName("Test/Foo_Bar"); a == b {
		t.Fatalf("UniqueName repeated %q", a)
	}
}

// TestClusterIsAlive proves the cluster can show damage: a Deployment gets running pods, a
// Job completes, pods serve a log, the garbage collector removes dependents and a deleted
// namespace really goes, with its contents.
func TestClusterIsAlive(t *testing.T) {
	env := kubetest.Get(t)
	ctx := context.Background()
	ns := env.Namespace(t)
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if _, err := env.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err != nil {
		wait("the default ServiceAccount", func() bool {
			_, err := env.Kube.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
			return err == nil
		})
	}
	replicas, zero := int32(2), int64(0)
	labels := map[string]string{"app": "alive"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "alive"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{TerminationGracePeriodSeconds: &zero, Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}}}},
	}
	if _, err := env.Kube.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pods *corev1.PodList
	wait("two running pods", func() bool {
		var err error
		pods, err = env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=alive"})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning && p.Spec.NodeName != "" {
				running++
			}
		}
		return running == 2
	})
	logs, err := env.Kube.CoreV1().Pods(ns).GetLogs(pods.Items[0].Name, &corev1.PodLogOptions{Container: "c"}).DoRaw(ctx)
	if err != nil || !strings.Contains(string(logs), kubetest.FakeContainerLog[0]) {
		t.Fatalf("pod log %q: %v", logs, err)
	}
	wait("events of the scheduler", func() bool {
		evs, err := env.Kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if e.Reason == "Scheduled" {
				return true
			}
		}
		return false
	})

	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: "once"}, Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{
		Spec: corev1.PodSpec{RestartPolicy: corev1.RestartPolicyNever, Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}}}
	if _, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("the Job to complete", func() bool {
		j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, "once", metav1.GetOptions{})
		return err == nil && j.Status.Succeeded == 1
	})

	bg := metav1.DeletePropagationBackground
	if err := env.Kube.AppsV1().Deployments(ns).Delete(ctx, "alive", metav1.DeleteOptions{PropagationPolicy: &bg}); err != nil {
		t.Fatal(err)
	}
	wait("the garbage collector to remove the ReplicaSet", func() bool {
		rs, err := env.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		return err == nil && len(rs.Items) == 0
	})

	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "content"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.Kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("the namespace to be gone", func() bool {
		_, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
}
