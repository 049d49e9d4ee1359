package deploytest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// repoRoot returns the repository root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatalf("repository root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "deploy", "charts")); err != nil {
		t.Fatalf("repository root %s has no deploy/charts: %v", root, err)
	}
	return root
}

func chartDir(t testing.TB, chart string) string {
	return filepath.Join(repoRoot(t), "deploy", "charts", chart)
}

var helmBin struct {
	sync.Once
	path string
	err  error
}

// helmPath returns the helm binary: $HELM, else the one `make helm-check` caches, built on the
// first call when it is missing. Without helm the test skips, or fails under CI=true.
func helmPath(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("HELM"); p != "" {
		return p
	}
	root := repoRoot(t)
	helmBin.Do(func() { helmBin.path, helmBin.err = cachedHelm(root, t.Logf) })
	if helmBin.err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("helm: %v", helmBin.err)
		}
		t.Skipf("helm: %v (set HELM, or run `make helm-check`)", helmBin.err)
	}
	return helmBin.path
}

// helmToolsKey is the cache key of the helm build: the first 16 hex digits of the SHA-256 of
// hack/helm/go.mod, go.sum and build.sh, as the Makefile computes it.
func helmToolsKey(root string) (string, error) {
	h := sha256.New()
	for _, name := range []string{"go.mod", "go.sum", "build.sh"} {
		b, err := os.ReadFile(filepath.Join(root, "hack", "helm", name))
		if err != nil {
			return "", fmt.Errorf("helm tools key: %w", err)
		}
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// cachedHelm returns ~/.cache/brokkr/tools/helm-<key>/helm, building it with hack/helm/build.sh
// into a temporary directory that is renamed into place when complete.
func cachedHelm(root string, logf func(string, ...any)) (string, error) {
	key, err := helmToolsKey(root)
	if err != nil {
		return "", err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("helm cache: %w", err)
	}
	dir := filepath.Join(home, ".cache", "brokkr", "tools", "helm-"+key)
	bin := filepath.Join(dir, "helm")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", fmt.Errorf("helm cache: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "helm-"+key+".tmp-")
	if err != nil {
		return "", fmt.Errorf("helm cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	logf("building helm into %s (hack/helm/build.sh); this takes minutes the first time", dir)
	start := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, "hack", "helm", "build.sh"))
	cmd.Env = append(os.Environ(), "OUT="+tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build helm with hack/helm/build.sh: %w\n%s", err, out)
	}
	logf("built helm in %s", time.Since(start).Round(time.Second))
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(bin); serr == nil {
			return bin, nil // built concurrently by another process
		}
		return "", fmt.Errorf("helm cache: %w", err)
	}
	return bin, nil
}

// runHelm runs helm with its configuration, cache and data directories inside the test's
// temporary directory, and returns stdout and stderr.
func runHelm(t testing.TB, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmPath(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
		"KUBECONFIG="+filepath.Join(home, "no-kubeconfig"),
	)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}

// render runs `helm template` for chart as release in namespace ns and parses the output.
func render(t testing.TB, chart, release, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	full := append([]string{"template", release, chartDir(t, chart), "--namespace", ns}, args...)
	out, errOut, err := runHelm(t, full...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(full, " "), err, errOut)
	}
	objs, err := parseManifests(out)
	if err != nil {
		t.Fatalf("parse the output of helm template: %v\n%s", err, out)
	}
	if len(objs) == 0 {
		t.Fatalf("helm template rendered no objects:\n%s", out)
	}
	return objs
}

// renderError runs `helm template` expecting it to fail, and returns its error output.
func renderError(t testing.TB, chart string, args ...string) string {
	t.Helper()
	full := append([]string{"template", "bad", chartDir(t, chart), "--namespace", "bad"}, args...)
	out, errOut, err := runHelm(t, full...)
	if err == nil {
		t.Fatalf("helm %s succeeded, want an error; rendered:\n%s", strings.Join(full, " "), out)
	}
	return errOut
}

// parseManifests splits a multi-document YAML stream into objects, skipping empty documents.
func parseManifests(s string) ([]*unstructured.Unstructured, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	var objs []*unstructured.Unstructured
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read document: %w", err)
		}
		j, err := utilyaml.ToJSON(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objs)+1, err)
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			return nil, fmt.Errorf("document %d: %w", len(objs)+1, err)
		}
		objs = append(objs, u)
	}
}

// ofKind returns the objects of the given kind.
func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// one returns the single object of kind, converted to T.
func one[T any](t testing.TB, objs []*unstructured.Unstructured, kind string) *T {
	t.Helper()
	found := ofKind(objs, kind)
	if len(found) != 1 {
		t.Fatalf("rendered %d objects of kind %s, want 1 (kinds: %v)", len(found), kind, kindCounts(objs))
	}
	return convert[T](t, found[0])
}

func convert[T any](t testing.TB, u *unstructured.Unstructured) *T {
	t.Helper()
	var v T
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, &v, true); err != nil {
		t.Fatalf("%s %s does not convert to %T: %v", u.GetKind(), u.GetName(), v, err)
	}
	return &v
}

// kindCounts returns how many objects of each kind were rendered.
func kindCounts(objs []*unstructured.Unstructured) map[string]int {
	m := map[string]int{}
	for _, o := range objs {
		m[o.GetKind()]++
	}
	return m
}

// appVersion reads the chart's appVersion, the default image tag.
func appVersion(t testing.TB, chart string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(chartDir(t, chart), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := utilyaml.ToJSON(b)
	if err != nil {
		t.Fatalf("Chart.yaml: %v", err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := json.Unmarshal(j, &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml: no appVersion (%v)", err)
	}
	return c.AppVersion
}

func TestHelmToolsKeyMatchesMakefile(t *testing.T) {
	root := repoRoot(t)
	key, err := helmToolsKey(root)
	if err != nil {
		t.Fatal(err)
	}
	// The Makefile hashes `cat go.mod go.sum build.sh`; the test must find the same cache entry.
	cmd := exec.Command("bash", "-c", "cat go.mod go.sum build.sh | sha256sum | cut -c1-16")
	cmd.Dir = filepath.Join(root, "hack", "helm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sha256sum: %v", err)
	}
	if got := strings.TrimSpace(string(out)); got != key {
		t.Fatalf("helm tools key = %s, the Makefile's = %s", key, got)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(mk, []byte("$(HOME)/.cache/brokkr/tools/helm-$(HELM_KEY)")) {
		t.Fatal("the Makefile no longer caches helm under $(HOME)/.cache/brokkr/tools/helm-$(HELM_KEY); keep cachedHelm in step")
	}
}

func TestHelmLint(t *testing.T) {
	for _, chart := range []string{"brokkr-broker", "brokkr-agent"} {
		files, err := filepath.Glob(filepath.Join(chartDir(t, chart), "ci", "*-values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) < 2 {
			t.Fatalf("%s: %d ci/*-values.yaml files, want at least 2", chart, len(files))
		}
		for _, f := range files {
			t.Run(chart+"/"+filepath.Base(f), func(t *testing.T) {
				out, errOut, err := runHelm(t, "lint", "--strict", chartDir(t, chart), "-f", f)
				if err != nil {
					t.Fatalf("helm lint --strict: %v\n%s%s", err, out, errOut)
				}
				if !strings.Contains(out, "0 chart(s) failed") {
					t.Fatalf("helm lint output does not report success:\n%s", out)
				}
			})
		}
	}
}

func TestChartsRejectBadValues(t *testing.T) {
	cases := []struct {
		name, chart string
		args        []string
		want        string
	}{
		{"broker without database URL", "brokkr-broker", nil, "database.mode=external needs the PostgreSQL URL"},
		{"broker unknown database mode", "brokkr-broker", []string{"--set", "database.mode=sqlite"}, "mode"},
		{"broker embedded with two replicas", "brokkr-broker",
			[]string{"--set", "database.mode=embedded", "--set", "replicaCount=2"}, "replicaCount must be 1"},
		{"broker bad PAK hash", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "adminPak.hash=abc"}, "adminPak.hash must be 64 hexadecimal"},
		{"broker bad webhook key", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "webhookEncryptionKey.value=xyz"}, "webhookEncryptionKey.value must be 64 hexadecimal"},
		{"broker env repeats a chart setting", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "env.BROKKR__DATABASE__URL=postgres://other/db"}, "env.BROKKR__DATABASE__URL is set by the chart"},
		{"broker config holds a secret", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "config.broker.pak_hash=" + strings.Repeat("ab", 32)},
			"config.broker.pak_hash is a secret and never goes into the ConfigMap"},
		{"broker config repeats a chart setting", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "config.log.level=debug"}, "config.log.level is set by the chart; use log.level"},
		{"broker env overrides config", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "config.cors.max_age_seconds=60",
				"--set", "env.BROKKR__CORS__MAX_AGE_SECONDS=120"}, "env.BROKKR__CORS__MAX_AGE_SECONDS overrides the same key in config"},
		{"broker config without the file", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "configFile.enabled=false",
				"--set", "config.broker.audit_log_retention_days=10"}, "it needs configFile.enabled=true"},
		{"broker config section is not a map", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "config.broker=x"}, "/config/broker"},
		{"broker disruption budget blocks every eviction", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "replicaCount=1", "--set", "podDisruptionBudget.enabled=true"},
			"would forbid every voluntary eviction"},
		{"broker ingress path without a slash", "brokkr-broker",
			[]string{"--set", "database.external.url=postgres://db/brokkr", "--set", "ingress.enabled=true",
				"--set", "ingress.hosts[0].host=b.example.com", "--set", "ingress.hosts[0].paths[0].path=api"}, "path"},
		{"agent without broker URL", "brokkr-agent",
			[]string{"--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c"}, "broker.url is required"},
		{"agent with a bad broker URL", "brokkr-agent",
			[]string{"--set", "broker.url=broker:3000", "--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c"}, "broker.url must be an http:// or https:// URL"},
		{"agent without PAK", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "agentName=a", "--set", "clusterName=c"}, "the agent needs its PAK"},
		{"agent without cluster name", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "pak.value=k", "--set", "agentName=a"}, "clusterName is required"},
		{"agent env repeats a chart setting", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c",
				"--set", "env.BROKKR__AGENT__WATCH_NAMESPACE=x"}, "env.BROKKR__AGENT__WATCH_NAMESPACE is set by the chart"},
		{"agent config holds the PAK", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c",
				"--set", "config.agent.pak=k"}, "config.agent.pak is a secret and never goes into the ConfigMap"},
		{"agent config repeats a chart setting", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c",
				"--set", "config.agent.watch_namespace=x"}, "config.agent.watch_namespace is set by the chart"},
		{"agent env overrides config", "brokkr-agent",
			[]string{"--set", "broker.url=http://b:3000", "--set", "pak.value=k", "--set", "agentName=a", "--set", "clusterName=c",
				"--set", "config.agent.apply_concurrency=4", "--set", "env.BROKKR__AGENT__APPLY_CONCURRENCY=8"},
			"env.BROKKR__AGENT__APPLY_CONCURRENCY overrides config.agent.apply_concurrency"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if msg := renderError(t, tc.chart, tc.args...); !strings.Contains(msg, tc.want) {
				t.Fatalf("helm template error does not mention %q:\n%s", tc.want, msg)
			}
		})
	}
}
