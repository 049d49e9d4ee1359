package deploytest

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// agentBasics checks what both RBAC modes share and returns the Deployment and its env.
func agentBasics(t *testing.T, objs []*unstructured.Unstructured) (*appsv1.Deployment, map[string]corev1.EnvVar) {
	t.Helper()
	d := one[appsv1.Deployment](t, objs, "Deployment")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate (never two agents at once)", d.Spec.Strategy.Type)
	}
	checkHardened(t, d)
	ctr := container(t, d)
	if want := "ghcr.io/brokkr/brokkr-agent:" + appVersion(t, "brokkr-agent"); ctr.Image != want {
		t.Errorf("image = %s, want %s", ctr.Image, want)
	}
	checkPort(t, ctr, "health", 8080)
	checkProbe(t, "liveness", ctr.LivenessProbe, "/healthz", "health")
	checkProbe(t, "readiness", ctr.ReadinessProbe, "/readyz", "health")
	checkProbe(t, "startup", ctr.StartupProbe, "/healthz", "health")
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || !*a {
		t.Error("the agent needs its service account token mounted")
	}
	sa := one[corev1.ServiceAccount](t, objs, "ServiceAccount")
	if d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pods use service account %s, the chart creates %s", d.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	env := envOf(t, ctr)
	wantEnvValue(t, env, "BROKKR__AGENT__HEALTH_PORT", "8080")
	wantEnvValue(t, env, "BROKKR__AGENT__HEALTH_ADDR", "0.0.0.0")
	return d, env
}

// agentAccess is what every agent must be able to do in its namespace ns (from the agent's
// description: apply, inventory, health, diagnostics and build work orders).
func agentAccess(ns string) []access {
	return []access{
		{verb: "create", group: "apps", resource: "deployments", namespace: ns},
		{verb: "patch", resource: "configmaps", namespace: ns},
		{verb: "delete", resource: "services", namespace: ns},
		{verb: "list", resource: "pods", namespace: ns},
		{verb: "get", resource: "pods", subresource: "log", namespace: ns},
		{verb: "list", resource: "events", namespace: ns},
		{verb: "watch", group: "batch", resource: "jobs", namespace: ns},
		{verb: "get", group: "apps", resource: "statefulsets", namespace: ns},
		{verb: "list", group: "apps", resource: "daemonsets", namespace: ns},
		{verb: "create", group: "shipwright.io", resource: "buildruns", namespace: ns},
		{verb: "get", group: "shipwright.io", resource: "builds", namespace: ns},
	}
}

func TestAgentClusterWide(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs := render(t, "brokkr-agent", "brokkr-agent", ns, ciValues(t, "brokkr-agent", "cluster-values.yaml")...)

	d, env := agentBasics(t, objs)
	wantEnvValue(t, env, "BROKKR__AGENT__BROKER_URL", "http://brokkr-broker.brokkr.svc:3000")
	wantEnvSecret(t, env, "BROKKR__AGENT__PAK", "brokkr-agent-pak", "pak")
	wantEnvValue(t, env, "BROKKR__AGENT__AGENT_NAME", "agent-eu1")
	wantEnvValue(t, env, "BROKKR__AGENT__CLUSTER_NAME", "eu1")
	wantEnvValue(t, env, "BROKKR__AGENT__POLLING_INTERVAL", "5")
	wantEnvValue(t, env, "BROKKR__AGENT__DEPLOYMENT_HEALTH_INTERVAL", "120")
	wantNoEnv(t, env, "BROKKR__AGENT__WATCH_NAMESPACE")

	kinds := kindCounts(objs)
	for kind, want := range map[string]int{"ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 0, "RoleBinding": 0, "Secret": 0} {
		if kinds[kind] != want {
			t.Errorf("rendered %d %s, want %d (all: %v)", kinds[kind], kind, want, kinds)
		}
	}
	cr := one[rbacv1.ClusterRole](t, objs, "ClusterRole")
	crb := one[rbacv1.ClusterRoleBinding](t, objs, "ClusterRoleBinding")
	if !strings.Contains(cr.Name, ns) {
		t.Errorf("ClusterRole %s does not carry the release namespace %s in its name", cr.Name, ns)
	}
	if crb.RoleRef.Kind != "ClusterRole" || crb.RoleRef.Name != cr.Name {
		t.Errorf("ClusterRoleBinding refers to %+v, want ClusterRole %s", crb.RoleRef, cr.Name)
	}
	if len(crb.Subjects) != 1 || crb.Subjects[0].Kind != "ServiceAccount" ||
		crb.Subjects[0].Name != d.Spec.Template.Spec.ServiceAccountName || crb.Subjects[0].Namespace != ns {
		t.Errorf("ClusterRoleBinding subjects = %+v, want the agent's service account in %s", crb.Subjects, ns)
	}
	svc := one[corev1.Service](t, objs, "Service")
	checkSelects(t, "metrics Service", svc.Spec.Selector, d)
	checkServiceMonitor(t, objs, svc, "health")

	c.dryRunApply(t, objs, ns)
	var rbac []*unstructured.Unstructured
	for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding"} {
		rbac = append(rbac, ofKind(objs, kind)...)
	}
	c.apply(t, rbac, ns)
	c.admitPods(t, objs, ns)

	other := c.env.Namespace(t)
	sa := d.Spec.Template.Spec.ServiceAccountName
	allow := append(agentAccess(ns), agentAccess(other)...)
	allow = append(allow,
		access{verb: "list", group: "apps", resource: "deployments"}, // inventory across the cluster
		access{verb: "list", resource: "pods"},
		access{verb: "create", resource: "namespaces"},
		access{verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterroles"},
	)
	deny := []access{
		{verb: "escalate", group: "rbac.authorization.k8s.io", resource: "clusterroles"},
		{verb: "impersonate", resource: "serviceaccounts", namespace: other},
	}
	c.checkAccess(t, ns, sa, allow, deny)
}

func TestAgentNamespaceScoped(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs := render(t, "brokkr-agent", "team-a", ns, ciValues(t, "brokkr-agent", "namespace-values.yaml")...)

	d, env := agentBasics(t, objs)
	if d.Name != "team-a-brokkr-agent" {
		t.Errorf("Deployment name = %s, want team-a-brokkr-agent", d.Name)
	}
	wantEnvValue(t, env, "BROKKR__AGENT__WATCH_NAMESPACE", ns)
	wantEnvValue(t, env, "BROKKR__AGENT__BROKER_URL", "https://brokkr.example.com")
	wantEnvValue(t, env, "BROKKR__AGENT__POLLING_INTERVAL", "10")
	wantEnvSecret(t, env, "BROKKR__AGENT__PAK", "team-a-brokkr-agent", "pak")
	data, _ := secretData(t, objs, "team-a-brokkr-agent")
	if data["pak"] != "brokkr_BRexample_notarealkeynotarealkey00" {
		t.Errorf("Secret pak = %q, want the value from the values file", data["pak"])
	}

	kinds := kindCounts(objs)
	for kind, want := range map[string]int{"ClusterRole": 0, "ClusterRoleBinding": 0, "Role": 1, "RoleBinding": 1, "Service": 0, "ServiceMonitor": 0} {
		if kinds[kind] != want {
			t.Errorf("rendered %d %s, want %d (all: %v)", kinds[kind], kind, want, kinds)
		}
	}
	role := one[rbacv1.Role](t, objs, "Role")
	rb := one[rbacv1.RoleBinding](t, objs, "RoleBinding")
	if role.Namespace != ns || rb.Namespace != ns {
		t.Errorf("Role in %q and RoleBinding in %q, want both in %s", role.Namespace, rb.Namespace, ns)
	}
	if rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name {
		t.Errorf("RoleBinding refers to %+v, want Role %s", rb.RoleRef, role.Name)
	}
	if len(rb.Subjects) != 1 || rb.Subjects[0].Name != d.Spec.Template.Spec.ServiceAccountName || rb.Subjects[0].Namespace != ns {
		t.Errorf("RoleBinding subjects = %+v, want the agent's service account in %s", rb.Subjects, ns)
	}

	c.dryRunApply(t, objs, ns)
	var rbac []*unstructured.Unstructured
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
		rbac = append(rbac, ofKind(objs, kind)...)
	}
	c.apply(t, rbac, ns)
	c.admitPods(t, objs, ns)

	other := c.env.Namespace(t)
	deny := []access{
		{verb: "create", group: "apps", resource: "deployments", namespace: other},
		{verb: "get", resource: "pods", subresource: "log", namespace: other},
		{verb: "list", resource: "pods"},
		{verb: "list", resource: "namespaces"},
		{verb: "create", group: "rbac.authorization.k8s.io", resource: "clusterroles"},
	}
	c.checkAccess(t, ns, d.Spec.Template.Spec.ServiceAccountName, agentAccess(ns), deny)
}
