package monitoring

import (
	"fmt"
	"slices"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// Parser is the PromQL parser of the checks and of the engine: Prometheus' defaults.
var Parser = parser.NewParser(parser.Options{})

// MetricNames parses a PromQL expression and returns the metric names its selectors name,
// sorted and without repeats. A selector without a metric name is an error: every query of
// the dashboards and rules must say which metric it reads.
func MetricNames(expr string) ([]string, error) {
	e, err := Parser.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	var missing error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		if name == "" {
			missing = fmt.Errorf("selector %s names no metric", vs)
			return nil
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
		return nil
	})
	if missing != nil {
		return nil, missing
	}
	slices.Sort(names)
	return names, nil
}

// PrometheusSeries are the series Prometheus itself adds to every scrape; the rules may use
// them besides what brokkr exports.
var PrometheusSeries = []string{"up", "scrape_duration_seconds", "scrape_samples_scraped"}
