package deploytest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// TestBrokerPrometheusRule: the broker chart renders a PrometheusRule only when
// monitoring.prometheusRule.enabled is set, and it carries the rule groups of
// deploy/monitoring/alerts.yaml unchanged, with the extra labels asked for.
func TestBrokerPrometheusRule(t *testing.T) {
	url := []string{"--set", "database.external.url=postgres://db/brokkr"}
	if n := len(ofKind(render(t, "brokkr-broker", "brokkr-broker", "brokkr", url...), "PrometheusRule")); n != 0 {
		t.Fatalf("%d PrometheusRules rendered by default, want none", n)
	}
	objs := render(t, "brokkr-broker", "eu1", "brokkr", append(url,
		"--set", "monitoring.prometheusRule.enabled=true",
		"--set", "monitoring.prometheusRule.labels.release=prometheus")...)
	rules := ofKind(objs, "PrometheusRule")
	if len(rules) != 1 {
		t.Fatalf("%d PrometheusRules rendered, want 1 (kinds: %v)", len(rules), kindCounts(objs))
	}
	pr := rules[0]
	if pr.GetAPIVersion() != "monitoring.coreos.com/v1" || pr.GetName() != "eu1-brokkr-broker" || pr.GetNamespace() != "brokkr" {
		t.Errorf("PrometheusRule %s %s/%s", pr.GetAPIVersion(), pr.GetNamespace(), pr.GetName())
	}
	if l := pr.GetLabels(); l["release"] != "prometheus" || l["app.kubernetes.io/part-of"] != "brokkr" {
		t.Errorf("PrometheusRule labels %v lack the chart's labels or monitoring.prometheusRule.labels", l)
	}

	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "monitoring", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	j, err := utilyaml.ToJSON(raw)
	if err != nil {
		t.Fatalf("deploy/monitoring/alerts.yaml: %v", err)
	}
	var file struct {
		Groups []any `json:"groups"`
	}
	if err := json.Unmarshal(j, &file); err != nil || len(file.Groups) == 0 {
		t.Fatalf("deploy/monitoring/alerts.yaml has no groups (%v)", err)
	}
	spec, _ := pr.Object["spec"].(map[string]any)
	rendered, err := json.Marshal(spec["groups"])
	if err != nil {
		t.Fatal(err)
	}
	var got []any
	if err := json.Unmarshal(rendered, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, file.Groups) {
		t.Fatalf("the PrometheusRule's groups differ from deploy/monitoring/alerts.yaml:\n%s", rendered)
	}
	names := map[string]bool{}
	for _, g := range got {
		name, _ := g.(map[string]any)["name"].(string)
		names[name] = true
	}
	for _, want := range []string{"brokkr-broker", "brokkr-webhooks", "brokkr-fleet", "brokkr-agent"} {
		if !names[want] {
			t.Errorf("rule group %s missing from the PrometheusRule (groups: %v)", want, names)
		}
	}
}
