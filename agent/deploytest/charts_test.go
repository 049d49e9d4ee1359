package deploytest

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

func ciValues(t testing.TB, chart, file string) []string {
	return []string{"-f", filepath.Join(chartDir(t, chart), "ci", file)}
}

// container returns the Deployment's only container.
func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.Name, n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// envOf returns the container's environment by name, failing on a repeated name.
func envOf(t *testing.T, c corev1.Container) map[string]corev1.EnvVar {
	t.Helper()
	m := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if _, dup := m[e.Name]; dup {
			t.Errorf("container %s sets %s twice", c.Name, e.Name)
		}
		m[e.Name] = e
	}
	return m
}

func wantEnvValue(t *testing.T, env map[string]corev1.EnvVar, name, value string) {
	t.Helper()
	e, ok := env[name]
	switch {
	case !ok:
		t.Errorf("%s is not set", name)
	case e.ValueFrom != nil || e.Value != value:
		t.Errorf("%s = %q (valueFrom %v), want %q", name, e.Value, e.ValueFrom, value)
	}
}

func wantEnvSecret(t *testing.T, env map[string]corev1.EnvVar, name, secret, key string) {
	t.Helper()
	e, ok := env[name]
	if !ok {
		t.Errorf("%s is not set", name)
		return
	}
	if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("%s must come from a Secret, got %+v", name, e)
		return
	}
	if ref := e.ValueFrom.SecretKeyRef; ref.Name != secret || ref.Key != key {
		t.Errorf("%s comes from Secret %s key %s, want %s key %s", name, ref.Name, ref.Key, secret, key)
	}
}

func wantNoEnv(t *testing.T, env map[string]corev1.EnvVar, name string) {
	t.Helper()
	if e, ok := env[name]; ok {
		t.Errorf("%s is set (%+v), want it unset", name, e)
	}
}

// checkHardened asserts the pod runs as the non-root distroless user with a read-only root
// filesystem, no privilege escalation, no capabilities and the runtime's seccomp profile.
func checkHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ps := d.Spec.Template.Spec.SecurityContext
	if ps == nil {
		t.Fatal("the pod has no securityContext")
	}
	if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if ps.RunAsUser == nil || *ps.RunAsUser != 65532 || ps.RunAsGroup == nil || *ps.RunAsGroup != 65532 {
		t.Errorf("pod runs as %v:%v, want 65532:65532", ps.RunAsUser, ps.RunAsGroup)
	}
	if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile = %+v, want RuntimeDefault", ps.SeccompProfile)
	}
	c := container(t, d)
	cs := c.SecurityContext
	if cs == nil {
		t.Fatal("the container has no securityContext")
	}
	if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
		t.Error("container readOnlyRootFilesystem is not true")
	}
	if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
		t.Error("container allowPrivilegeEscalation is not false")
	}
	if cs.RunAsNonRoot == nil || !*cs.RunAsNonRoot {
		t.Error("container runAsNonRoot is not true")
	}
	if cs.Capabilities == nil || !slices.Equal(cs.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(cs.Capabilities.Add) > 0 {
		t.Errorf("container capabilities = %+v, want drop [ALL] and nothing added", cs.Capabilities)
	}
	if cs.Privileged != nil && *cs.Privileged {
		t.Error("container is privileged")
	}
	// A read-only root needs a writable /tmp.
	if !slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" && !m.ReadOnly }) {
		t.Error("no writable volume is mounted at /tmp")
	}
}

// checkProbe asserts an HTTP GET probe of path on the named container port.
func checkProbe(t *testing.T, what string, p *corev1.Probe, path, port string) {
	t.Helper()
	switch {
	case p == nil:
		t.Errorf("no %s probe", what)
	case p.HTTPGet == nil:
		t.Errorf("%s probe is not an HTTP GET: %+v", what, p.ProbeHandler)
	case p.HTTPGet.Path != path || p.HTTPGet.Port.String() != port:
		t.Errorf("%s probe GETs %s on port %s, want %s on %s", what, p.HTTPGet.Path, p.HTTPGet.Port.String(), path, port)
	}
}

// checkPort asserts the container exposes port number under name.
func checkPort(t *testing.T, c corev1.Container, name string, number int32) {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			if p.ContainerPort != number {
				t.Errorf("container port %s = %d, want %d", name, p.ContainerPort, number)
			}
			return
		}
	}
	t.Errorf("container has no port named %s (ports %+v)", name, c.Ports)
}

// checkSelects asserts the selector matches the Deployment's pod labels.
func checkSelects(t *testing.T, what string, selector map[string]string, d *appsv1.Deployment) {
	t.Helper()
	if len(selector) == 0 {
		t.Errorf("%s has an empty selector", what)
	}
	for k, v := range selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("%s selects %s=%s, which the pods of %s do not carry", what, k, v, d.Name)
		}
	}
}

// checkServiceMonitor asserts the ServiceMonitor scrapes /metrics on the Service's port.
func checkServiceMonitor(t *testing.T, objs []*unstructured.Unstructured, svc *corev1.Service, port string) {
	t.Helper()
	sms := ofKind(objs, "ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("%d ServiceMonitors rendered, want 1", len(sms))
	}
	sm := sms[0]
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
		t.Errorf("ServiceMonitor apiVersion = %s", sm.GetAPIVersion())
	}
	match, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	for k, v := range match {
		if svc.Labels[k] != v {
			t.Errorf("ServiceMonitor selects %s=%s, which Service %s does not carry", k, v, svc.Name)
		}
	}
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 {
		t.Fatalf("ServiceMonitor has %d endpoints, want 1", len(eps))
	}
	ep, _ := eps[0].(map[string]any)
	if ep["port"] != port || ep["path"] != "/metrics" {
		t.Errorf("ServiceMonitor endpoint = %v, want port %s path /metrics", ep, port)
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return p.Name == port }) {
		t.Errorf("Service %s has no port named %s for the ServiceMonitor", svc.Name, port)
	}
}

// secretData returns the decoded data of the named rendered Secret.
func secretData(t *testing.T, objs []*unstructured.Unstructured, name string) (map[string]string, *corev1.Secret) {
	t.Helper()
	for _, u := range ofKind(objs, "Secret") {
		if u.GetName() != name {
			continue
		}
		s := convert[corev1.Secret](t, u)
		out := map[string]string{}
		for k, v := range s.Data {
			out[k] = string(v)
		}
		for k, v := range s.StringData {
			out[k] = v
		}
		return out, s
	}
	t.Fatalf("no Secret %s rendered (kinds %v)", name, kindCounts(objs))
	return nil, nil
}

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestBrokerExternalDatabaseSecret(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs := render(t, "brokkr-broker", "brokkr-broker", ns, ciValues(t, "brokkr-broker", "external-values.yaml")...)

	kinds := kindCounts(objs)
	for kind, want := range map[string]int{
		"Deployment": 1, "Service": 1, "ServiceAccount": 1, "ServiceMonitor": 1, "PodDisruptionBudget": 1,
		"Secret": 0, "PersistentVolumeClaim": 0,
	} {
		if kinds[kind] != want {
			t.Errorf("rendered %d %s, want %d (all: %v)", kinds[kind], kind, want, kinds)
		}
	}
	d := one[appsv1.Deployment](t, objs, "Deployment")
	if d.Name != "brokkr-broker" {
		t.Errorf("Deployment name = %s", d.Name)
	}
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %v, want 3", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		t.Error("an external-database broker should roll, not recreate")
	}
	checkHardened(t, d)
	ctr := container(t, d)
	if want := "ghcr.io/brokkr/brokkr-broker:" + appVersion(t, "brokkr-broker"); ctr.Image != want {
		t.Errorf("image = %s, want %s", ctr.Image, want)
	}
	checkPort(t, ctr, "http", 3000)
	checkProbe(t, "liveness", ctr.LivenessProbe, "/healthz", "http")
	checkProbe(t, "readiness", ctr.ReadinessProbe, "/readyz", "http")
	checkProbe(t, "startup", ctr.StartupProbe, "/healthz", "http")

	env := envOf(t, ctr)
	wantEnvValue(t, env, "BROKKR__BROKER__LISTEN_ADDR", "0.0.0.0:3000")
	wantEnvSecret(t, env, "BROKKR__DATABASE__URL", "brokkr-db", "url")
	wantEnvSecret(t, env, "BROKKR__BROKER__PAK_HASH", "brokkr-admin", "pak-hash")
	wantEnvSecret(t, env, "BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", "brokkr-webhook", "webhook-encryption-key")
	wantEnvValue(t, env, "BROKKR__DATABASE__SCHEMA", "brokkr")
	wantEnvValue(t, env, "BROKKR__DATABASE__MAX_CONNECTIONS", "20")
	wantEnvValue(t, env, "BROKKR__LOG__FORMAT", "json")
	wantEnvValue(t, env, "BROKKR__CORS__ALLOWED_ORIGINS", "https://console.example.com")
	wantEnvValue(t, env, "BROKKR__BROKER__AUDIT_LOG_RETENTION_DAYS", "180")
	wantNoEnv(t, env, "BROKKR__DATABASE__DATA_DIR")
	if f := env["BROKKR__BROKER__ADMIN_KEY_FILE"].Value; !strings.HasPrefix(f, "/tmp/") {
		t.Errorf("admin key file %q is not on the writable /tmp volume", f)
	}
	if a := d.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
		t.Error("the broker does not use the Kubernetes API: its token must not be mounted")
	}

	sa := one[corev1.ServiceAccount](t, objs, "ServiceAccount")
	if d.Spec.Template.Spec.ServiceAccountName != sa.Name {
		t.Errorf("pods use service account %s, the chart creates %s", d.Spec.Template.Spec.ServiceAccountName, sa.Name)
	}
	svc := one[corev1.Service](t, objs, "Service")
	checkSelects(t, "Service", svc.Spec.Selector, d)
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 3000 || svc.Spec.Ports[0].TargetPort.String() != "http" {
		t.Errorf("Service ports = %+v, want http 3000 -> http", svc.Spec.Ports)
	}
	checkServiceMonitor(t, objs, svc, "http")
	if sm := ofKind(objs, "ServiceMonitor")[0]; sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack metrics.serviceMonitor.labels", sm.GetLabels())
	}
	pdb := one[policyv1.PodDisruptionBudget](t, objs, "PodDisruptionBudget")
	checkSelects(t, "PodDisruptionBudget", pdb.Spec.Selector.MatchLabels, d)

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}

func TestBrokerExternalDatabaseURLValue(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	const url = "postgres://brokkr:s3cret@db.example.com:5432/brokkr?sslmode=require"
	const hash = "AB00CD11EF22AB00CD11EF22AB00CD11EF22AB00CD11EF22AB00CD11EF22AB00"
	objs := render(t, "brokkr-broker", "eu1", ns,
		"--set", "database.external.url="+url,
		"--set", "adminPak.hash="+hash,
		"--set", "replicaCount=1")

	d := one[appsv1.Deployment](t, objs, "Deployment")
	if d.Name != "eu1-brokkr-broker" {
		t.Errorf("Deployment name = %s, want eu1-brokkr-broker", d.Name)
	}
	env := envOf(t, container(t, d))
	wantEnvSecret(t, env, "BROKKR__DATABASE__URL", "eu1-brokkr-broker", "database-url")
	wantEnvSecret(t, env, "BROKKR__BROKER__PAK_HASH", "eu1-brokkr-broker", "pak-hash")
	wantEnvSecret(t, env, "BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", "eu1-brokkr-broker-webhook-key", "webhook-encryption-key")
	wantNoEnv(t, env, "BROKKR__DATABASE__SCHEMA")

	data, _ := secretData(t, objs, "eu1-brokkr-broker")
	if data["database-url"] != url {
		t.Errorf("Secret database-url = %q, want %q", data["database-url"], url)
	}
	if data["pak-hash"] != strings.ToLower(hash) {
		t.Errorf("Secret pak-hash = %q, want the lower-case hash", data["pak-hash"])
	}
	keyData, keySecret := secretData(t, objs, "eu1-brokkr-broker-webhook-key")
	if !hex64.MatchString(keyData["webhook-encryption-key"]) {
		t.Errorf("generated webhook key %q is not 64 hex digits", keyData["webhook-encryption-key"])
	}
	if keySecret.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the generated webhook key Secret must survive helm uninstall (helm.sh/resource-policy: keep)")
	}
	// The pod template carries a checksum of the chart's Secret, so that a changed URL or hash
	// rolls the pods.
	other := render(t, "brokkr-broker", "eu1", ns,
		"--set", "database.external.url="+url+"&application_name=x",
		"--set", "adminPak.hash="+hash, "--set", "replicaCount=1")
	od := one[appsv1.Deployment](t, other, "Deployment")
	if d.Spec.Template.Annotations["checksum/secret"] == od.Spec.Template.Annotations["checksum/secret"] {
		t.Error("changing the database URL does not change the pod template's checksum/secret")
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}

func TestBrokerEmbeddedDatabase(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs := render(t, "brokkr-broker", "brokkr-broker", ns, ciValues(t, "brokkr-broker", "embedded-values.yaml")...)

	d := one[appsv1.Deployment](t, objs, "Deployment")
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas = %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy = %q, want Recreate (one postmaster per data directory)", d.Spec.Strategy.Type)
	}
	checkHardened(t, d)
	ctr := container(t, d)
	if want := "ghcr.io/brokkr/brokkr-broker:" + appVersion(t, "brokkr-broker") + "-postgres"; ctr.Image != want {
		t.Errorf("image = %s, want %s (the image with PostgreSQL)", ctr.Image, want)
	}
	checkProbe(t, "liveness", ctr.LivenessProbe, "/healthz", "http")
	checkProbe(t, "readiness", ctr.ReadinessProbe, "/readyz", "http")
	env := envOf(t, ctr)
	wantNoEnv(t, env, "BROKKR__DATABASE__URL")
	wantEnvValue(t, env, "BROKKR__DATABASE__DATA_DIR", "/var/lib/brokkr/postgres")
	wantEnvValue(t, env, "BROKKR__BROKER__ADMIN_KEY_FILE", "/var/lib/brokkr/admin-pak")
	wantEnvSecret(t, env, "BROKKR__BROKER__PAK_HASH", "brokkr-broker", "pak-hash")
	wantEnvSecret(t, env, "BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY", "brokkr-broker-webhook-key", "webhook-encryption-key")

	pvc := one[corev1.PersistentVolumeClaim](t, objs, "PersistentVolumeClaim")
	if got := pvc.Spec.Resources.Requests.Storage().String(); got != "5Gi" {
		t.Errorf("PVC size = %s, want 5Gi", got)
	}
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("the database PVC must survive helm uninstall")
	}
	var claim string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != pvc.Name {
		t.Errorf("volume data uses claim %q, the chart creates %q", claim, pvc.Name)
	}
	if !slices.ContainsFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "data" && m.MountPath == "/var/lib/brokkr" }) {
		t.Error("the data volume is not mounted at /var/lib/brokkr")
	}
	if fs := d.Spec.Template.Spec.SecurityContext.FSGroup; fs == nil || *fs != 65532 {
		t.Errorf("fsGroup = %v, want 65532 so the broker can write the volume", fs)
	}
	if p := d.Spec.Template.Spec.SecurityContext.FSGroupChangePolicy; p == nil || *p != corev1.FSGroupChangeOnRootMismatch {
		t.Errorf("fsGroupChangePolicy = %v, want OnRootMismatch (PostgreSQL refuses a group-writable data directory)", p)
	}
	data, _ := secretData(t, objs, "brokkr-broker")
	if !hex64.MatchString(data["pak-hash"]) {
		t.Errorf("pak-hash %q is not 64 lower-case hex digits", data["pak-hash"])
	}
	if _, ok := data["database-url"]; ok {
		t.Error("embedded mode must not carry a database URL")
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}

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
