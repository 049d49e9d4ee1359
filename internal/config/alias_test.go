package config

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const (
	refRetention    = "broker.agent_events_retention_days"
	ourRetention    = "broker.agent_event_retention_days"
	refRetentionEnv = "BROKKR__BROKER__AGENT_EVENTS_RETENTION_DAYS"
	ourRetentionEnv = "BROKKR__BROKER__AGENT_EVENT_RETENTION_DAYS"
)

// oneWarning fails unless warnings is exactly one warning containing every part.
func oneWarning(t *testing.T, warnings []string, parts ...string) {
	t.Helper()
	if len(warnings) != 1 {
		t.Fatalf("warnings = %q, want exactly one", warnings)
	}
	for _, p := range parts {
		if !strings.Contains(warnings[0], p) {
			t.Errorf("warning %q does not contain %q", warnings[0], p)
		}
	}
}

func TestReferenceAliasFromFile(t *testing.T) {
	files := map[string]string{
		"ref.toml": "[broker]\nagent_events_retention_days = 7\n",
		"ref.yaml": "broker:\n  agent_events_retention_days: 7\n",
		"ref.json": `{"broker": {"agent_events_retention_days": 7}}`,
	}
	for name, content := range files {
		t.Run(name, func(t *testing.T) {
			p := writeFile(t, name, content)
			b, warnings := mustLoad(t, LoadOptions{File: p, Environ: testEnv()})
			want := testDefaults()
			want.Broker.AgentEventRetentionDays = 7
			diff(t, b, want)
			oneWarning(t, warnings, "config file "+p, `"`+refRetention+`" is deprecated`,
				`applied to "`+ourRetention+`"`)
		})
	}
}

func TestReferenceAliasFromEnv(t *testing.T) {
	b, warnings := mustLoad(t, LoadOptions{Environ: testEnv(refRetentionEnv + "=0")})
	want := testDefaults()
	want.Broker.AgentEventRetentionDays = 0
	diff(t, b, want)
	oneWarning(t, warnings, "environment variable "+refRetentionEnv+" is deprecated",
		"applied to "+ourRetention, "rename it "+ourRetentionEnv)

	_, _, err := LoadBroker(LoadOptions{Environ: testEnv(refRetentionEnv + "=a month")})
	if err == nil || !strings.Contains(err.Error(), refRetentionEnv+" ("+ourRetention+`): "a month" is not an integer`) {
		t.Errorf("err = %v, want the variable and the key named", err)
	}
}

// TestReferenceAliasConflicts checks that, within one source, brokkr's spelling wins and the
// warning says so, and that between sources the environment overrides the file whatever the
// spelling.
func TestReferenceAliasConflicts(t *testing.T) {
	tests := []struct {
		name  string
		file  string
		env   []string
		want  int
		parts []string
	}{
		{
			name:  "both in the file",
			file:  "[broker]\nagent_events_retention_days = 7\nagent_event_retention_days = 12\n",
			want:  12,
			parts: []string{`"` + refRetention + `" is deprecated and ignored because "` + ourRetention + `" is also set`},
		},
		{
			name:  "both in the environment",
			env:   []string{ourRetentionEnv + "=12", refRetentionEnv + "=7"},
			want:  12,
			parts: []string{refRetentionEnv + " is deprecated and ignored because " + ourRetentionEnv + " is also set"},
		},
		{
			name:  "both in the environment, other order",
			env:   []string{refRetentionEnv + "=7", ourRetentionEnv + "=12"},
			want:  12,
			parts: []string{refRetentionEnv + " is deprecated and ignored because " + ourRetentionEnv + " is also set"},
		},
		{
			name:  "original spelling in the file, brokkr's in the environment",
			file:  "[broker]\nagent_events_retention_days = 7\n",
			env:   []string{ourRetentionEnv + "=12"},
			want:  12,
			parts: []string{`"` + refRetention + `" is deprecated; its value is applied to "` + ourRetention + `"`},
		},
		{
			name:  "brokkr's spelling in the file, original in the environment",
			file:  "[broker]\nagent_event_retention_days = 7\n",
			env:   []string{refRetentionEnv + "=12"},
			want:  12,
			parts: []string{refRetentionEnv + " is deprecated; its value is applied to " + ourRetention},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := LoadOptions{Environ: testEnv(tt.env...)}
			if tt.file != "" {
				o.File = writeFile(t, "b.toml", tt.file)
			}
			b, warnings := mustLoad(t, o)
			if b.Broker.AgentEventRetentionDays != tt.want {
				t.Errorf("%s = %d, want %d", ourRetention, b.Broker.AgentEventRetentionDays, tt.want)
			}
			oneWarning(t, warnings, tt.parts...)
		})
	}
}

func TestReferenceAliasNullKeepsDefault(t *testing.T) {
	p := writeFile(t, "b.yaml", "broker:\n  agent_events_retention_days: ~\n")
	b, warnings := mustLoad(t, LoadOptions{File: p, Environ: testEnv()})
	diff(t, b, testDefaults())
	oneWarning(t, warnings, refRetention, ourRetention)
}

func TestReferenceWatcherVariables(t *testing.T) {
	tests := []struct {
		name  string
		env   []string
		want  bool
		parts []string
	}{
		{"enabled", []string{"BROKKR_CONFIG_WATCHER_ENABLED=true"}, true,
			[]string{"BROKKR_CONFIG_WATCHER_ENABLED is deprecated; its value is applied to broker.config_watch", "BROKKR__BROKER__CONFIG_WATCH"}},
		{"disabled with 0", []string{"BROKKR__BROKER__CONFIG_WATCH=true", "BROKKR_CONFIG_WATCHER_ENABLED=0"}, true,
			[]string{"BROKKR_CONFIG_WATCHER_ENABLED is deprecated and ignored because BROKKR__BROKER__CONFIG_WATCH is also set"}},
		{"debounce", []string{"BROKKR_CONFIG_WATCHER_DEBOUNCE_SECONDS=5"}, false,
			[]string{"environment variable BROKKR_CONFIG_WATCHER_DEBOUNCE_SECONDS is a setting of the original Brokkr that brokkr does not have; ignored", "250ms"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, warnings := mustLoad(t, LoadOptions{Environ: testEnv(tt.env...)})
			if b.Broker.ConfigWatch != tt.want {
				t.Errorf("broker.config_watch = %v, want %v", b.Broker.ConfigWatch, tt.want)
			}
			oneWarning(t, warnings, tt.parts...)
		})
	}

	// An empty variable counts as not set; a value that is not a boolean is an error.
	if _, warnings := mustLoad(t, LoadOptions{Environ: testEnv("BROKKR_CONFIG_WATCHER_ENABLED=")}); len(warnings) != 0 {
		t.Errorf("empty variable: warnings %q", warnings)
	}
	_, _, err := LoadBroker(LoadOptions{Environ: testEnv("BROKKR_CONFIG_WATCHER_ENABLED=sometimes")})
	if err == nil || !strings.Contains(err.Error(), "BROKKR_CONFIG_WATCHER_ENABLED (broker.config_watch)") {
		t.Errorf("err = %v, want the variable named", err)
	}
}

// TestAgentSkipsBrokerReferenceSettings checks that the agent, which shares the file and the
// environment with the broker, says nothing about the broker's original spellings.
func TestAgentSkipsBrokerReferenceSettings(t *testing.T) {
	p := writeFile(t, "shared.toml", "[broker]\nagent_events_retention_days = 7\n\n[agent]\nagent_name = \"edge-1\"\n")
	a, warnings := mustLoadAgent(t, LoadOptions{File: p, Environ: agentEnv(
		refRetentionEnv+"=3",
		"BROKKR_CONFIG_WATCHER_ENABLED=true",
		"BROKKR_CONFIG_WATCHER_DEBOUNCE_SECONDS=5",
	)})
	if len(warnings) != 0 {
		t.Errorf("warnings = %q", warnings)
	}
	if a.Agent.AgentName != "edge-1" {
		t.Errorf("agent.agent_name = %q", a.Agent.AgentName)
	}
}

// TestUnsupportedReferenceKey checks the warning for an original key brokkr does not have, from
// the file and from the environment.
func TestUnsupportedReferenceKey(t *testing.T) {
	saved := referenceSettings
	t.Cleanup(func() { referenceSettings = saved })
	referenceSettings = append(slices.Clone(saved),
		referenceSetting{name: "broker.obsolete_interval", section: "broker", note: "it has no effect"})

	p := writeFile(t, "b.toml", "[broker]\nobsolete_interval = 5\n")
	_, warnings := mustLoad(t, LoadOptions{File: p, Environ: testEnv()})
	oneWarning(t, warnings, `config file `+p+`: key "broker.obsolete_interval" is a setting of the original Brokkr that brokkr does not have; ignored: it has no effect`)

	_, warnings = mustLoad(t, LoadOptions{Environ: testEnv("BROKKR__BROKER__OBSOLETE_INTERVAL=5")})
	oneWarning(t, warnings, "environment variable BROKKR__BROKER__OBSOLETE_INTERVAL is a setting of the original Brokkr that brokkr does not have; ignored: it has no effect")
}

// TestReferenceAliasOnReload follows what the broker does on POST /api/v1/admin/config/reload
// and on a file change: load again, then apply the hot keys that changed.
func TestReferenceAliasOnReload(t *testing.T) {
	p := writeFile(t, "broker.toml", "[broker]\nagent_events_retention_days = 7\n")
	o := LoadOptions{File: p, Environ: testEnv()}
	running, _ := mustLoad(t, o)
	if running.Broker.AgentEventRetentionDays != 7 {
		t.Fatalf("%s = %d at start", ourRetention, running.Broker.AgentEventRetentionDays)
	}

	if err := os.WriteFile(p, []byte("[broker]\nagent_events_retention_days = 14\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded, warnings := mustLoad(t, o)
	oneWarning(t, warnings, refRetention, ourRetention)
	changes := DynamicChanges(running, loaded)
	want := []Change{{Key: ourRetention, OldValue: "7", NewValue: "14"}}
	if !reflect.DeepEqual(changes, want) {
		t.Errorf("changes = %+v, want %+v", changes, want)
	}
	if got := ApplyDynamic(running, loaded).Broker.AgentEventRetentionDays; got != 14 {
		t.Errorf("after reload %s = %d, want 14", ourRetention, got)
	}
}

// referenceSection returns the documentation's section on the original Brokkr's settings.
func referenceSection(t *testing.T) string {
	t.Helper()
	doc, _ := docBlocks(t)
	i := strings.Index(doc, "\n## Settings of the original Brokkr\n")
	if i < 0 {
		t.Fatal(`docs/configuration.md has no "## Settings of the original Brokkr" section`)
	}
	rest := doc[i+1:]
	if j := strings.Index(rest[3:], "\n## "); j >= 0 {
		rest = rest[:j+4]
	}
	return rest
}

// TestDocumentedReferenceSettings parses the documented table of the original Brokkr's
// settings and checks that the loader honours every row: an alias from the file and from the
// environment with a warning naming both spellings, and a setting without an equivalent with
// its own warning. The table and referenceSettings must list the same settings.
func TestDocumentedReferenceSettings(t *testing.T) {
	rowRE := regexp.MustCompile("^\\| `([A-Za-z0-9_.]+)` \\| (?:`([a-z_.]+)`|(none)) \\|")
	documented := map[string]string{}
	for line := range strings.Lines(referenceSection(t)) {
		m := rowRE.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		if _, dup := documented[m[1]]; dup {
			t.Errorf("%s is documented twice", m[1])
		}
		documented[m[1]] = m[2]
	}
	if len(documented) == 0 {
		t.Fatal("no rows found in the table of the original Brokkr's settings")
	}
	for _, r := range referenceSettings {
		if _, ok := documented[r.name]; !ok {
			t.Errorf("%s is read by the loader but not documented", r.name)
		}
	}
	for name, key := range documented {
		t.Run(name, func(t *testing.T) {
			r, ok := referenceNamed(name)
			if !ok {
				t.Fatalf("documented %s is not known to the loader", name)
			}
			if r.key != key {
				t.Fatalf("documented as %q, the loader applies it to %q", key, r.key)
			}
			if key == "" {
				checkUnsupported(t, r)
				return
			}
			checkAlias(t, r)
		})
	}
}

// checkAlias loads a value other than the default under the original spelling r.name, from
// the file when it is a key and from its variable, and checks that it reaches r.key.
func checkAlias(t *testing.T, r referenceSetting) {
	t.Helper()
	fileValue, envValue, want := sampleValue(t, r.key)
	if r.isKey() {
		p := writeFile(t, "reference.toml", tomlSetting(r.name, fileValue))
		got, warnings := loadFlat(t, r.key, LoadOptions{File: p})
		if !reflect.DeepEqual(got[r.key], want) {
			t.Errorf("from the file: %s = %#v, want %#v", r.key, got[r.key], want)
		}
		oneWarning(t, warnings, `"`+r.name+`"`, `"`+r.key+`"`, "deprecated")
	}
	got, warnings := loadFlat(t, r.key, LoadOptions{Environ: []string{r.variable() + "=" + envValue}})
	if !reflect.DeepEqual(got[r.key], want) {
		t.Errorf("from %s: %s = %#v, want %#v", r.variable(), r.key, got[r.key], want)
	}
	oneWarning(t, warnings, r.variable(), r.key, "deprecated")
}

// checkUnsupported checks that setting r, which brokkr does not have, is reported with its note.
func checkUnsupported(t *testing.T, r referenceSetting) {
	t.Helper()
	if r.note == "" {
		t.Fatal("a setting without an equivalent needs a note")
	}
	if r.isKey() {
		p := writeFile(t, "reference.toml", tomlSetting(r.name, "1"))
		_, warnings := loadFlat(t, r.owner(), LoadOptions{File: p})
		oneWarning(t, warnings, `"`+r.name+`"`, r.note)
	}
	_, warnings := loadFlat(t, r.owner(), LoadOptions{Environ: []string{r.variable() + "=1"}})
	oneWarning(t, warnings, r.variable(), "does not have", r.note)
}

// tomlSetting is a TOML file setting the dotted key to the TOML literal value.
func tomlSetting(key, value string) string {
	i := strings.LastIndex(key, ".")
	return fmt.Sprintf("[%s]\n%s = %s\n", key[:i], key[i+1:], value)
}

// loadFlat loads with the program that owns key (the agent for agent.*, else the broker) on
// top of the test environment, and returns every key's value.
func loadFlat(t *testing.T, key string, o LoadOptions) (map[string]any, []string) {
	t.Helper()
	if strings.HasPrefix(key, "agent") {
		o.Environ = agentEnv(o.Environ...)
		a, warnings := mustLoadAgent(t, o)
		return flatten(a), warnings
	}
	o.Environ = testEnv(o.Environ...)
	b, warnings := mustLoad(t, o)
	return flatten(b), warnings
}

// sampleValue returns a valid value of key other than its default: as a TOML literal, as an
// environment value, and as flatten reports it.
func sampleValue(t *testing.T, key string) (fileValue, envValue string, want any) {
	t.Helper()
	def, ok := flatten(testDefaults())[key]
	if !ok {
		def, ok = flatten(agentDefaults())[key]
	}
	if !ok {
		t.Fatalf("no default for %s", key)
	}
	switch d := def.(type) {
	case int:
		s := strconv.Itoa(d + 3)
		return s, s, d + 3
	case bool:
		s := strconv.FormatBool(!d)
		return s, s, !d
	case string:
		return strconv.Quote(d + "x"), d + "x", d + "x"
	default:
		t.Fatalf("no sample value for %s of type %T", key, def)
		return "", "", nil
	}
}
