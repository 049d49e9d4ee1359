package config

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// docPath is the user documentation this package's behaviour is described in.
var docPath = filepath.Join("..", "..", "docs", "configuration.md")

type docBlock struct {
	lang string
	body string
}

// docBlocks returns the fenced code blocks of the configuration documentation.
func docBlocks(t *testing.T) (string, []docBlock) {
	t.Helper()
	raw, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("read documentation: %v", err)
	}
	doc := string(raw)
	var blocks []docBlock
	var cur *docBlock
	for line := range strings.Lines(doc) {
		trimmed := strings.TrimSpace(line)
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &docBlock{lang: strings.TrimPrefix(trimmed, "```")}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.body += line
		}
	}
	return doc, blocks
}

// TestDocumentedFilesLoad loads every TOML and YAML example of the documentation.
func TestDocumentedFilesLoad(t *testing.T) {
	_, blocks := docBlocks(t)
	n := 0
	for i, b := range blocks {
		if b.lang != "toml" && b.lang != "yaml" {
			continue
		}
		n++
		p := writeFile(t, fmt.Sprintf("example%d.%s", i, b.lang), b.body)
		cfg, warnings, err := LoadBroker(LoadOptions{File: p, Environ: testEnv()})
		if err != nil {
			t.Errorf("%s example %d does not load: %v\n%s", b.lang, i, err, b.body)
			continue
		}
		if len(warnings) != 0 {
			t.Errorf("%s example %d has warnings %v", b.lang, i, warnings)
		}
		if reflectEqual(cfg, testDefaults()) {
			t.Errorf("%s example %d changes nothing", b.lang, i)
		}
	}
	if n < 2 {
		t.Errorf("found %d file examples, want at least a TOML and a YAML one", n)
	}
}

var exportRE = regexp.MustCompile(`^export (BROKKR__[A-Z0-9_]+)=(.*)$`)

// TestDocumentedEnvironmentLoads applies the documentation's export lines the way a shell
// would (single quotes removed) and loads them.
func TestDocumentedEnvironmentLoads(t *testing.T) {
	_, blocks := docBlocks(t)
	var env []string
	for _, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		for line := range strings.Lines(b.body) {
			m := exportRE.FindStringSubmatch(strings.TrimSpace(line))
			if m == nil {
				continue
			}
			env = append(env, m[1]+"="+strings.Trim(m[2], "'"))
		}
	}
	if len(env) < 3 {
		t.Fatalf("found %d documented exports", len(env))
	}
	cfg, warnings, err := LoadBroker(LoadOptions{Environ: testEnv(env...)})
	if err != nil {
		t.Fatalf("documented environment does not load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if !slices.Equal(cfg.CORS.AllowedHeaders, []string{"Authorization", "Content-Type", "X-Request-Id"}) {
		t.Errorf("JSON list example loaded as %q", cfg.CORS.AllowedHeaders)
	}
	if len(cfg.CORS.AllowedOrigins) != 2 {
		t.Errorf("comma list example loaded as %q", cfg.CORS.AllowedOrigins)
	}
}

// TestDocumentedKeyTable checks that every key has a row naming its environment variable
// and a Hot column that agrees with BrokerHotKeys, and that no row names an unknown key.
func TestDocumentedKeyTable(t *testing.T) {
	doc, _ := docBlocks(t)
	rows := map[string]string{}
	rowRE := regexp.MustCompile("^\\| `([a-z_.]+)` \\|")
	for line := range strings.Lines(doc) {
		if m := rowRE.FindStringSubmatch(line); m != nil && strings.Count(line, "|") >= 6 {
			rows[m[1]] = line
		}
	}
	keys := BrokerKeys()
	for _, key := range keys {
		row, ok := rows[key]
		if !ok {
			t.Errorf("%s is not documented", key)
			continue
		}
		if !strings.Contains(row, "`"+EnvName(key)+"`") {
			t.Errorf("row of %s lacks %s", key, EnvName(key))
		}
		hot := strings.Contains(row, "| **yes** |")
		if hot != slices.Contains(BrokerHotKeys(), key) {
			t.Errorf("row of %s says hot=%v", key, hot)
		}
	}
	for key := range rows {
		if !slices.Contains(keys, key) {
			t.Errorf("documented key %s does not exist", key)
		}
	}
}

func reflectEqual(a, b Broker) bool { return len(DynamicChanges(a, b))+len(StaticChanges(a, b)) == 0 }
