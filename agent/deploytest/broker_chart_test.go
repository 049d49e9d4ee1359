package deploytest

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

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
