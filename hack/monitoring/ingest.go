package monitoring

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"
)

// ScrapeTarget is one /metrics endpoint scraped into the TSDB, with the job and instance labels
// Prometheus would give its series.
type ScrapeTarget struct {
	URL      string // the /metrics URL
	Job      string
	Instance string
}

// Scraper appends scrapes to a TSDB as a Prometheus server does: with job and instance
// labels, Prometheus' up series, and a staleness marker for every series a target stopped
// exporting (all of them when its scrape fails), so that a target that went away leaves the
// queries at once instead of lingering for the lookback window.
type Scraper struct {
	last map[string]map[uint64]labels.Labels // by target URL: the series of its last scrape
}

// NewScraper returns a Scraper with no history.
func NewScraper() *Scraper { return &Scraper{last: map[string]map[uint64]labels.Labels{}} }

// Scrape reads one target's /metrics and appends its samples at ts.
func (sc *Scraper) Scrape(ctx context.Context, app storage.Appender, t ScrapeTarget, ts time.Time) error {
	ms := ts.UnixMilli()
	fams, scrapeErr := fetch(ctx, t.URL)
	up := 1.0
	if scrapeErr != nil {
		up = 0
	}
	base := []string{"job", t.Job, "instance", t.Instance}
	if _, err := app.Append(0, labels.FromStrings(append([]string{model.MetricNameLabel, "up"}, base...)...), ms, up); err != nil {
		return err
	}
	now := map[uint64]labels.Labels{}
	for name, f := range fams { // none when the scrape failed: every series goes stale
		for _, m := range f.GetMetric() {
			for _, s := range samples(name, f.GetType(), m) {
				lb := labels.NewScratchBuilder(len(m.GetLabel()) + 4)
				lb.Add(model.MetricNameLabel, s.name)
				for i := 0; i < len(base); i += 2 {
					lb.Add(base[i], base[i+1])
				}
				for _, l := range m.GetLabel() {
					lb.Add(l.GetName(), l.GetValue())
				}
				if s.extra != "" {
					lb.Add(s.extra, s.extraValue)
				}
				lb.Sort()
				ls := lb.Labels()
				if _, err := app.Append(0, ls, ms, s.value); err != nil {
					return fmt.Errorf("append %s: %w", s.name, err)
				}
				now[ls.Hash()] = ls
			}
		}
	}
	for h, ls := range sc.last[t.URL] {
		if _, ok := now[h]; !ok {
			if _, err := app.Append(0, ls, ms, math.Float64frombits(value.StaleNaN)); err != nil {
				return fmt.Errorf("mark %s stale: %w", ls, err)
			}
		}
	}
	sc.last[t.URL] = now
	return nil
}

func fetch(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", url, res.Status)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(bytes.NewReader(body))
}

// sample is one float sample of a family's metric.
type sample struct {
	name              string
	extra, extraValue string // an added label: le of a bucket, quantile of a summary
	value             float64
}

// samples flattens a metric the way the text format exposes it.
func samples(name string, typ dto.MetricType, m *dto.Metric) []sample {
	switch typ {
	case dto.MetricType_COUNTER:
		return []sample{{name: name, value: m.GetCounter().GetValue()}}
	case dto.MetricType_GAUGE:
		return []sample{{name: name, value: m.GetGauge().GetValue()}}
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		h := m.GetHistogram()
		out := []sample{{name: name + "_sum", value: h.GetSampleSum()}, {name: name + "_count", value: float64(h.GetSampleCount())}}
		inf := false
		for _, b := range h.GetBucket() {
			inf = inf || math.IsInf(b.GetUpperBound(), 1)
			out = append(out, sample{name: name + "_bucket", extra: "le", extraValue: formatFloat(b.GetUpperBound()),
				value: float64(b.GetCumulativeCount())})
		}
		if !inf {
			out = append(out, sample{name: name + "_bucket", extra: "le", extraValue: "+Inf", value: float64(h.GetSampleCount())})
		}
		return out
	case dto.MetricType_SUMMARY:
		s := m.GetSummary()
		out := []sample{{name: name + "_sum", value: s.GetSampleSum()}, {name: name + "_count", value: float64(s.GetSampleCount())}}
		for _, q := range s.GetQuantile() {
			out = append(out, sample{name: name, extra: "quantile", extraValue: formatFloat(q.GetQuantile()), value: q.GetValue()})
		}
		return out
	}
	return []sample{{name: name, value: m.GetUntyped().GetValue()}}
}

// formatFloat writes le and quantile values as Prometheus' text format does.
func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
