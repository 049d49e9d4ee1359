package config

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestAgentValidateReportsEveryProblem(t *testing.T) {
	a := agentDefaults()
	a.Agent.BrokerURL = "localhost:3000"
	a.Agent.PAK = ""
	a.Agent.AgentName = ""
	a.Agent.PollingInterval = 0
	a.Agent.HealthPort = 70000
	a.Agent.WSURL = "http://broker/ws"
	a.Agent.WatchNamespace = "Apps"
	a.Agent.GeneratorIDs = []string{"x"}
	a.Agent.ApplyConcurrency = 65
	a.Log.Format = "xml"
	a.Telemetry.Agent.SamplingRate = ptr(2.0)

	err := a.Validate()
	want := []string{
		"agent.broker_url",
		"agent.pak",
		"agent.agent_name",
		"agent.polling_interval",
		"agent.health_port",
		"agent.ws_url",
		"agent.watch_namespace",
		"agent.generator_ids",
		"agent.apply_concurrency",
		"log.format",
		"telemetry.agent.sampling_rate",
	}
	if got := keysOf(fieldErrors(t, err)); !slices.Equal(got, want) {
		t.Fatalf("problem keys =\n%q\nwant\n%q", got, want)
	}
	for _, line := range []string{
		"agent.pak: must be set",
		"agent.polling_interval: must be greater than 0 (got 0)",
		"agent.apply_concurrency: must be between 1 and 64 (got 65)",
		`agent.generator_ids: not UUIDs: "x"`,
	} {
		if !strings.Contains(err.Error(), line) {
			t.Errorf("message lacks %q:\n%v", line, err)
		}
	}

	_, _, lerr := LoadAgent(LoadOptions{Environ: testEnv("BROKKR__AGENT__HEALTH_PORT=-1", "BROKKR__AGENT__FIELD_MANAGER= ")})
	for _, line := range []string{"config: invalid configuration:", "agent.pak:", "agent.health_port:", "agent.field_manager: must not be empty"} {
		if lerr == nil || !strings.Contains(lerr.Error(), line) {
			t.Errorf("LoadAgent error %v lacks %q", lerr, line)
		}
	}
}

func TestAgentValidateRules(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(s *Agent)
		wantKey string // "" = valid
	}{
		{"defaults", func(*Agent) {}, ""},
		{"https broker", func(a *Agent) { a.Agent.BrokerURL = "https://b.example.com/prefix" }, ""},
		{"broker scheme", func(a *Agent) { a.Agent.BrokerURL = "ftp://b" }, "agent.broker_url"},
		{"pak whitespace", func(a *Agent) { a.Agent.PAK = "brokkr_BR x_y" }, "agent.pak"},
		{"cluster empty", func(a *Agent) { a.Agent.ClusterName = "" }, "agent.cluster_name"},
		{"max retries zero", func(a *Agent) { a.Agent.MaxRetries = 0 }, "agent.max_retries"},
		{"event retries zero", func(a *Agent) { a.Agent.MaxEventMessageRetries = 0 }, ""},
		{"event retries negative", func(a *Agent) { a.Agent.MaxEventMessageRetries = -1 }, "agent.max_event_message_retries"},
		{"retry delay negative", func(a *Agent) { a.Agent.EventMessageRetryDelay = -1 }, "agent.event_message_retry_delay"},
		{"health disabled", func(a *Agent) { a.Agent.HealthPort = 0 }, ""},
		{"health port max", func(a *Agent) { a.Agent.HealthPort = 65535 }, ""},
		{"health addr ipv6", func(a *Agent) { a.Agent.HealthAddr = "::" }, ""},
		{"health addr name", func(a *Agent) { a.Agent.HealthAddr = "localhost" }, ""},
		{"health addr all", func(a *Agent) { a.Agent.HealthAddr = "" }, ""},
		{"health addr with port", func(a *Agent) { a.Agent.HealthAddr = "localhost:8080" }, "agent.health_addr"},
		{"health interval", func(a *Agent) { a.Agent.DeploymentHealthInterval = 0 }, "agent.deployment_health_interval"},
		{"diagnostics interval", func(a *Agent) { a.Agent.DiagnosticsInterval = -5 }, "agent.diagnostics_interval"},
		{"webhook interval", func(a *Agent) { a.Agent.WebhookInterval = 0 }, "agent.webhook_interval"},
		{"ws url ws", func(a *Agent) { a.Agent.WSURL = "ws://b:3000/internal/ws/agent" }, ""},
		{"ws url no host", func(a *Agent) { a.Agent.WSURL = "wss:///x" }, "agent.ws_url"},
		{"cache cap", func(a *Agent) { a.Agent.KubeEventUIDCacheCap = 0 }, "agent.kube_event_uid_cache_cap"},
		{"namespace ok", func(a *Agent) { a.Agent.WatchNamespace = "team-a1" }, ""},
		{"namespace long", func(a *Agent) { a.Agent.WatchNamespace = strings.Repeat("a", 64) }, "agent.watch_namespace"},
		{"namespace dash", func(a *Agent) { a.Agent.WatchNamespace = "-a" }, "agent.watch_namespace"},
		{"concurrency 1", func(a *Agent) { a.Agent.ApplyConcurrency = 1 }, ""},
		{"concurrency 0", func(a *Agent) { a.Agent.ApplyConcurrency = 0 }, "agent.apply_concurrency"},
		{"resync zero", func(a *Agent) { a.Agent.ResyncInterval = 0 }, "agent.resync_interval"},
		{"drift negative", func(a *Agent) { a.Agent.DriftInterval = -1 }, "agent.drift_interval"},
		{"shutdown zero", func(a *Agent) { a.Agent.ShutdownTimeout = 0 }, "agent.shutdown_timeout"},
		{"field manager long", func(a *Agent) { a.Agent.FieldManager = strings.Repeat("m", 129) }, "agent.field_manager"},
		{"log level", func(a *Agent) { a.Log.Level = "loud" }, "log.level"},
		{"otlp bad", func(a *Agent) { a.Telemetry.Agent.OTLPEndpoint = "collector:4317" }, "telemetry.agent.otlp_endpoint"},
		{"enabled without endpoint", func(a *Agent) { a.Telemetry.OTLPEndpoint = ""; a.Telemetry.Agent.Enabled = ptr(true) }, "telemetry.otlp_endpoint"},
		{"broker override ignored", func(a *Agent) { a.Telemetry.OTLPEndpoint = ""; a.Telemetry.Broker.Enabled = ptr(true) }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := agentDefaults()
			tt.mutate(&a)
			keys := keysOf(fieldErrors(t, a.Validate()))
			switch {
			case tt.wantKey == "" && len(keys) > 0:
				t.Errorf("unexpected problems: %v", a.Validate())
			case tt.wantKey != "" && !slices.Equal(keys, []string{tt.wantKey}):
				t.Errorf("problem keys = %q, want [%q]", keys, tt.wantKey)
			}
		})
	}
}

func TestAgentRedacted(t *testing.T) {
	a := fullAgent()
	a.Agent.BrokerURL = "https://user:hunter2@broker.example.com"
	r := a.Redacted()
	if r.Agent.PAK != Mask {
		t.Errorf("agent.pak = %q, want it masked", r.Agent.PAK)
	}
	if r.Agent.BrokerURL != "https://user:"+Mask+"@broker.example.com" {
		t.Errorf("agent.broker_url = %q", r.Agent.BrokerURL)
	}
	if a.Agent.PAK != testAgentPAK {
		t.Error("Redacted modified its receiver")
	}
	if r.Agent.AgentName != a.Agent.AgentName || !slices.Equal(r.Agent.GeneratorIDs, a.Agent.GeneratorIDs) {
		t.Error("Redacted changed a value that is not secret")
	}
	y, err := r.YAML()
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{testAgentPAK, "hunter2"} {
		if strings.Contains(string(y), secret) {
			t.Errorf("redacted YAML contains %q:\n%s", secret, y)
		}
	}
	if !strings.Contains(string(y), "  pak: '********'\n") {
		t.Errorf("redacted YAML lacks the masked PAK:\n%s", y)
	}
	if empty := DefaultAgent().Redacted(); empty.Agent.PAK != "" {
		t.Errorf("an empty PAK must stay empty, got %q", empty.Agent.PAK)
	}
}

func TestAgentDerivedAddresses(t *testing.T) {
	tests := []struct {
		broker, ws, want string
	}{
		{"http://localhost:3000", "", "ws://localhost:3000/internal/ws/agent"},
		{"https://b.example.com/brokkr", "", "wss://b.example.com/brokkr/internal/ws/agent"},
		{"https://b.example.com", "wss://other.example.com/ws", "wss://other.example.com/ws"},
	}
	for _, tt := range tests {
		s := AgentSettings{BrokerURL: tt.broker, WSURL: tt.ws}
		if got, err := s.WebSocketURL(); err != nil || got != tt.want {
			t.Errorf("WebSocketURL(%q, %q) = %q, %v; want %q", tt.broker, tt.ws, got, err, tt.want)
		}
	}
	if _, err := (AgentSettings{BrokerURL: "ftp://b"}).WebSocketURL(); err == nil {
		t.Error("ftp broker URL accepted")
	}
	for _, tt := range []struct {
		host string
		port int
		want string
	}{{"0.0.0.0", 8080, "0.0.0.0:8080"}, {"::1", 9090, "[::1]:9090"}, {"", 8080, ":8080"}} {
		if got := (AgentSettings{HealthAddr: tt.host, HealthPort: tt.port}).HealthListenAddr(); got != tt.want {
			t.Errorf("HealthListenAddr(%q, %d) = %q, want %q", tt.host, tt.port, got, tt.want)
		}
	}
}

// agentSection returns the part of the configuration documentation about the agent.
func agentSection(t *testing.T) string {
	t.Helper()
	doc, _ := docBlocks(t)
	i := strings.Index(doc, "\n## Agent")
	if i < 0 {
		t.Fatal("docs/configuration.md has no \"## Agent\" section")
	}
	rest := doc[i+1:]
	if j := strings.Index(rest[3:], "\n## "); j >= 0 {
		rest = rest[:j+4]
	}
	return rest
}

// TestAgentDocumentedKeyTable checks that every agent.* key has a row in the agent section
// naming its environment variable and default, and that no row names an unknown key.
func TestAgentDocumentedKeyTable(t *testing.T) {
	section := agentSection(t)
	rowRE := regexp.MustCompile("^\\| `(agent\\.[a-z_]+)` \\|")
	rows := map[string]string{}
	for line := range strings.Lines(section) {
		if m := rowRE.FindStringSubmatch(line); m != nil {
			rows[m[1]] = line
		}
	}
	defaults := flatten(DefaultAgent())
	for _, key := range AgentKeys() {
		if !strings.HasPrefix(key, "agent.") {
			continue
		}
		row, ok := rows[key]
		if !ok {
			t.Errorf("%s is not documented", key)
			continue
		}
		if !strings.Contains(row, "`"+EnvName(key)+"`") {
			t.Errorf("row of %s lacks %s", key, EnvName(key))
		}
		if def := fmt.Sprint(defaults[key]); def != "" && def != "[]" && !strings.Contains(row, "`"+def+"`") {
			t.Errorf("row of %s does not show its default `%s`", key, def)
		}
		if strings.Count(row, "|") >= 6 {
			t.Errorf("row of %s has a Hot column: the agent does not reload", key)
		}
	}
	for key := range rows {
		if !slices.Contains(AgentKeys(), key) {
			t.Errorf("documented key %s does not exist", key)
		}
	}
	for flag, key := range AgentFlagKeys() {
		if !strings.Contains(section, "`--"+flag) || !strings.Contains(section, "`"+key+"`") {
			t.Errorf("flag --%s (%s) is not documented in the agent section", flag, key)
		}
	}
}

// TestAgentDocumentedExamplesLoad loads the agent section's file examples and exports with
// LoadAgent.
func TestAgentDocumentedExamplesLoad(t *testing.T) {
	_, blocks := docBlocks(t)
	section := agentSection(t)
	n := 0
	var env []string
	for i, b := range blocks {
		if !strings.Contains(section, b.body) {
			continue
		}
		switch b.lang {
		case "toml", "yaml":
			n++
			p := writeFile(t, fmt.Sprintf("agent-example%d.%s", i, b.lang), b.body)
			a, warnings, err := LoadAgent(LoadOptions{File: p, Environ: testEnv()})
			if err != nil {
				t.Errorf("%s example %d does not load: %v\n%s", b.lang, i, err, b.body)
				continue
			}
			if len(warnings) != 0 {
				t.Errorf("%s example %d has warnings %v", b.lang, i, warnings)
			}
			if reflect.DeepEqual(a, agentDefaults()) {
				t.Errorf("%s example %d changes nothing", b.lang, i)
			}
		case "sh":
			for line := range strings.Lines(b.body) {
				if m := exportRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
					env = append(env, m[1]+"="+strings.Trim(m[2], "'"))
				}
			}
		}
	}
	if n < 1 {
		t.Error("the agent section has no file example")
	}
	if len(env) < 3 {
		t.Fatalf("found %d documented agent exports", len(env))
	}
	a, warnings, err := LoadAgent(LoadOptions{Environ: testEnv(env...)})
	if err != nil {
		t.Fatalf("documented agent environment does not load: %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	if a.Agent.PAK == "" || len(a.Agent.GeneratorIDs) == 0 {
		t.Errorf("documented exports should set the PAK and generator ids: %+v", a.Agent)
	}
}
