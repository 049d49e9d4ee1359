package monitoring

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
)

// Window is the time range a dashboard is drawn over.
type Window struct {
	Start, End   time.Time
	Step         time.Duration
	RateInterval string // what $__rate_interval stands for
}

// Line is one series of a panel.
type Line struct {
	Legend string
	Times  []time.Time
	Values []float64 // NaN where the series has no value
}

// PanelData is what a panel shows: lines for a time series, one value for a stat.
type PanelData struct {
	Panel Panel
	Lines []Line
	Stat  float64 // NaN when the stat's query returned nothing
	Err   error   // the first query that failed
}

// NewEngine returns a PromQL engine for Evaluate.
func NewEngine() *promql.Engine {
	return promql.NewEngine(promql.EngineOpts{
		MaxSamples: 50_000_000, Timeout: time.Minute, LookbackDelta: 5 * time.Minute, Parser: Parser,
	})
}

// Evaluate runs every query of every panel of d over w, as Grafana would with every
// variable set to All.
func Evaluate(ctx context.Context, eng *promql.Engine, q storage.Queryable, d Dashboard, w Window) []PanelData {
	values, verr := Variables(ctx, q, d, w)
	var out []PanelData
	for _, p := range d.Panels {
		pd := PanelData{Panel: p, Stat: math.NaN(), Err: verr}
		for _, t := range p.Targets {
			expr := Expand(t.Expr, w.RateInterval, values)
			if p.Type == "stat" {
				v, err := instant(ctx, eng, q, expr, w.End)
				if err != nil && pd.Err == nil {
					pd.Err = fmt.Errorf("%s: %w", t.Expr, err)
				}
				pd.Stat = v
				continue
			}
			lines, err := rangeQuery(ctx, eng, q, expr, t.LegendFormat, w)
			if err != nil && pd.Err == nil {
				pd.Err = fmt.Errorf("%s: %w", t.Expr, err)
			}
			pd.Lines = append(pd.Lines, lines...)
		}
		out = append(out, pd)
	}
	return out
}

// Variables resolves the dashboard's label_values(selector, label) variables over w, in
// order (a variable's selector may use the ones before it), each set to All: a regular
// expression matching every value found, as Grafana sends it.
func Variables(ctx context.Context, q storage.Queryable, d Dashboard, w Window) (map[string]string, error) {
	values := map[string]string{}
	qr, err := q.Querier(w.Start.UnixMilli(), w.End.UnixMilli())
	if err != nil {
		return nil, err
	}
	defer qr.Close()
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValuesRE.FindStringSubmatch(v.QueryText())
		if m == nil {
			return nil, fmt.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.QueryText())
		}
		matchers, err := Parser.ParseMetricSelector(Expand(m[1], w.RateInterval, values))
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		found, _, err := qr.LabelValues(ctx, m[2], nil, matchers...)
		if err != nil {
			return nil, fmt.Errorf("variable %s: %w", v.Name, err)
		}
		quoted := make([]string, len(found))
		for i, f := range found {
			quoted[i] = regexp.QuoteMeta(f)
		}
		values[v.Name] = "(" + strings.Join(quoted, "|") + ")"
	}
	return values, nil
}

var labelValuesRE = regexp.MustCompile(`^label_values\((.*),\s*(\w+)\s*\)$`)

func instant(ctx context.Context, eng *promql.Engine, q storage.Queryable, expr string, at time.Time) (float64, error) {
	qry, err := eng.NewInstantQuery(ctx, q, nil, expr, at)
	if err != nil {
		return math.NaN(), err
	}
	defer qry.Close()
	res := qry.Exec(ctx)
	if res.Err != nil {
		return math.NaN(), res.Err
	}
	switch v := res.Value.(type) {
	case promql.Vector:
		if len(v) == 0 {
			return math.NaN(), nil
		}
		return v[0].F, nil
	case promql.Scalar:
		return v.V, nil
	}
	return math.NaN(), fmt.Errorf("unexpected result %s", res.Value.Type())
}

func rangeQuery(ctx context.Context, eng *promql.Engine, q storage.Queryable, expr, legend string, w Window) ([]Line, error) {
	qry, err := eng.NewRangeQuery(ctx, q, nil, expr, w.Start, w.End, w.Step)
	if err != nil {
		return nil, err
	}
	defer qry.Close()
	m, err := qry.Exec(ctx).Matrix()
	if err != nil {
		return nil, err
	}
	var times []time.Time
	for t := w.Start; !t.After(w.End); t = t.Add(w.Step) {
		times = append(times, t)
	}
	var out []Line
	for _, s := range m {
		l := Line{Legend: legendOf(legend, s.Metric), Times: times, Values: make([]float64, len(times))}
		for i := range l.Values {
			l.Values[i] = math.NaN()
		}
		for _, p := range s.Floats {
			i := int(time.UnixMilli(p.T).Sub(w.Start) / w.Step)
			if i >= 0 && i < len(l.Values) {
				l.Values[i] = p.F
			}
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b Line) int { return strings.Compare(a.Legend, b.Legend) })
	return out, nil
}

var legendRE = regexp.MustCompile(`\{\{\s*(\w+)\s*\}\}`)

// legendOf fills a Grafana legend format ({{label}}) from a series' labels; without a
// format, the labels themselves.
func legendOf(format string, ls labels.Labels) string {
	if format == "" {
		return ls.String()
	}
	return strings.TrimSpace(legendRE.ReplaceAllStringFunc(format, func(m string) string {
		return ls.Get(legendRE.FindStringSubmatch(m)[1])
	}))
}
