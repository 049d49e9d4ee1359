package deploytest

import (
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
