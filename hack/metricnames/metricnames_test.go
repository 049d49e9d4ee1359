// Package metricnames keeps deploy/monitoring/metrics.txt, the list of every metric that
// brokkr-broker and brokkr-agent export, true: the test builds both registries in process
// (a real broker on its own database, the agent's registry as the agent builds it) and
// compares what they describe with the file. `go test ./hack/metricnames -update` rewrites
// it. The dashboards' and alert rules' check (hack/monitoring) reads the file.
package metricnames

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/brokkr/brokkr/agent/httpserver"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
)

var update = flag.Bool("update", false, "rewrite deploy/monitoring/metrics.txt")

func TestMain(m *testing.M) { dbtest.Main(m) }

// listPath is the golden list, relative to this package.
var listPath = filepath.Join("..", "..", "deploy", "monitoring", "metrics.txt")

// family is one metric family as the list records it.
type family struct {
	name, typ, help string
	labels          []string
	components      []string
}

func (f family) line() string {
	labels := "-"
	if len(f.labels) > 0 {
		labels = strings.Join(f.labels, ",")
	}
	return strings.Join([]string{strings.Join(f.components, ","), f.name, f.typ, labels, f.help}, "\t")
}

const header = `# Every metric brokkr-broker and brokkr-agent export, one family a line, tab-separated:
# component(s), name, type, labels, help. Histograms are exported as <name>_bucket{le},
# <name>_sum and <name>_count. Written by ` + "`go test ./hack/metricnames -update`" + `; do not edit.
`

func TestMetricList(t *testing.T) {
	if runtime.GOOS != "linux" {
		if os.Getenv("CI") == "true" {
			t.Fatal("the metric list is written on Linux, where CI runs")
		}
		t.Skip("the process collector exports other metrics outside Linux")
	}
	broker := brokerFamilies(t)
	agentReg := httpserver.NewRegistry()
	m := httpserver.NewMetrics(agentReg)
	m.ObservePoll(time.Millisecond, nil) // the histograms without labels have series from the start
	agent := families(t, "agent", agentReg)

	merged := map[string]family{}
	for _, f := range append(broker, agent...) {
		if prev, ok := merged[f.name]; ok {
			if prev.typ != f.typ || !slices.Equal(prev.labels, f.labels) {
				t.Errorf("%s is a %s%v in the broker and a %s%v in the agent", f.name, prev.typ, prev.labels, f.typ, f.labels)
			}
			prev.components = append(prev.components, f.components...)
			merged[f.name] = prev
			continue
		}
		merged[f.name] = f
	}
	names := make([]string, 0, len(merged))
	for n := range merged {
		names = append(names, n)
	}
	slices.Sort(names)
	var b strings.Builder
	b.WriteString(header)
	for _, n := range names {
		b.WriteString(merged[n].line() + "\n")
	}
	got := b.String()
	if *update {
		if err := os.WriteFile(listPath, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(listPath)
	if err != nil {
		t.Fatalf("%v (run `go test ./hack/metricnames -update`)", err)
	}
	if string(want) != got {
		t.Fatalf("deploy/monitoring/metrics.txt is out of date; run `go test ./hack/metricnames -update`. Now:\n%s", got)
	}
}

// brokerFamilies starts a real broker and gives every family of its registry a series: an
// agent sends a heartbeat over REST and over its WebSocket, the workers run.
func brokerFamilies(t *testing.T) []family {
	t.Helper()
	b := servertest.Start(t)
	a := b.CreateAgent(t, "golden", "c1", true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Client.Agents().Heartbeat(ctx, a.ID, nil); err != nil {
		t.Fatal(err)
	}
	ch, err := a.Client.AgentChannel(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	body, _ := json.Marshal(client.Heartbeat{AgentID: a.ID, SentAt: time.Now()})
	if err := ch.Send(ctx, client.WSMessage{Type: client.WSHeartbeat, Body: body}); err != nil {
		t.Fatal(err)
	}
	reg := b.Server.MetricsRegistry()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if missing := withoutSeries(t, reg); len(missing) == 0 || time.Now().After(deadline) {
			break
		}
	}
	return families(t, "broker", reg)
}

// withoutSeries names the families a registry describes but has no series of yet.
func withoutSeries(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, mf := range gathered {
		have[mf.GetName()] = true
	}
	var missing []string
	for _, d := range describe(t, reg) {
		if !have[d.name] {
			missing = append(missing, d.name)
		}
	}
	return missing
}

var (
	descRE       = regexp.MustCompile(`^Desc\{fqName: ("(?:[^"\\]|\\.)*"), help: ("(?:[^"\\]|\\.)*"), unit: "[^"]*", constLabels: \{(.*)\}, variableLabels: \{([^}]*)\}\}$`)
	constLabelRE = regexp.MustCompile(`(?:^|,)([a-zA-Z_][a-zA-Z0-9_]*)="`)
)

// describe returns the name, help and labels of every descriptor a registry holds.
func describe(t *testing.T, reg *prometheus.Registry) []family {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() { reg.Describe(ch); close(ch) }()
	var out []family
	for d := range ch {
		m := descRE.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		name, err1 := strconv.Unquote(m[1])
		help, err2 := strconv.Unquote(m[2])
		if err1 != nil || err2 != nil {
			t.Fatalf("cannot read descriptor %s", d)
		}
		var labels []string
		for _, c := range constLabelRE.FindAllStringSubmatch(m[3], -1) {
			labels = append(labels, c[1])
		}
		if m[4] != "" {
			labels = append(labels, strings.Split(m[4], ",")...)
		}
		slices.Sort(labels)
		out = append(out, family{name: name, help: help, labels: labels})
	}
	return out
}

// families returns a registry's families with their types, which only gathered series tell:
// a family without any series fails the test.
func families(t *testing.T, component string, reg *prometheus.Registry) []family {
	t.Helper()
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, mf := range gathered {
		types[mf.GetName()] = typeName(mf.GetType())
	}
	var out []family
	for _, f := range describe(t, reg) {
		f.typ = types[f.name]
		if f.typ == "" {
			t.Errorf("%s: %s has no series, so its type is unknown; create its series up front", component, f.name)
			continue
		}
		f.components = []string{component}
		out = append(out, f)
	}
	return out
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	case dto.MetricType_SUMMARY:
		return "summary"
	}
	return fmt.Sprintf("untyped(%v)", t)
}

// TestObservabilityDocListsEveryMetric: docs/observability.md names every brokkr metric of
// the list.
func TestObservabilityDocListsEveryMetric(t *testing.T) {
	list, err := os.ReadFile(listPath)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "observability.md"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(list)) {
		cols := strings.Split(line, "\t")
		if len(cols) < 2 || !strings.HasPrefix(cols[1], "brokkr_") {
			continue
		}
		if !strings.Contains(string(doc), "`"+cols[1]+"`") {
			t.Errorf("docs/observability.md does not describe %s", cols[1])
		}
	}
}
