package deploytest

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/brokkr/brokkr/internal/config"
)

// Stand-ins for the values the pods read from Secrets.
const (
	secretDatabaseURL = "postgres://brokkr:s3cret@db.example.com:5432/brokkr?sslmode=require"
	secretHex64       = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
	secretAgentPAK    = "brokkr_BRexample_notarealkeynotarealkey00"
)

// brokerConfigRefused are the keys the broker chart refuses in `config`: secrets, and the keys
// it sets from values of its own.
var brokerConfigRefused = []string{
	"database.url", "broker.pak_hash", "broker.webhook_encryption_key",
	"database.schema", "database.max_connections", "database.data_dir",
	"broker.listen_addr", "broker.admin_key_file", "broker.config_watch", "log.level", "log.format",
}

// configVolume checks that the Deployment mounts the ConfigMap named cm, whole and read-only,
// at dir (never through a subPath, which the kubelet does not update), and returns the
// ConfigMap's mount.
func configVolume(t *testing.T, d *appsv1.Deployment, cm, dir string) {
	t.Helper()
	vol := slices.IndexFunc(d.Spec.Template.Spec.Volumes, func(v corev1.Volume) bool {
		return v.ConfigMap != nil && v.ConfigMap.Name == cm
	})
	if vol < 0 {
		t.Fatalf("no volume of the pod holds ConfigMap %s (volumes %+v)", cm, d.Spec.Template.Spec.Volumes)
	}
	name := d.Spec.Template.Spec.Volumes[vol].Name
	ctr := container(t, d)
	m := slices.IndexFunc(ctr.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == name })
	if m < 0 {
		t.Fatalf("volume %s (ConfigMap %s) is not mounted", name, cm)
	}
	mount := ctr.VolumeMounts[m]
	if mount.MountPath != dir || mount.SubPath != "" || mount.SubPathExpr != "" || !mount.ReadOnly {
		t.Errorf("ConfigMap %s is mounted as %+v, want the whole volume read-only at %s (a subPath never sees updates)", cm, mount, dir)
	}
}

// podFiles lays the ConfigMap's data out as the kubelet does (files reached through the
// "..data" symlink of a timestamped directory) and returns the directory.
func podFiles(t *testing.T, cm *corev1.ConfigMap) string {
	t.Helper()
	dir := t.TempDir()
	const stamp = "..2026_01_01_00_00_00.000000001"
	if err := os.Mkdir(filepath.Join(dir, stamp), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(stamp, filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	for name, content := range cm.Data {
		if err := os.WriteFile(filepath.Join(dir, stamp, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// podEnviron returns the container's environment as the program sees it: plain values as
// rendered, Secret references replaced through secrets (by variable name), and paths under
// mountDir moved to dir.
func podEnviron(t *testing.T, c corev1.Container, secrets map[string]string, mountDir, dir string) []string {
	t.Helper()
	var env []string
	for _, e := range c.Env {
		v := e.Value
		if e.ValueFrom != nil {
			s, ok := secrets[e.Name]
			if !ok {
				t.Fatalf("%s comes from %+v; the test has no stand-in for it", e.Name, e.ValueFrom)
			}
			v = s
		}
		if rest, ok := strings.CutPrefix(v, mountDir+"/"); ok {
			v = filepath.Join(dir, rest)
		}
		env = append(env, e.Name+"="+v)
	}
	return env
}

// TestBrokerConfigFile: the broker chart writes `config` and its own hot settings into a
// ConfigMap mounted whole at /etc/brokkr, named by BROKKR_CONFIG_FILE, with the watch on and
// no secret in it; the broker loads that file together with the pod's environment, without
// a warning, to the settings the values asked for.
func TestBrokerConfigFile(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)
	objs := render(t, "brokkr-broker", "brokkr-broker", ns, ciValues(t, "brokkr-broker", "day2-values.yaml")...)

	d := one[appsv1.Deployment](t, objs, "Deployment")
	cm := one[corev1.ConfigMap](t, objs, "ConfigMap")
	if cm.Name != "brokkr-broker-config" {
		t.Errorf("ConfigMap name = %s, want brokkr-broker-config", cm.Name)
	}
	if len(cm.Data) != 1 || cm.Data["broker.yaml"] == "" {
		t.Fatalf("ConfigMap data keys %v, want broker.yaml only", slices.Collect(maps.Keys(cm.Data)))
	}
	for _, secret := range []string{"url", "pak_hash", "webhook_encryption_key", "postgres"} {
		if strings.Contains(cm.Data["broker.yaml"], secret) {
			t.Errorf("the ConfigMap mentions %q; secrets stay in Secrets:\n%s", secret, cm.Data["broker.yaml"])
		}
	}
	configVolume(t, d, cm.Name, "/etc/brokkr")
	ctr := container(t, d)
	env := envOf(t, ctr)
	wantEnvValue(t, env, "BROKKR_CONFIG_FILE", "/etc/brokkr/broker.yaml")
	// Set in the environment, log.level would override the file and never reload.
	wantNoEnv(t, env, "BROKKR__LOG__LEVEL")
	wantNoEnv(t, env, "BROKKR__BROKER__CONFIG_WATCH")
	for k := range d.Spec.Template.Annotations {
		if strings.HasPrefix(k, "checksum/") && k != "checksum/secret" && k != "checksum/config-restart" {
			t.Errorf("pod template annotation %s: only the settings needing a restart may roll the pods", k)
		}
	}

	dir := podFiles(t, cm)
	environ := podEnviron(t, ctr, map[string]string{
		"BROKKR__DATABASE__URL":                  secretDatabaseURL,
		"BROKKR__BROKER__PAK_HASH":               secretHex64,
		"BROKKR__BROKER__WEBHOOK_ENCRYPTION_KEY": secretHex64,
	}, "/etc/brokkr", dir)
	b, warnings, err := config.LoadBroker(config.LoadOptions{Environ: environ})
	if err != nil {
		t.Fatalf("the broker does not load the chart's configuration: %v\nfile:\n%s", err, cm.Data["broker.yaml"])
	}
	if len(warnings) > 0 {
		t.Errorf("loading the chart's configuration warns: %q", warnings)
	}
	if !b.Broker.ConfigWatch {
		t.Error("broker.config_watch is off: edits of the ConfigMap would not apply")
	}
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"log.level", b.Log.Level, "debug"},
		{"log.format", b.Log.Format, "json"},
		{"broker.audit_log_retention_days", b.Broker.AuditLogRetentionDays, 180},
		{"broker.webhook_delivery_batch_size", b.Broker.WebhookDeliveryBatchSize, 100},
		{"broker.shutdown_timeout_seconds", b.Broker.ShutdownTimeoutSeconds, 25},
		{"cors.allowed_origins", strings.Join(b.CORS.AllowedOrigins, ","), "https://console.example.com"},
		{"cors.max_age_seconds", b.CORS.MaxAgeSeconds, 600},
		{"telemetry.broker.service_name", b.Telemetry.Broker.ServiceName, "brokkr-broker-eu1"},
		{"database.url", b.Database.URL, secretDatabaseURL},
		{"broker.listen_addr", b.Broker.ListenAddr, "0.0.0.0:3000"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.key, tc.got, tc.want)
		}
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}

// TestBrokerConfigRestartChecksum: a change of hot settings alone leaves the pod template as
// it is (the broker applies it from the watched file), while a change of any other key of
// the file changes the template, so that `helm upgrade` rolls the pods. The chart's list of
// hot keys is the broker's own.
func TestBrokerConfigRestartChecksum(t *testing.T) {
	base := []string{"--set", "database.external.url=postgres://db/brokkr"}
	state := func(t *testing.T, args ...string) (restart, file string) {
		t.Helper()
		objs := render(t, "brokkr-broker", "brokkr-broker", "brokkr", append(slices.Clone(base), args...)...)
		d := one[appsv1.Deployment](t, objs, "Deployment")
		restart = d.Spec.Template.Annotations["checksum/config-restart"]
		if restart == "" {
			t.Fatal("the pod template has no checksum/config-restart annotation")
		}
		return restart, one[corev1.ConfigMap](t, objs, "ConfigMap").Data["broker.yaml"]
	}
	restart0, file0 := state(t)

	var hot []string
	for _, key := range config.BrokerHotKeys() {
		if key == "log.level" {
			hot = append(hot, "--set", "log.level=debug")
			continue
		}
		hot = append(hot, "--set", "config."+key+"=7")
	}
	restart, file := state(t, hot...)
	if file == file0 {
		t.Fatalf("setting every hot key left the configuration file unchanged:\n%s", file)
	}
	if restart != restart0 {
		t.Errorf("changing only hot keys changes checksum/config-restart, so helm upgrade would restart the broker for nothing:\n%s", file)
	}

	if restart, _ := state(t, "--set", "configFile.watch=false"); restart == restart0 {
		t.Error("turning configFile.watch off does not restart the broker, which reads broker.config_watch at start")
	}
	for _, key := range config.BrokerKeys() {
		if slices.Contains(config.BrokerHotKeys(), key) || slices.Contains(brokerConfigRefused, key) {
			continue
		}
		t.Run(key, func(t *testing.T) {
			if restart, _ := state(t, "--set", "config."+key+"=7"); restart == restart0 {
				t.Errorf("%s needs a restart, but changing it leaves checksum/config-restart as it is", key)
			}
		})
	}
}

// TestAgentConfigFile: the agent chart renders no ConfigMap without `config`; with it, the
// file is mounted and named by BROKKR_CONFIG_FILE, the agent loads it with the pod's
// environment without a warning, and the pod template's checksum changes with the file, as
// the agent reads it only at start.
func TestAgentConfigFile(t *testing.T) {
	c := getCluster(t)
	ns := c.restrictedNamespace(t)

	plain := render(t, "brokkr-agent", "brokkr-agent", ns, ciValues(t, "brokkr-agent", "cluster-values.yaml")...)
	if n := len(ofKind(plain, "ConfigMap")); n != 0 {
		t.Errorf("%d ConfigMaps rendered without config, want none", n)
	}
	wantNoEnv(t, envOf(t, container(t, one[appsv1.Deployment](t, plain, "Deployment"))), "BROKKR_CONFIG_FILE")

	values := ciValues(t, "brokkr-agent", "day2-values.yaml")
	objs := render(t, "brokkr-agent", "brokkr-agent", ns, values...)
	d, env := agentBasics(t, objs)
	cm := one[corev1.ConfigMap](t, objs, "ConfigMap")
	configVolume(t, d, cm.Name, "/etc/brokkr")
	wantEnvValue(t, env, "BROKKR_CONFIG_FILE", "/etc/brokkr/agent.yaml")
	if strings.Contains(cm.Data["agent.yaml"], "pak") {
		t.Errorf("the agent's ConfigMap mentions its PAK:\n%s", cm.Data["agent.yaml"])
	}

	dir := podFiles(t, cm)
	environ := podEnviron(t, container(t, d), map[string]string{"BROKKR__AGENT__PAK": secretAgentPAK}, "/etc/brokkr", dir)
	a, warnings, err := config.LoadAgent(config.LoadOptions{Environ: environ})
	if err != nil {
		t.Fatalf("the agent does not load the chart's configuration: %v\nfile:\n%s", err, cm.Data["agent.yaml"])
	}
	if len(warnings) > 0 {
		t.Errorf("loading the chart's configuration warns: %q", warnings)
	}
	s := a.Agent
	if s.ApplyConcurrency != 16 || s.DeploymentHealthInterval != 120 ||
		!slices.Equal(s.GeneratorIDs, []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301"}) {
		t.Errorf("agent settings from the file: apply_concurrency %d, deployment_health_interval %d, generator_ids %v",
			s.ApplyConcurrency, s.DeploymentHealthInterval, s.GeneratorIDs)
	}
	if s.PAK != secretAgentPAK || s.BrokerURL != "http://brokkr-broker.brokkr.svc:3000" || s.AgentName != "agent-eu1" {
		t.Errorf("agent settings from the environment: pak %q, broker_url %q, agent_name %q", s.PAK, s.BrokerURL, s.AgentName)
	}

	sum := d.Spec.Template.Annotations["checksum/config"]
	changed := one[appsv1.Deployment](t, render(t, "brokkr-agent", "brokkr-agent", ns,
		append(values, "--set", "config.agent.apply_concurrency=4")...), "Deployment")
	if sum == "" || changed.Spec.Template.Annotations["checksum/config"] == sum {
		t.Errorf("checksum/config %q does not follow the file: the agent would keep running with the old settings", sum)
	}

	c.dryRunApply(t, objs, ns)
	c.apply(t, ofKind(objs, "ServiceAccount"), ns)
	c.admitPods(t, objs, ns)
}
