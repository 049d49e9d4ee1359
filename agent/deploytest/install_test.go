package deploytest

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// helmInstallDryRun runs `helm install --dry-run=server` against the test API server, which
// renders with lookup and prints the notes, and returns the manifest's objects and the notes.
func helmInstallDryRun(t *testing.T, c *cluster, chart, release, ns string, args ...string) ([]*unstructured.Unstructured, string) {
	t.Helper()
	full := append([]string{"install", release, chartDir(t, chart), "--namespace", ns,
		"--dry-run=server", "--kubeconfig", c.env.Kubeconfig}, args...)
	out, errOut, err := runHelm(t, full...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(full, " "), err, errOut)
	}
	_, rest, ok := strings.Cut(out, "\nMANIFEST:\n")
	if !ok {
		t.Fatalf("helm install --dry-run printed no MANIFEST section:\n%s", out)
	}
	manifest, notes, ok := strings.Cut(rest, "\nNOTES:\n")
	if !ok {
		t.Fatalf("helm install --dry-run printed no NOTES section:\n%s", out)
	}
	objs, err := parseManifests(manifest)
	if err != nil {
		t.Fatalf("parse the manifest of helm install --dry-run: %v", err)
	}
	return objs, notes
}

// TestHelmInstallAgainstCluster installs both charts as a server-side dry run: the broker
// reuses the webhook key Secret an earlier release left (a new key would orphan stored
// webhooks), and both charts' notes render and say what an operator needs next.
func TestHelmInstallAgainstCluster(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	const key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	// The Secret as `helm uninstall` leaves it (helm.sh/resource-policy: keep): still marked as
	// the release's, so a new install of that release adopts it.
	earlier := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{
			"name": "brokkr-broker-webhook-key", "namespace": ns,
			"labels": map[string]any{"app.kubernetes.io/managed-by": "Helm"},
			"annotations": map[string]any{
				"meta.helm.sh/release-name": "brokkr-broker", "meta.helm.sh/release-namespace": ns,
				"helm.sh/resource-policy": "keep",
			},
		},
		"type":       "Opaque",
		"stringData": map[string]any{"webhook-encryption-key": key},
	}}
	c.apply(t, []*unstructured.Unstructured{earlier}, ns)

	objs, notes := helmInstallDryRun(t, c, "brokkr-broker", "brokkr-broker", ns,
		"--set", "database.external.url=postgres://db.example.com/brokkr")
	data, _ := secretData(t, objs, "brokkr-broker-webhook-key")
	if data["webhook-encryption-key"] != key {
		t.Errorf("webhook key = %q, want the existing Secret's %q", data["webhook-encryption-key"], key)
	}
	for _, want := range []string{
		"http://brokkr-broker." + ns + ".svc:3000",
		"kubectl -n " + ns + " logs deploy/brokkr-broker | grep -A1 'admin PAK'",
		"generated into Secret brokkr-broker-webhook-key",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("broker notes lack %q:\n%s", want, notes)
		}
	}

	_, notes = helmInstallDryRun(t, c, "brokkr-agent", "brokkr-agent", ns, ciValues(t, "brokkr-agent", "namespace-values.yaml")...)
	for _, want := range []string{
		`as agent "agent-team-a" of cluster "shared"`,
		"Scope: namespace " + ns + " only",
		"kubectl -n " + ns + " rollout status deploy/brokkr-agent",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("agent notes lack %q:\n%s", want, notes)
		}
	}
}

// errorsMention reports whether any of errs contains s.
func errorsMention(errs []error, s string) bool {
	return slices.ContainsFunc(errs, func(err error) bool { return strings.Contains(err.Error(), s) })
}

// TestChecksCatchBadObjects shows that the checks the chart tests rely on do fail: the API
// server rejects what a weaker setup (no Pod Security admission, lenient field validation, a
// schema-less CRD) would let through.
func TestChecksCatchBadObjects(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	values := ciValues(t, "brokkr-agent", "cluster-values.yaml")

	t.Run("privilege escalation breaks the restricted standard", func(t *testing.T) {
		objs := render(t, "brokkr-agent", "brokkr-agent", ns, append(values, "--set", "securityContext.allowPrivilegeEscalation=true")...)
		c.apply(t, ofKind(objs, "ServiceAccount"), ns)
		if errs := c.dryRunApplyErrors(t, ofKind(objs, "Deployment"), ns); !errorsMention(errs, "PodSecurity") {
			t.Errorf("dry-run apply of a Deployment with allowPrivilegeEscalation=true drew no PodSecurity warning: %v", errs)
		}
		if errs := c.admitPodsErrors(t, objs, ns); !errorsMention(errs, "allowPrivilegeEscalation") {
			t.Errorf("a pod with allowPrivilegeEscalation=true was admitted under the restricted standard: %v", errs)
		}
	})

	objs := render(t, "brokkr-agent", "brokkr-agent", ns, values...)
	t.Run("an unknown field is rejected", func(t *testing.T) {
		d := ofKind(objs, "Deployment")[0].DeepCopy()
		if err := unstructured.SetNestedField(d.Object, true, "spec", "pausd"); err != nil {
			t.Fatal(err)
		}
		if errs := c.dryRunApplyErrors(t, []*unstructured.Unstructured{d}, ns); !errorsMention(errs, "pausd") {
			t.Errorf("a Deployment with the unknown field spec.pausd was accepted: %v", errs)
		}
	})
	t.Run("the ServiceMonitor schema is enforced", func(t *testing.T) {
		for _, tc := range []struct {
			endpoint map[string]any
			want     string
		}{
			{map[string]any{"port": "health", "intervall": "30s"}, ".spec.endpoints[0].intervall: field not declared in schema"},
			{map[string]any{"port": "health", "interval": "30 seconds"}, "spec.endpoints[0].interval"},
		} {
			sm := ofKind(objs, "ServiceMonitor")[0].DeepCopy()
			if err := unstructured.SetNestedSlice(sm.Object, []any{tc.endpoint}, "spec", "endpoints"); err != nil {
				t.Fatal(err)
			}
			if errs := c.dryRunApplyErrors(t, []*unstructured.Unstructured{sm}, ns); !errorsMention(errs, tc.want) {
				t.Errorf("a ServiceMonitor with endpoint %v was not rejected for %s: %v", tc.endpoint, tc.want, errs)
			}
		}
	})
}

// TestHelmInstallDay2 installs both charts with their day-two values as a server-side dry
// run; the broker's notes say where the Ingress serves it and how its configuration applies.
func TestHelmInstallDay2(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs, notes := helmInstallDryRun(t, c, "brokkr-broker", "brokkr-broker", ns, ciValues(t, "brokkr-broker", "day2-values.yaml")...)
	for _, kind := range []string{"ConfigMap", "Ingress", "NetworkPolicy", "PodDisruptionBudget"} {
		if n := len(ofKind(objs, kind)); n != 1 {
			t.Errorf("helm install rendered %d %s, want 1", n, kind)
		}
	}
	for _, want := range []string{
		"through the Ingress: https://brokkr.example.com",
		"are in ConfigMap brokkr-broker-config",
		"apply without a restart",
		"kubectl -n " + ns + " rollout restart deploy/brokkr-broker",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("broker notes lack %q:\n%s", want, notes)
		}
	}
	objs, _ = helmInstallDryRun(t, c, "brokkr-agent", "brokkr-agent", ns, ciValues(t, "brokkr-agent", "day2-values.yaml")...)
	for _, kind := range []string{"ConfigMap", "NetworkPolicy"} {
		if n := len(ofKind(objs, kind)); n != 1 {
			t.Errorf("helm install of the agent rendered %d %s, want 1", n, kind)
		}
	}
}
