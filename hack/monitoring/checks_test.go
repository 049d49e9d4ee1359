package monitoring

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/brokkr/brokkr/db/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// root is the repository root, two levels above this module.
var root = filepath.Join("..", "..")

func repoPath(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }

// exported returns every series name brokkr exports, by the list in metrics.txt.
func exported(t *testing.T) map[string]Metric {
	t.Helper()
	list, err := ReadMetricList(repoPath(MetricList))
	if err != nil {
		t.Fatalf("%v (the main module's `go test ./hack/metricnames -update` writes it)", err)
	}
	if len(list) < 40 {
		t.Fatalf("metrics.txt lists %d metrics; it should hold every family of both binaries", len(list))
	}
	out := map[string]Metric{}
	for _, m := range list {
		for _, s := range m.Series() {
			out[s] = m
		}
	}
	return out
}

// checkNames fails for each metric of expr that brokkr does not export.
func checkNames(t *testing.T, where, expr string, known map[string]Metric) {
	t.Helper()
	names, err := MetricNames(expr)
	if err != nil {
		t.Errorf("%s: %v\n%s", where, err, expr)
		return
	}
	for _, n := range names {
		if _, ok := known[n]; !ok && !slices.Contains(PrometheusSeries, n) {
			t.Errorf("%s: %s is not exported by brokkr-broker or brokkr-agent (deploy/monitoring/metrics.txt)", where, n)
		}
	}
}

func dashboards(t *testing.T) []Dashboard {
	t.Helper()
	ds, err := ReadDashboards(repoPath(DashboardsDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range ds {
		names = append(names, d.File)
	}
	if !slices.Equal(names, []string{"agents", "broker", "fleet"}) {
		t.Fatalf("dashboards %v, want agents, broker and fleet", names)
	}
	return ds
}

// TestDashboardQueries parses every panel and variable query of every dashboard with
// Prometheus' parser, and checks every metric they read is one brokkr exports.
func TestDashboardQueries(t *testing.T) {
	known := exported(t)
	for _, d := range dashboards(t) {
		n := 0
		for _, p := range d.Panels {
			for _, tg := range p.Targets {
				checkNames(t, fmt.Sprintf("%s: panel %q %s", d.File, p.Title, tg.RefID), Expand(tg.Expr, "5m", nil), known)
				n++
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != "query" {
				continue
			}
			q := v.QueryText()
			inner, ok := strings.CutPrefix(q, "label_values(")
			if !ok || !strings.HasSuffix(inner, ")") {
				t.Errorf("%s: variable %s: query %q is not label_values(selector, label)", d.File, v.Name, q)
				continue
			}
			sel := inner[:strings.LastIndexByte(inner, ',')]
			checkNames(t, fmt.Sprintf("%s: variable %s", d.File, v.Name), Expand(sel, "5m", nil), known)
		}
		if n < 10 {
			t.Errorf("%s: %d queries; the dashboards were meant to be fuller", d.File, n)
		}
	}
}

// TestDashboardModel checks what Grafana needs to import the dashboards anywhere: a current
// schema, a ${datasource} variable every panel uses, unique ids and a grid without overlaps.
func TestDashboardModel(t *testing.T) {
	uids := map[string]bool{}
	for _, d := range dashboards(t) {
		if d.SchemaVersion < 41 {
			t.Errorf("%s: schemaVersion %d, want Grafana 12's (41) or later", d.File, d.SchemaVersion)
		}
		if d.UID == "" || uids[d.UID] || !strings.HasPrefix(d.UID, "brokkr-") {
			t.Errorf("%s: uid %q missing, repeated or without the brokkr- prefix", d.File, d.UID)
		}
		uids[d.UID] = true
		vars := map[string]Variable{}
		for _, v := range d.Templating.List {
			vars[v.Name] = v
		}
		if ds, ok := vars["datasource"]; !ok || ds.Type != "datasource" || ds.QueryText() != "prometheus" {
			t.Errorf("%s: no datasource variable of Prometheus data sources", d.File)
		}
		for name, v := range vars {
			if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
				t.Errorf("%s: variable %s does not query ${datasource}", d.File, name)
			}
		}
		if d.File == "agents" {
			if v, ok := vars["agent"]; !ok || !v.Multi || !v.IncludeAll {
				t.Errorf("agents: no multi-value agent variable")
			}
		}
		checkPanels(t, d, vars)
	}
}

func checkPanels(t *testing.T, d Dashboard, vars map[string]Variable) {
	t.Helper()
	ids := map[int]bool{}
	var cells = map[[2]int]string{}
	usesAgent := 0
	for _, p := range d.Panels {
		if ids[p.ID] {
			t.Errorf("%s: panel id %d repeated", d.File, p.ID)
		}
		ids[p.ID] = true
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.X+g.W > 24 {
			t.Errorf("%s: panel %q off the grid: %+v", d.File, p.Title, g)
		}
		for x := g.X; x < g.X+g.W; x++ {
			for y := g.Y; y < g.Y+g.H; y++ {
				if other, ok := cells[[2]int{x, y}]; ok {
					t.Errorf("%s: panels %q and %q overlap", d.File, other, p.Title)
				}
				cells[[2]int{x, y}] = p.Title
			}
		}
		if p.Type == "row" {
			continue
		}
		if p.Type != "timeseries" && p.Type != "stat" {
			t.Errorf("%s: panel %q of type %s", d.File, p.Title, p.Type)
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Description == "" || len(p.Targets) == 0 {
			t.Errorf("%s: panel %q needs the ${datasource}, a description and queries", d.File, p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource == nil || tg.Datasource.UID != "${datasource}" {
				t.Errorf("%s: panel %q query %s does not use ${datasource}", d.File, p.Title, tg.RefID)
			}
			for _, m := range variableRE.FindAllStringSubmatch(tg.Expr, -1) {
				name := m[1] + m[2]
				if _, ok := vars[name]; !ok && !strings.HasPrefix(name, "__") {
					t.Errorf("%s: panel %q uses $%s, which the dashboard does not define", d.File, p.Title, name)
				}
				if name == "agent" {
					usesAgent++
				}
			}
		}
	}
	if d.File == "agents" && usesAgent < 10 {
		t.Errorf("agents: only %d queries follow the agent variable", usesAgent)
	}
}

// TestAlertRules loads the rules file as Prometheus does (rulefmt: groups, durations,
// labels, annotation templates, PromQL), then checks what an operator needs: a severity, a
// summary and a description, a sane for:, and metrics brokkr exports.
func TestAlertRules(t *testing.T) {
	known := exported(t)
	groups, errs := rulefmt.ParseFile(repoPath(RulesFile), false, model.UTF8Validation, Parser, promslog.NewNopLogger())
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	alerts := map[string]bool{}
	for _, g := range groups.Groups {
		if !strings.HasPrefix(g.Name, "brokkr-") || len(g.Rules) == 0 {
			t.Errorf("group %q: name it brokkr-… and give it rules", g.Name)
		}
		for _, r := range g.Rules {
			where := fmt.Sprintf("%s/%s", g.Name, r.Alert)
			if r.Alert == "" {
				t.Errorf("%s: a recording rule; this file holds alerts", g.Name)
				continue
			}
			if alerts[r.Alert] {
				t.Errorf("%s: alert name repeated", where)
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "critical" && s != "warning" && s != "info" {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description"} {
				if len(r.Annotations[a]) < 20 {
					t.Errorf("%s: annotation %s missing or too short", where, a)
				}
			}
			if f := time.Duration(r.For); f > time.Hour {
				t.Errorf("%s: for: %s, more than an hour", where, f)
			}
			if expr, _ := Parser.ParseExpr(r.Expr); expr != nil && time.Duration(r.For) == 0 && !counterIncrease(expr) {
				t.Errorf("%s: fires on one evaluation; give it a for: unless it reads an increase", where)
			}
			checkNames(t, where, r.Expr, known)
		}
	}
	for _, want := range []string{"BrokkrBrokerDown", "BrokkrBrokerHighErrorRate", "BrokkrBrokerOverloaded",
		"BrokkrWebhookDeliveriesDead", "BrokkrAgentHeartbeatsStale", "BrokkrAgentApplyFailures", "BrokkrDatabaseUnavailable"} {
		if !alerts[want] {
			t.Errorf("no alert %s", want)
		}
	}
}

// counterIncrease reports whether an expression reads an increase of a counter (an event
// that happened, which needs no for:) or a gauge that is a fact as soon as it is seen.
func counterIncrease(e parser.Expr) bool {
	found := false
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if c, ok := n.(*parser.Call); ok && c.Func.Name == "increase" {
			found = true
		}
		if vs, ok := n.(*parser.VectorSelector); ok && vs.Name == "brokkr_default_admin_pak_hash_in_use" {
			found = true
		}
		return nil
	})
	return found
}

// TestChartEmbedsTheRules: deploy/monitoring/alerts.yaml is a link to the broker chart's
// files/alerts.yaml, which the chart's PrometheusRule reads with .Files.Get, so the rules have
// one copy (a link out of a chart would make helm warn on every render).
func TestChartEmbedsTheRules(t *testing.T) {
	link := repoPath(RulesFile)
	target, err := os.Readlink(link)
	if err != nil {
		t.Fatalf("%s is not a link to the chart's files/alerts.yaml: %v", RulesFile, err)
	}
	if got, want := filepath.Clean(filepath.Join(filepath.Dir(link), target)), filepath.Clean(repoPath(ChartRulesFile)); got != want {
		t.Fatalf("%s links to %s, want %s", RulesFile, got, want)
	}
	tpl, err := os.ReadFile(repoPath("deploy/charts/brokkr-broker/templates/prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(tpl), `.Files.Get "files/alerts.yaml"`) {
		t.Fatal("the PrometheusRule template does not embed files/alerts.yaml")
	}
}
