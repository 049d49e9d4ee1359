// Package monitoring checks and draws brokkr's monitoring files in deploy/monitoring: the
// Grafana dashboards, the Prometheus alert rules and the list of exported metrics
// (metrics.txt, kept true by the main module's hack/metricnames test). Its tests parse every
// PromQL expression with Prometheus' own parser and check that each metric it names is one
// brokkr exports; `make dashboards-images` runs a real broker, scrapes it into a Prometheus
// TSDB, evaluates every panel and draws each dashboard as an SVG into docs/images.
//
// It is a Go module of its own, so that the main module never depends on Prometheus.
package monitoring

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Paths of the files this package reads and writes, relative to the repository root.
const (
	MonitoringDir = "deploy/monitoring"
	DashboardsDir = "deploy/monitoring/dashboards"
	RulesFile     = "deploy/monitoring/alerts.yaml" // a link to ChartRulesFile
	// ChartRulesFile is the rules file itself, inside the broker chart for its PrometheusRule.
	ChartRulesFile = "deploy/charts/brokkr-broker/files/alerts.yaml"
	MetricList     = "deploy/monitoring/metrics.txt"
	ImagesDir      = "docs/images"
)

// Metric is one family of deploy/monitoring/metrics.txt.
type Metric struct {
	Components []string // broker, agent
	Name       string
	Type       string // counter, gauge, histogram, summary
	Labels     []string
	Help       string
}

// Series returns the names of the series the family is exported as: a histogram as
// _bucket, _sum and _count, a summary as itself (its quantiles), _sum and _count.
func (m Metric) Series() []string {
	switch m.Type {
	case "histogram":
		return []string{m.Name + "_bucket", m.Name + "_sum", m.Name + "_count"}
	case "summary":
		return []string{m.Name, m.Name + "_sum", m.Name + "_count"}
	}
	return []string{m.Name}
}

// ReadMetricList reads metrics.txt.
func ReadMetricList(path string) ([]Metric, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Metric
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		cols := strings.Split(line, "\t")
		if len(cols) != 5 {
			return nil, fmt.Errorf("%s:%d: %d columns, want 5", path, n, len(cols))
		}
		m := Metric{Components: strings.Split(cols[0], ","), Name: cols[1], Type: cols[2], Help: cols[4]}
		if cols[3] != "-" {
			m.Labels = strings.Split(cols[3], ",")
		}
		out = append(out, m)
	}
	return out, sc.Err()
}

// Dashboard is the part of a Grafana dashboard's JSON model this package reads.
type Dashboard struct {
	File          string     `json:"-"` // base name without .json
	Title         string     `json:"title"`
	UID           string     `json:"uid"`
	Description   string     `json:"description"`
	SchemaVersion int        `json:"schemaVersion"`
	Templating    Templating `json:"templating"`
	Panels        []Panel    `json:"panels"`
}

// Templating holds a dashboard's variables.
type Templating struct {
	List []Variable `json:"list"`
}

// Variable is a dashboard variable.
type Variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Datasource *Datasource     `json:"datasource"`
	Multi      bool            `json:"multi"`
	IncludeAll bool            `json:"includeAll"`
}

// QueryText returns a query variable's query, in either of the forms Grafana stores it.
func (v Variable) QueryText() string {
	var s string
	if json.Unmarshal(v.Query, &s) == nil {
		return s
	}
	var q struct {
		Query string `json:"query"`
	}
	_ = json.Unmarshal(v.Query, &q)
	return q.Query
}

// Datasource is a reference to a data source.
type Datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// Panel is a dashboard panel: a row, a time series or a stat.
type Panel struct {
	ID          int         `json:"id"`
	Type        string      `json:"type"`
	Title       string      `json:"title"`
	Description string      `json:"description"`
	GridPos     GridPos     `json:"gridPos"`
	Datasource  *Datasource `json:"datasource"`
	Targets     []Target    `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			Thresholds struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Custom struct {
				Stacking struct {
					Mode string `json:"mode"`
				} `json:"stacking"`
			} `json:"custom"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

// GridPos places a panel on the dashboard's 24-column grid.
type GridPos struct {
	H int `json:"h"`
	W int `json:"w"`
	X int `json:"x"`
	Y int `json:"y"`
}

// Target is one query of a panel.
type Target struct {
	RefID        string      `json:"refId"`
	Expr         string      `json:"expr"`
	LegendFormat string      `json:"legendFormat"`
	Datasource   *Datasource `json:"datasource"`
}

// ReadDashboards reads every dashboard of dir, sorted by file name.
func ReadDashboards(dir string) ([]Dashboard, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []Dashboard
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var d Dashboard
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		d.File = strings.TrimSuffix(filepath.Base(f), ".json")
		out = append(out, d)
	}
	return out, nil
}

var variableRE = regexp.MustCompile(`\$(\w+)|\$\{(\w+)(?::\w+)?\}`)

// Expand replaces the Grafana variables of a panel query: $__rate_interval (and the other
// $__ intervals) by rateInterval, a dashboard variable by its value in values, and any other
// variable, which the dashboards only use as regular-expression matchers, by ".*" (all).
func Expand(expr, rateInterval string, values map[string]string) string {
	return variableRE.ReplaceAllStringFunc(expr, func(v string) string {
		name := strings.Trim(v, "${}")
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[:i]
		}
		if strings.HasPrefix(name, "__") {
			return rateInterval
		}
		if val, ok := values[name]; ok {
			return val
		}
		return ".*"
	})
}
