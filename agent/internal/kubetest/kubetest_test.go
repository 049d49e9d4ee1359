package kubetest_test

import (
	"context"
	"testing"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
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
