package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

const testAgentPAK = "brokkr_BRabcdefgh_0123456789abcdefghijklmnop"

// agentEnv is testEnv plus the agent's PAK, the one key without a usable default.
func agentEnv(extra ...string) []string {
	return testEnv(append([]string{"BROKKR__AGENT__PAK=" + testAgentPAK}, extra...)...)
}

// agentDefaults is what LoadAgent yields for agentEnv with nothing else set.
func agentDefaults() Agent {
	a := DefaultAgent()
	a.Agent.PAK = testAgentPAK
	return a
}

func mustLoadAgent(t *testing.T, o LoadOptions) (Agent, []string) {
	t.Helper()
	a, warnings, err := LoadAgent(o)
	if err != nil {
		t.Fatalf("LoadAgent: %v", err)
	}
	return a, warnings
}

func diffAgent(t *testing.T, got, want Agent) {
	t.Helper()
	if reflect.DeepEqual(got, want) {
		return
	}
	gy, _ := got.YAML()
	wy, _ := want.YAML()
	t.Errorf("agent configuration mismatch\n--- got\n%s\n--- want\n%s", gy, wy)
}

func TestAgentYAMLGolden(t *testing.T) {
	got, err := DefaultAgent().YAML()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "agent-defaults.golden.yaml")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -run TestAgentYAMLGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("YAML() differs from %s (rerun with -update if intended)\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestLoadAgentDefaults(t *testing.T) {
	a, warnings := mustLoadAgent(t, LoadOptions{Environ: agentEnv()})
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	diffAgent(t, a, agentDefaults())

	s := a.Agent
	checks := []struct {
		key  string
		got  any
		want any
	}{
		{"agent.broker_url", s.BrokerURL, "http://localhost:3000"},
		{"agent.agent_name", s.AgentName, "DEFAULT"},
		{"agent.cluster_name", s.ClusterName, "DEFAULT"},
		{"agent.polling_interval", s.PollingInterval, 10},
		{"agent.kubeconfig_path", s.KubeconfigPath, ""},
		{"agent.max_retries", s.MaxRetries, 60},
		{"agent.max_event_message_retries", s.MaxEventMessageRetries, 2},
		{"agent.event_message_retry_delay", s.EventMessageRetryDelay, 5},
		{"agent.health_port", s.HealthPort, 8080},
		{"agent.health_addr", s.HealthAddr, "0.0.0.0"},
		{"agent.deployment_health_enabled", s.DeploymentHealthEnabled, true},
		{"agent.deployment_health_interval", s.DeploymentHealthInterval, 60},
		{"agent.diagnostics_interval", s.DiagnosticsInterval, 10},
		{"agent.webhook_interval", s.WebhookInterval, 10},
		{"agent.ws_force_rest", s.WSForceREST, false},
		{"agent.ws_url", s.WSURL, ""},
		{"agent.kube_event_uid_cache_cap", s.KubeEventUIDCacheCap, 10000},
		{"agent.watch_namespace", s.WatchNamespace, ""},
		{"agent.generator_ids", s.GeneratorIDs, []string{}},
		{"agent.apply_concurrency", s.ApplyConcurrency, 8},
		{"agent.validate_before_apply", s.ValidateBeforeApply, true},
		{"agent.kube_qps", s.KubeQPS, 200},
		{"agent.kube_burst", s.KubeBurst, 400},
		{"agent.resync_interval", s.ResyncInterval, 600},
		{"agent.drift_interval", s.DriftInterval, 300},
		{"agent.shutdown_timeout", s.ShutdownTimeout, 30},
		{"agent.field_manager", s.FieldManager, "brokkr-controller"},
		{"log.level", a.Log.Level, "info"},
		{"telemetry.agent.service_name", a.Telemetry.Agent.ServiceName, "brokkr-agent"},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.key, c.got, c.want)
		}
	}
	if got := a.Telemetry.ForAgent().ServiceName; got != "brokkr-agent" {
		t.Errorf("effective agent service name = %q", got)
	}
}

func TestDefaultAgentNeedsPAK(t *testing.T) {
	fes := fieldErrors(t, DefaultAgent().Validate())
	if keys := keysOf(fes); !slices.Equal(keys, []string{"agent.pak"}) {
		t.Fatalf("problems of the defaults = %q, want only agent.pak", keys)
	}
	_, _, err := LoadAgent(LoadOptions{Environ: testEnv()})
	if err == nil || !strings.Contains(err.Error(), "agent.pak: must be set") {
		t.Fatalf("LoadAgent without a PAK: err = %v", err)
	}
}

// fullAgent sets every key to a value other than its default.
func fullAgent() Agent {
	return Agent{
		Agent: AgentSettings{
			BrokerURL:                "https://broker.example.com:3000",
			PAK:                      testAgentPAK,
			AgentName:                "edge-1",
			ClusterName:              "eu-west",
			PollingInterval:          15,
			KubeconfigPath:           "/etc/brokkr/kubeconfig",
			MaxRetries:               30,
			MaxEventMessageRetries:   4,
			EventMessageRetryDelay:   3,
			HealthPort:               9090,
			HealthAddr:               "127.0.0.1",
			DeploymentHealthEnabled:  false,
			DeploymentHealthInterval: 120,
			DiagnosticsInterval:      20,
			WebhookInterval:          30,
			WSForceREST:              true,
			WSURL:                    "wss://broker.example.com/internal/ws/agent",
			KubeEventUIDCacheCap:     500,
			WatchNamespace:           "apps",
			GeneratorIDs:             []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "9b2d4a56-8c1e-4f7a-9d3b-2a6e5f8c7d10"},
			ApplyConcurrency:         16,
			ValidateBeforeApply:      false,
			KubeQPS:                  50,
			KubeBurst:                80,
			ResyncInterval:           300,
			DriftInterval:            120,
			ShutdownTimeout:          45,
			FieldManager:             "brokkr-edge",
		},
		Log: Log{Level: "debug", Format: "json"},
		Telemetry: Telemetry{
			Enabled:      true,
			OTLPEndpoint: "http://collector:4317",
			ServiceName:  "brokkr",
			SamplingRate: 0.5,
			Broker:       TelemetryOverride{ServiceName: "brokkr-broker"},
			Agent:        TelemetryOverride{ServiceName: "edge-agent", SamplingRate: ptr(1.0)},
		},
	}
}

func TestLoadAgentEnvEveryKey(t *testing.T) {
	env := []string{
		"BROKKR__AGENT__BROKER_URL=https://broker.example.com:3000/",
		"BROKKR__AGENT__PAK=" + testAgentPAK,
		"BROKKR__AGENT__AGENT_NAME=edge-1",
		"BROKKR__AGENT__CLUSTER_NAME=eu-west",
		"BROKKR__AGENT__POLLING_INTERVAL=15",
		"BROKKR__AGENT__KUBECONFIG_PATH=/etc/brokkr/kubeconfig",
		"BROKKR__AGENT__MAX_RETRIES=30",
		"BROKKR__AGENT__MAX_EVENT_MESSAGE_RETRIES=4",
		"BROKKR__AGENT__EVENT_MESSAGE_RETRY_DELAY=3",
		"BROKKR__AGENT__HEALTH_PORT=9090",
		"BROKKR__AGENT__HEALTH_ADDR=127.0.0.1",
		"BROKKR__AGENT__DEPLOYMENT_HEALTH_ENABLED=false",
		"BROKKR__AGENT__DEPLOYMENT_HEALTH_INTERVAL=120",
		"BROKKR__AGENT__DIAGNOSTICS_INTERVAL=20",
		"BROKKR__AGENT__WEBHOOK_INTERVAL=30",
		"BROKKR__AGENT__WS_FORCE_REST=true",
		"BROKKR__AGENT__WS_URL=wss://broker.example.com/internal/ws/agent",
		"BROKKR__AGENT__KUBE_EVENT_UID_CACHE_CAP=500",
		"BROKKR__AGENT__WATCH_NAMESPACE=apps",
		"BROKKR__AGENT__GENERATOR_IDS=3F2504E0-4F89-11D3-9A0C-0305E82C3301, 9b2d4a56-8c1e-4f7a-9d3b-2a6e5f8c7d10",
		"BROKKR__AGENT__APPLY_CONCURRENCY=16",
		"BROKKR__AGENT__VALIDATE_BEFORE_APPLY=false",
		"BROKKR__AGENT__KUBE_QPS=50",
		"BROKKR__AGENT__KUBE_BURST=80",
		"BROKKR__AGENT__RESYNC_INTERVAL=300",
		"BROKKR__AGENT__DRIFT_INTERVAL=120",
		"BROKKR__AGENT__SHUTDOWN_TIMEOUT=45",
		"BROKKR__AGENT__FIELD_MANAGER=brokkr-edge",
		"BROKKR__LOG__LEVEL=DEBUG",
		"BROKKR__LOG__FORMAT=json",
		"BROKKR__TELEMETRY__ENABLED=true",
		"BROKKR__TELEMETRY__OTLP_ENDPOINT=http://collector:4317",
		"BROKKR__TELEMETRY__SAMPLING_RATE=0.5",
		"BROKKR__TELEMETRY__AGENT__SERVICE_NAME=edge-agent",
		"BROKKR__TELEMETRY__AGENT__SAMPLING_RATE=1",
	}
	// The list must cover every agent key, so a key added later is tested too.
	for _, key := range AgentKeys() {
		if !strings.HasPrefix(key, "agent.") {
			continue
		}
		if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, EnvName(key)+"=") }) {
			t.Errorf("no environment override for %s in this test", key)
		}
	}
	a, warnings := mustLoadAgent(t, LoadOptions{Environ: testEnv(env...)})
	if len(warnings) != 0 {
		t.Errorf("unexpected warnings: %v", warnings)
	}
	diffAgent(t, a, fullAgent())
}

func TestAgentEnvironRoundTrip(t *testing.T) {
	src := fullAgent()
	src.Telemetry.Agent.Enabled = ptr(false)
	a, warnings := mustLoadAgent(t, LoadOptions{Environ: append(testEnv(), src.Environ()...)})
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	diffAgent(t, a, src)

	y, err := src.YAML()
	if err != nil {
		t.Fatal(err)
	}
	a, warnings = mustLoadAgent(t, LoadOptions{File: writeFile(t, "agent-effective.yaml", string(y)), Environ: testEnv()})
	if len(warnings) != 0 {
		t.Errorf("warnings: %v", warnings)
	}
	diffAgent(t, a, src)
}

func TestAgentGeneratorIDs(t *testing.T) {
	const (
		g1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		g2 = "9b2d4a56-8c1e-4f7a-9d3b-2a6e5f8c7d10"
	)
	tests := []struct {
		name  string
		value string
		want  []string
	}{
		{"comma", g1 + "," + g2, []string{g1, g2}},
		{"comma with spaces", " " + g1 + " , " + g2 + " ,", []string{g1, g2}},
		{"json", `["` + g1 + `","` + g2 + `"]`, []string{g1, g2}},
		{"upper case", strings.ToUpper(g1), []string{g1}},
		{"duplicates", g1 + "," + strings.ToUpper(g1) + "," + g2, []string{g1, g2}},
		{"empty", "", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := mustLoadAgent(t, LoadOptions{Environ: agentEnv("BROKKR__AGENT__GENERATOR_IDS=" + tt.value)})
			if !slices.Equal(a.Agent.GeneratorIDs, tt.want) || a.Agent.GeneratorIDs == nil {
				t.Errorf("agent.generator_ids = %#v, want %#v", a.Agent.GeneratorIDs, tt.want)
			}
			ids, err := a.Agent.GeneratorUUIDs()
			if err != nil || len(ids) != len(tt.want) {
				t.Fatalf("GeneratorUUIDs = %v, %v", ids, err)
			}
			for i, id := range ids {
				if id.String() != tt.want[i] {
					t.Errorf("GeneratorUUIDs[%d] = %s, want %s", i, id, tt.want[i])
				}
			}
		})
	}

	t.Run("malformed", func(t *testing.T) {
		a, _, err := LoadAgent(LoadOptions{Environ: agentEnv("BROKKR__AGENT__GENERATOR_IDS=" + g1 + ",not-a-uuid,1234")})
		if err == nil {
			t.Fatal("malformed generator ids accepted")
		}
		if want := `agent.generator_ids: not UUIDs: "not-a-uuid", "1234"`; !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
		if _, err := a.Agent.GeneratorUUIDs(); err == nil {
			t.Error("GeneratorUUIDs accepted a malformed id")
		}
	})
}

func TestAgentLegacyGeneratorIDs(t *testing.T) {
	const (
		g1 = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		g2 = "9b2d4a56-8c1e-4f7a-9d3b-2a6e5f8c7d10"
	)
	a, warnings := mustLoadAgent(t, LoadOptions{Environ: agentEnv("BROKKR_GENERATOR_IDS=" + g1 + "," + g2)})
	if !slices.Equal(a.Agent.GeneratorIDs, []string{g1, g2}) {
		t.Errorf("generator ids from %s = %q", LegacyGeneratorIDsEnv, a.Agent.GeneratorIDs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "BROKKR_GENERATOR_IDS is deprecated; use BROKKR__AGENT__GENERATOR_IDS") {
		t.Errorf("warnings = %q", warnings)
	}

	a, warnings = mustLoadAgent(t, LoadOptions{Environ: agentEnv("BROKKR_GENERATOR_IDS="+g1, "BROKKR__AGENT__GENERATOR_IDS="+g2)})
	if !slices.Equal(a.Agent.GeneratorIDs, []string{g2}) {
		t.Errorf("agent.generator_ids must win over the legacy variable, got %q", a.Agent.GeneratorIDs)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "ignored") {
		t.Errorf("warnings = %q", warnings)
	}

	_, _, err := LoadAgent(LoadOptions{Environ: agentEnv("BROKKR_GENERATOR_IDS=" + g1 + ",bogus")})
	if err == nil || !strings.Contains(err.Error(), `not UUIDs: "bogus"`) {
		t.Errorf("malformed legacy ids: err = %v", err)
	}
}

func TestLoadAgentFile(t *testing.T) {
	for _, name := range []string{"agent.toml", "agent.yaml"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name)
			a, warnings := mustLoadAgent(t, LoadOptions{File: path, Environ: testEnv()})
			if len(warnings) != 0 {
				t.Errorf("broker sections must be skipped silently; warnings: %v", warnings)
			}
			diffAgent(t, a, fullAgent())

			// The same file also serves the broker, which skips [agent].
			b, warnings, err := LoadBroker(LoadOptions{File: path, Environ: testEnv()})
			if err != nil || len(warnings) != 0 {
				t.Fatalf("LoadBroker: %v, warnings %v", err, warnings)
			}
			if b.Broker.WebhookDeliveryBatchSize != 25 || b.Database.MaxConnections != 40 || b.Log.Level != "debug" {
				t.Errorf("broker view of the shared file: %+v", b.Broker)
			}
		})
	}

	a, _ := mustLoadAgent(t, LoadOptions{Environ: testEnv("BROKKR_CONFIG_FILE=testdata/agent.yaml")})
	diffAgent(t, a, fullAgent())
}

func TestAgentEnvOverridesFile(t *testing.T) {
	a, _ := mustLoadAgent(t, LoadOptions{
		File: "testdata/agent.toml",
		Environ: testEnv(
			"BROKKR__AGENT__WATCH_NAMESPACE=other",
			"BROKKR__AGENT__HEALTH_PORT=0",
			"BROKKR__AGENT__GENERATOR_IDS=[]",
			"BROKKR__LOG__LEVEL=warn",
		),
	})
	want := fullAgent()
	want.Agent.WatchNamespace = "other"
	want.Agent.HealthPort = 0
	want.Agent.GeneratorIDs = []string{}
	want.Log.Level = "warn"
	diffAgent(t, a, want)
}

func TestAgentUnknownKeys(t *testing.T) {
	p := writeFile(t, "a.yaml", `
agent:
  pak: `+testAgentPAK+`
  poll_interval: 5
database:
  url: postgres://db/brokkr
broker:
  pak_hash: abc
cors:
  max_age_seconds: 1
pak:
  prefix: x
bogus:
  x: 1
`)
	a, warnings := mustLoadAgent(t, LoadOptions{File: p, Environ: testEnv(
		"BROKKR__AGENT__NO_SUCH_KEY=1",
		"BROKKR__BROKER__LISTEN_ADDR=:1", // the broker's: skipped silently
		"BROKKR__DATABASE__URL=postgres://other/brokkr",
		"BROKKR__CORS__ALLOWED_ORIGINS=*",
	)})
	if a.Agent.PAK != testAgentPAK {
		t.Errorf("agent.pak = %q", a.Agent.PAK)
	}
	want := []string{`"agent.poll_interval"`, `"bogus.x"`, "BROKKR__AGENT__NO_SUCH_KEY"}
	if len(warnings) != len(want) {
		t.Fatalf("warnings = %q, want %d", warnings, len(want))
	}
	for _, w := range want {
		if !slices.ContainsFunc(warnings, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no warning about %s in %q", w, warnings)
		}
	}
}

func TestAgentEnvErrors(t *testing.T) {
	for _, tt := range []struct{ env, wantErr string }{
		{"BROKKR__AGENT__POLLING_INTERVAL=often", `BROKKR__AGENT__POLLING_INTERVAL (agent.polling_interval): "often" is not an integer`},
		{"BROKKR__AGENT__WS_FORCE_REST=maybe", "is not a boolean"},
		{`BROKKR__AGENT__GENERATOR_IDS=["a",`, "is not a JSON array"},
	} {
		t.Run(tt.env, func(t *testing.T) {
			_, _, err := LoadAgent(LoadOptions{Environ: agentEnv(tt.env)})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func newAgentFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("brokkr-agent", pflag.ContinueOnError)
	fs.String("config", "", "")
	fs.String("broker-url", "http://localhost:3000", "")
	fs.String("pak", "", "")
	fs.String("agent-name", "DEFAULT", "")
	fs.String("cluster-name", "DEFAULT", "")
	fs.String("kubeconfig", "", "")
	fs.Int("health-port", 8080, "")
	fs.String("watch-namespace", "", "")
	fs.StringSlice("generator-ids", nil, "")
	fs.Int("polling-interval", 10, "")
	fs.String("log-level", "info", "")
	fs.String("log-format", "text", "")
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs
}

func TestAgentFlagsWin(t *testing.T) {
	for flag, key := range AgentFlagKeys() {
		if !slices.Contains(AgentKeys(), key) {
			t.Errorf("flag --%s maps to unknown key %s", flag, key)
		}
	}
	env := testEnv(
		"BROKKR__AGENT__AGENT_NAME=from-env",
		"BROKKR__AGENT__HEALTH_PORT=7070",
		"BROKKR__AGENT__WATCH_NAMESPACE=env-ns",
	)
	const g = "9b2d4a56-8c1e-4f7a-9d3b-2a6e5f8c7d10"

	a, _ := mustLoadAgent(t, LoadOptions{File: "testdata/agent.toml", Flags: newAgentFlags(t), Environ: env})
	if a.Agent.AgentName != "from-env" || a.Agent.HealthPort != 7070 || a.Agent.ClusterName != "eu-west" || a.Agent.PollingInterval != 15 {
		t.Errorf("unset flags must not override: %+v", a.Agent)
	}

	a, _ = mustLoadAgent(t, LoadOptions{
		File: "testdata/agent.toml",
		Flags: newAgentFlags(t,
			"--broker-url", "http://10.0.0.1:3000",
			"--pak", "brokkr_BRflag_token",
			"--agent-name", "from-flag",
			"--cluster-name", "DEFAULT",
			"--kubeconfig", "~/kc",
			"--health-port", "0",
			"--watch-namespace", "flag-ns",
			"--generator-ids", g,
			"--polling-interval", "3",
			"--log-level", "trace",
		),
		Environ: env,
	})
	s := a.Agent
	got := []any{s.BrokerURL, s.PAK, s.AgentName, s.ClusterName, s.KubeconfigPath, s.HealthPort, s.WatchNamespace, s.GeneratorIDs, s.PollingInterval, a.Log.Level, a.Log.Format}
	want := []any{"http://10.0.0.1:3000", "brokkr_BRflag_token", "from-flag", "DEFAULT", "/home/tester/kc", 0, "flag-ns", []string{g}, 3, "debug", "json"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("flags did not win:\n got %v\nwant %v", got, want)
	}
}

func TestAgentKubeconfigExpansion(t *testing.T) {
	tests := []struct {
		value string
		env   []string
		want  string
	}{
		{"/home/${USER}/.kube/config", []string{"USER=alice"}, "/home/alice/.kube/config"},
		{"/home/$USER/.kube/config", []string{"USER=bob"}, "/home/bob/.kube/config"},
		{"~/.kube/config", nil, "/home/tester/.kube/config"},
		{"${HOME}/kc", nil, "/home/tester/kc"},
		{"/etc/kubeconfig", nil, "/etc/kubeconfig"},
		{"", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			env := append(agentEnv(tt.env...), "BROKKR__AGENT__KUBECONFIG_PATH="+tt.value)
			a, _ := mustLoadAgent(t, LoadOptions{Environ: env})
			if a.Agent.KubeconfigPath != tt.want {
				t.Errorf("kubeconfig_path = %q, want %q", a.Agent.KubeconfigPath, tt.want)
			}
		})
	}
	// Without USER in the environment the account running the process is used.
	got := expandPath("/home/${USER}/kc", func(string) string { return "" })
	if got == "/home//kc" {
		t.Errorf("USER not resolved from the current account: %q", got)
	}
}
