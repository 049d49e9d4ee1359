package monitoring

import (
	"context"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	images  = flag.Bool("images", false, "run the broker for a few minutes and rewrite docs/images/dashboard-*.svg")
	outFlag = flag.String("out", "", "write the drawings of the short run into this directory")
)

// TestDashboardImages runs a real broker with simulated agents, scrapes it into a TSDB and
// evaluates every panel of every dashboard with the PromQL engine. Every query must run,
// the panels that any running broker fills must have data, and each dashboard is drawn as
// an SVG. With -images the run lasts four minutes and the drawings replace
// docs/images/dashboard-<name>.svg (make dashboards-images); without, it lasts a few seconds
// and the drawings go to a temporary directory.
func TestDashboardImages(t *testing.T) {
	o := runOptions{Duration: 8 * time.Second, Scrape: 500 * time.Millisecond, Agents: 4, Stacks: 2}
	out := t.TempDir()
	if *outFlag != "" {
		out = *outFlag
	}
	if *images {
		o = runOptions{Duration: 4 * time.Minute, Scrape: 2 * time.Second, Agents: 10, Stacks: 4}
		out = repoPath(ImagesDir)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	rec := realRun(t, o)
	eng := NewEngine()
	note := fmt.Sprintf("a %s run of a real broker (2 replicas) and %d simulated agents, scraped every %s",
		o.Duration, o.Agents, o.Scrape)
	for _, d := range dashboards(t) {
		data := Evaluate(context.Background(), eng, rec.DB, d, rec.Window)
		for _, pd := range data {
			if pd.Err != nil {
				t.Errorf("%s: panel %q: %v", d.File, pd.Panel.Title, pd.Err)
			}
		}
		checkFilled(t, d.File, data)
		svg := SVG(d, data, rec.Window, note)
		if err := wellFormed(svg); err != nil {
			t.Fatalf("%s: the SVG is not well-formed XML: %v", d.File, err)
		}
		path := filepath.Join(out, "dashboard-"+d.File+".svg")
		if err := os.WriteFile(path, []byte(svg), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// mustHaveData are panels every run fills, whatever its length.
var mustHaveData = map[string][]string{
	"broker": {"Replicas ready", "Requests", "Requests by route", "Latency", "Connection pool",
		"Worker runs", "Connections", "Agent channel messages", "Memory"},
	"agents": {"Agents scraped", "Broker and Kubernetes reachable", "Target-state polls",
		"Objects handled by reconcile", "Owned objects", "Telemetry frames sent"},
	"fleet": {"Active agents", "Connected agents", "Stacks", "Deployment objects", "Agents",
		"ACTIVE agents by heartbeat age", "Stalest agents", "Heartbeats, polls and health reports",
		"Kubernetes events and log lines"},
}

// checkFilled fails for a panel of mustHaveData without data.
func checkFilled(t *testing.T, file string, data []PanelData) {
	t.Helper()
	byTitle := map[string]PanelData{}
	for _, pd := range data {
		byTitle[pd.Panel.Title] = pd
	}
	for _, title := range mustHaveData[file] {
		pd, ok := byTitle[title]
		switch {
		case !ok:
			t.Errorf("%s: no panel %q", file, title)
		case pd.Panel.Type == "stat" && (math.IsNaN(pd.Stat) || pd.Stat == 0):
			t.Errorf("%s: stat %q shows %v", file, title, pd.Stat)
		case pd.Panel.Type != "stat" && !hasValues(pd.Lines):
			t.Errorf("%s: panel %q has no data", file, title)
		}
	}
}

func hasValues(lines []Line) bool {
	for _, l := range lines {
		for _, v := range l.Values {
			if !math.IsNaN(v) {
				return true
			}
		}
	}
	return false
}

// wellFormed reads an SVG document through to its end.
func wellFormed(s string) error {
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		if _, err := d.Token(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
