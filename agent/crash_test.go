package agent_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var agentBinary struct {
	sync.Once
	path string
	err  error
}

// buildAgent builds cmd/brokkr-agent once per test binary.
func buildAgent(t *testing.T) string {
	t.Helper()
	agentBinary.Do(func() {
		dir, err := os.MkdirTemp("", "brokkr-agent-bin-")
		if err != nil {
			agentBinary.err = err
			return
		}
		agentBinary.path = filepath.Join(dir, "brokkr-agent")
		out, err := exec.Command("go", "build", "-o", agentBinary.path, "github.com/brokkr/brokkr/cmd/brokkr-agent").CombinedOutput()
		if err != nil {
			agentBinary.err = fmt.Errorf("build brokkr-agent: %w\n%s", err, out)
		}
	})
	if agentBinary.err != nil {
		t.Fatal(agentBinary.err)
	}
	return agentBinary.path
}

// agentProcess runs the brokkr-agent binary for a registered agent; extra are more
// BROKKR__ settings.
func agentProcess(t *testing.T, bin string, b *servertest.Broker, a servertest.Agent, cluster string, env *kubetest.Env, extra ...string) *exec.Cmd {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "start")
	cmd.Env = append(os.Environ(),
		"BROKKR__AGENT__BROKER_URL="+b.URL, "BROKKR__AGENT__PAK="+a.PAK,
		"BROKKR__AGENT__AGENT_NAME="+a.Name, "BROKKR__AGENT__CLUSTER_NAME="+cluster,
		"BROKKR__AGENT__KUBECONFIG_PATH="+env.Kubeconfig, "BROKKR__AGENT__HEALTH_PORT="+strconv.Itoa(port),
		"BROKKR__AGENT__HEALTH_ADDR=127.0.0.1", "BROKKR__AGENT__POLLING_INTERVAL=1", "BROKKR__LOG__LEVEL=info")
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = testWriter{t}, testWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return cmd
}

// TestAgentKilledMidApplyConverges kills the agent process with SIGKILL right after the
// first stage of an apply (the namespace) reached the cluster, restarts it and checks that it
// converges to exactly the manifest, leaves no orphans when the stack goes, and never touches
// an object it does not own.
func TestAgentKilledMidApplyConverges(t *testing.T) {
	env := kubetest.Get(t)
	bin := buildAgent(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "crash-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "crash", cluster, true)
	stack := b.CreateStack(t, "crash", a.ID)

	// An object the agent does not own, in a namespace it does not own.
	other := env.Namespace(t)
	foreign, err := env.Kube.CoreV1().ConfigMaps(other).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "foreign"},
		Data: map[string]string{"k": "v"}}, metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		t.Fatal(err)
	}

	ns := kubetest.UniqueName("crash")
	group := kubetest.UniqueName("crash") + ".example.com"
	const configMaps = 30
	var m strings.Builder
	fmt.Fprintf(&m, "apiVersion: v1\nkind: Namespace\nmetadata: {name: %s}\n", ns)
	fmt.Fprintf(&m, `---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}]
---
apiVersion: %[1]s/v1
kind: Gadget
metadata: {name: g, namespace: %[2]s}
`, group, ns)
	for i := range configMaps {
		fmt.Fprintf(&m, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\ndata: {i: %q}\n", i, ns, strconv.Itoa(i))
	}
	fmt.Fprint(&m, appStack(ns, "1")[strings.Index(appStack(ns, "1"), "---"):])

	// A slow agent (10 requests/s to the apiserver), so that the kill lands mid-apply.
	slow := agentProcess(t, bin, b, a, cluster, env, "BROKKR__AGENT__KUBE_QPS=10", "BROKKR__AGENT__KUBE_BURST=10")
	obj := b.Post(t, stack.ID, m.String(), false)
	eventually(t, 2*time.Minute, "the stack's namespace", func() bool {
		_, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err == nil
	})
	if err := slow.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = slow.Wait()
	cms, err := env.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	written := 0
	for _, cm := range cms.Items {
		if strings.HasPrefix(cm.Name, "cm-") {
			written++
		}
	}
	if written == configMaps {
		t.Fatal("the agent finished the apply before it was killed: the test proves nothing")
	}
	t.Logf("killed with %d of %d ConfigMaps written", written, configMaps)
	if ev := eventFor(t, b, a.ID, obj.ID); ev != nil {
		t.Fatalf("an event before the apply finished: %+v", ev)
	}

	agentProcess(t, bin, b, a, cluster, env)
	eventually(t, 2*time.Minute, "the restarted agent to report the deployment object", func() bool { return eventFor(t, b, a.ID, obj.ID) != nil })
	if ev := eventFor(t, b, a.ID, obj.ID); ev.Status != agent.EventSuccess {
		t.Fatalf("event %+v", ev)
	}
	// Exactly the manifest's objects, all of them the stack's.
	cms, err = env.Kube.CoreV1().ConfigMaps(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	owned := 0
	for _, cm := range cms.Items {
		if cm.Annotations[kube.AnnotationOwner] == a.ID.String() {
			owned++
			if cm.Annotations[kube.AnnotationStack] != stack.ID.String() || cm.Annotations[kube.AnnotationDeploymentObject] != obj.ID.String() {
				t.Errorf("ConfigMap %s annotations %v", cm.Name, cm.Annotations)
			}
		}
	}
	if owned != configMaps {
		t.Fatalf("%d ConfigMaps of the stack, want %d", owned, configMaps)
	}
	gadgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}
	if _, err := env.Dynamic.Resource(gadgets).Namespace(ns).Get(ctx, "g", metav1.GetOptions{}); err != nil {
		t.Fatalf("the custom resource: %v", err)
	}
	eventually(t, time.Minute, "the Deployment's pods to run", func() bool { return runningPods(t, env, ns, "web") == 2 })

	// No orphans: the deletion marker takes everything, the namespace and the CRD included.
	marker := b.Post(t, stack.ID, "", true)
	eventually(t, time.Minute, "the deletion marker's event", func() bool { return eventFor(t, b, a.ID, marker.ID) != nil })
	if ev := eventFor(t, b, a.ID, marker.ID); ev.Status != agent.EventSuccess || strings.Contains(*ev.Message, "kept") {
		t.Fatalf("marker event %+v", ev)
	}
	eventually(t, 90*time.Second, "the namespace and the CRD to be gone", func() bool {
		_, nsErr := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		_, crdErr := env.Dynamic.Resource(crdGVR).Get(ctx, "gadgets."+group, metav1.GetOptions{})
		return apierrors.IsNotFound(nsErr) && apierrors.IsNotFound(crdErr)
	})
	got, err := env.Kube.CoreV1().ConfigMaps(other).Get(ctx, "foreign", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != foreign.ResourceVersion {
		t.Fatalf("an object the agent does not own changed: %+v %v", got, err)
	}
}
