package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/user"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/logging"
)

// LegacyGeneratorIDsEnv is the environment variable older agent deployments used for the
// generator list. It is read only when agent.generator_ids is empty.
const LegacyGeneratorIDsEnv = "BROKKR_GENERATOR_IDS"

// Agent is the complete configuration of brokkr-agent. It shares the file, the environment
// and the log and telemetry sections with the broker; the broker's own sections are skipped
// when the agent loads. Keys are the `koanf` tags joined with dots (for example
// agent.broker_url); see docs/configuration.md.
type Agent struct {
	Agent     AgentSettings `koanf:"agent"`
	Log       Log           `koanf:"log"`
	Telemetry Telemetry     `koanf:"telemetry"`
}

// AgentSettings holds the agent's own settings: how it reaches the broker and the cluster,
// and the schedules of its loops. Durations are whole seconds.
type AgentSettings struct {
	// BrokerURL is the broker's base URL, without /api/v1.
	BrokerURL string `koanf:"broker_url" secret:"url"`
	// PAK is the agent's prefixed API key. Required.
	PAK string `koanf:"pak" secret:"true"`
	// AgentName and ClusterName identify the agent's record at the broker.
	AgentName   string `koanf:"agent_name"`
	ClusterName string `koanf:"cluster_name"`
	// PollingInterval is the period of the heartbeat, reconcile and work-order loops.
	PollingInterval int `koanf:"polling_interval"`
	// KubeconfigPath names the kubeconfig file; "" means $KUBECONFIG, then ~/.kube/config,
	// then the in-cluster service account. Environment variables and a leading "~/" are
	// expanded.
	KubeconfigPath string `koanf:"kubeconfig_path"`
	// MaxRetries is how many times startup probes the broker's /readyz, one second apart,
	// before giving up.
	MaxRetries int `koanf:"max_retries"`
	// MaxEventMessageRetries and EventMessageRetryDelay govern resending a deployment event
	// the broker did not accept.
	MaxEventMessageRetries int `koanf:"max_event_message_retries"`
	EventMessageRetryDelay int `koanf:"event_message_retry_delay"`
	// HealthPort is the port of the health and metrics server; 0 disables the server.
	HealthPort int `koanf:"health_port"`
	// HealthAddr is the host or IP address the health server listens on.
	HealthAddr string `koanf:"health_addr"`
	// DeploymentHealthEnabled turns deployment health reporting on.
	DeploymentHealthEnabled  bool `koanf:"deployment_health_enabled"`
	DeploymentHealthInterval int  `koanf:"deployment_health_interval"`
	DiagnosticsInterval      int  `koanf:"diagnostics_interval"`
	WebhookInterval          int  `koanf:"webhook_interval"`
	// WSForceREST keeps the agent on REST only: the WebSocket channel is never dialled.
	WSForceREST bool `koanf:"ws_force_rest"`
	// WSURL overrides the WebSocket URL derived from BrokerURL.
	WSURL string `koanf:"ws_url" secret:"url"`
	// KubeEventUIDCacheCap bounds the cache attributing Kubernetes events to stacks.
	KubeEventUIDCacheCap int `koanf:"kube_event_uid_cache_cap"`
	// WatchNamespace confines the agent to one namespace; "" means the whole cluster.
	WatchNamespace string `koanf:"watch_namespace"`
	// GeneratorIDs are the generators the agent registers with at startup.
	GeneratorIDs []string `koanf:"generator_ids"`
	// ApplyConcurrency is how many objects of one priority group are applied at once.
	ApplyConcurrency int `koanf:"apply_concurrency"`
	// ValidateBeforeApply dry-runs every object of a new deployment object before any of it
	// (past its namespaces and CRDs) is written, so an invalid manifest writes nothing.
	ValidateBeforeApply bool `koanf:"validate_before_apply"`
	// KubeQPS and KubeBurst bound the agent's request rate to the Kubernetes API (client-side
	// token bucket); the apiserver's priority and fairness protects it besides.
	KubeQPS   int `koanf:"kube_qps"`
	KubeBurst int `koanf:"kube_burst"`
	// ResyncInterval is the period of the full re-check of owned objects against the cluster.
	ResyncInterval int `koanf:"resync_interval"`
	// DriftInterval is the period of the drift check of applied objects against their
	// manifests; 0 turns drift detection off.
	DriftInterval int `koanf:"drift_interval"`
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout int `koanf:"shutdown_timeout"`
	// FieldManager is the server-side apply field manager of applied objects.
	FieldManager string `koanf:"field_manager"`
}

// AgentFlagKeys returns the standard mapping of brokkr-agent flags to configuration keys.
func AgentFlagKeys() map[string]string {
	return map[string]string{
		"broker-url":       "agent.broker_url",
		"pak":              "agent.pak",
		"agent-name":       "agent.agent_name",
		"cluster-name":     "agent.cluster_name",
		"kubeconfig":       "agent.kubeconfig_path",
		"health-port":      "agent.health_port",
		"watch-namespace":  "agent.watch_namespace",
		"generator-ids":    "agent.generator_ids",
		"polling-interval": "agent.polling_interval",
		"log-level":        "log.level",
		"log-format":       "log.format",
	}
}

// DefaultAgent returns the built-in agent configuration. It has no PAK, so it does not
// validate until one is set.
func DefaultAgent() Agent {
	return Agent{
		Agent: AgentSettings{
			BrokerURL:                "http://localhost:3000",
			AgentName:                "DEFAULT",
			ClusterName:              "DEFAULT",
			PollingInterval:          10,
			MaxRetries:               60,
			MaxEventMessageRetries:   2,
			EventMessageRetryDelay:   5,
			HealthPort:               8080,
			HealthAddr:               "0.0.0.0",
			DeploymentHealthEnabled:  true,
			DeploymentHealthInterval: 60,
			DiagnosticsInterval:      10,
			WebhookInterval:          10,
			KubeEventUIDCacheCap:     10000,
			GeneratorIDs:             []string{},
			ApplyConcurrency:         8,
			ValidateBeforeApply:      true,
			KubeQPS:                  200,
			KubeBurst:                400,
			ResyncInterval:           600,
			DriftInterval:            300,
			ShutdownTimeout:          30,
			FieldManager:             "brokkr-controller",
		},
		Log: Log{Level: "info", Format: "text"},
		Telemetry: Telemetry{
			OTLPEndpoint: "http://localhost:4317",
			ServiceName:  "brokkr",
			SamplingRate: 0.1,
			Broker:       TelemetryOverride{ServiceName: "brokkr-broker"},
			Agent:        TelemetryOverride{ServiceName: "brokkr-agent"},
		},
	}
}

// AgentKeys returns every agent configuration key in declaration order.
func AgentKeys() []string {
	schema := schemaOf(reflect.TypeFor[Agent]())
	keys := make([]string, len(schema))
	for i, l := range schema {
		keys[i] = l.key
	}
	return keys
}

// agentForeignSections are the top-level sections of the broker that the agent does not
// share; their keys are skipped silently when the agent loads a common file or environment.
func agentForeignSections() []string {
	own := topSections(reflect.TypeFor[Agent]())
	var out []string
	for _, s := range topSections(reflect.TypeFor[Broker]()) {
		if !slices.Contains(own, s) {
			out = append(out, s)
		}
	}
	return out
}

// topSections lists the first components of the keys of the struct type t.
func topSections(t reflect.Type) []string {
	var out []string
	for _, l := range schemaOf(t) {
		section, _, _ := strings.Cut(l.key, ".")
		if !slices.Contains(out, section) {
			out = append(out, section)
		}
	}
	return out
}

// LoadAgent reads the agent configuration: defaults, then the file, then BROKKR__
// environment variables, then the changed flags (AgentFlagKeys unless o.FlagKeys is set).
// The result is normalised (trailing "/" of URLs dropped, kubeconfig path expanded,
// generator ids in canonical form) and validated. Warnings list keys that matched nothing,
// the original Brokkr's spellings and the use of BROKKR_GENERATOR_IDS. When only validation fails, the loaded configuration
// is returned together with the error so it can still be shown.
func LoadAgent(o LoadOptions) (Agent, []string, error) {
	spec := loadSpec{
		defaults: DefaultAgent(),
		flagKeys: o.FlagKeys,
		foreign:  agentForeignSections(),
	}
	if spec.flagKeys == nil {
		spec.flagKeys = AgentFlagKeys()
	}
	var a Agent
	warnings, err := load(o, spec, &a)
	if err != nil {
		return Agent{}, warnings, err
	}
	if legacy := o.getenv(LegacyGeneratorIDsEnv); strings.TrimSpace(legacy) != "" {
		switch {
		case len(a.Agent.GeneratorIDs) > 0:
			warnings = append(warnings, fmt.Sprintf("%s is ignored because agent.generator_ids is set", LegacyGeneratorIDsEnv))
		default:
			ids, err := parseList(legacy)
			if err != nil {
				return Agent{}, warnings, fmt.Errorf("config: environment: %s: %w", LegacyGeneratorIDsEnv, err)
			}
			a.Agent.GeneratorIDs = ids
			warnings = append(warnings, fmt.Sprintf("%s is deprecated; use %s", LegacyGeneratorIDsEnv, EnvName("agent.generator_ids")))
		}
	}
	a.resolve(o.getenv)
	if err := a.Validate(); err != nil {
		return a, warnings, fmt.Errorf("config: invalid configuration:\n%w", err)
	}
	return a, warnings, nil
}

// resolve normalises values that have a canonical spelling. Values that cannot be
// normalised are left as they are for Validate to report.
func (a *Agent) resolve(getenv func(string) string) {
	s := &a.Agent
	s.BrokerURL = strings.TrimRight(strings.TrimSpace(s.BrokerURL), "/")
	s.WSURL = strings.TrimSpace(s.WSURL)
	s.PAK = strings.TrimSpace(s.PAK)
	s.AgentName = strings.TrimSpace(s.AgentName)
	s.ClusterName = strings.TrimSpace(s.ClusterName)
	s.HealthAddr = strings.TrimSpace(s.HealthAddr)
	s.WatchNamespace = strings.TrimSpace(s.WatchNamespace)
	s.FieldManager = strings.TrimSpace(s.FieldManager)
	s.KubeconfigPath = expandPath(strings.TrimSpace(s.KubeconfigPath), getenv)
	if s.GeneratorIDs == nil {
		s.GeneratorIDs = []string{}
	}
	ids := make([]string, 0, len(s.GeneratorIDs))
	for _, id := range s.GeneratorIDs {
		id = strings.TrimSpace(id)
		if u, err := uuid.Parse(id); err == nil {
			id = u.String()
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	s.GeneratorIDs = ids
	if lvl, err := logging.CanonicalLevel(a.Log.Level); err == nil {
		a.Log.Level = lvl
	}
	if f, err := logging.ParseFormat(a.Log.Format); err == nil {
		a.Log.Format = f
	}
}

// expandPath expands $VAR and ${VAR} from getenv (USER falls back to the account running
// the process) and then a leading "~/".
func expandPath(p string, getenv func(string) string) string {
	if p == "" {
		return p
	}
	p = os.Expand(p, func(name string) string {
		v := getenv(name)
		if v == "" && name == "USER" {
			if u, err := user.Current(); err == nil {
				v = u.Username
			}
		}
		return v
	})
	return expandHome(p, getenv)
}

var (
	dns1123LabelRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	hostNameRE     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`)
)

// maxFieldManagerLength is the longest field manager name the Kubernetes API accepts.
const maxFieldManagerLength = 128

// Validate checks every key and reports all problems at once, joined with errors.Join;
// each is a *FieldError naming its key, e.g. "agent.pak: must be set".
func (a Agent) Validate() error {
	var p problems
	s := a.Agent

	checkHTTPURL(&p, "agent.broker_url", s.BrokerURL)
	if s.PAK == "" {
		p.add("agent.pak", "must be set to the agent's PAK (there is no built-in key)")
	} else if strings.ContainsAny(s.PAK, " \t\r\n") {
		p.add("agent.pak", "must not contain whitespace")
	}
	if s.AgentName == "" {
		p.add("agent.agent_name", "must not be empty")
	}
	if s.ClusterName == "" {
		p.add("agent.cluster_name", "must not be empty")
	}
	p.positive("agent.polling_interval", s.PollingInterval)
	p.positive("agent.max_retries", s.MaxRetries)
	p.atLeast("agent.max_event_message_retries", int64(s.MaxEventMessageRetries), 0)
	p.atLeast("agent.event_message_retry_delay", int64(s.EventMessageRetryDelay), 0)
	p.between("agent.health_port", s.HealthPort, 0, 65535)
	if !validListenHost(s.HealthAddr) {
		p.add("agent.health_addr", "must be a host name or IP address without a port (got %q)", s.HealthAddr)
	}
	p.positive("agent.deployment_health_interval", s.DeploymentHealthInterval)
	p.positive("agent.diagnostics_interval", s.DiagnosticsInterval)
	p.positive("agent.webhook_interval", s.WebhookInterval)
	if s.WSURL != "" {
		u, err := url.Parse(s.WSURL)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			p.add("agent.ws_url", "must be empty or a ws:// or wss:// URL with a host")
		}
	}
	p.positive("agent.kube_event_uid_cache_cap", s.KubeEventUIDCacheCap)
	if s.WatchNamespace != "" && (len(s.WatchNamespace) > 63 || !dns1123LabelRE.MatchString(s.WatchNamespace)) {
		p.add("agent.watch_namespace", "must be empty or a namespace name (lower-case letters, digits and '-', at most 63 characters; got %q)", s.WatchNamespace)
	}
	var bad []string
	for _, id := range s.GeneratorIDs {
		if _, err := uuid.Parse(id); err != nil {
			bad = append(bad, strconv.Quote(id))
		}
	}
	if len(bad) > 0 {
		p.add("agent.generator_ids", "not UUIDs: %s", strings.Join(bad, ", "))
	}
	p.between("agent.apply_concurrency", s.ApplyConcurrency, 1, 64)
	p.between("agent.kube_qps", s.KubeQPS, 1, 10000)
	p.between("agent.kube_burst", s.KubeBurst, 1, 20000)
	p.positive("agent.resync_interval", s.ResyncInterval)
	p.atLeast("agent.drift_interval", int64(s.DriftInterval), 0)
	p.positive("agent.shutdown_timeout", s.ShutdownTimeout)
	switch {
	case s.FieldManager == "":
		p.add("agent.field_manager", "must not be empty")
	case len(s.FieldManager) > maxFieldManagerLength:
		p.add("agent.field_manager", "must be at most %d characters long", maxFieldManagerLength)
	}

	if _, err := logging.CanonicalLevel(a.Log.Level); err != nil {
		p.add("log.level", "must be one of debug, info, warn, error (got %q)", a.Log.Level)
	}
	if _, err := logging.ParseFormat(a.Log.Format); err != nil {
		p.add("log.format", "must be text or json (got %q)", a.Log.Format)
	}

	t := a.Telemetry
	if t.OTLPEndpoint != "" {
		checkHTTPURL(&p, "telemetry.otlp_endpoint", t.OTLPEndpoint)
	}
	checkSamplingRate(&p, "telemetry.sampling_rate", t.SamplingRate)
	if t.Agent.OTLPEndpoint != "" {
		checkHTTPURL(&p, "telemetry.agent.otlp_endpoint", t.Agent.OTLPEndpoint)
	}
	if t.Agent.SamplingRate != nil {
		checkSamplingRate(&p, "telemetry.agent.sampling_rate", *t.Agent.SamplingRate)
	}
	if eff := t.ForAgent(); eff.Enabled && eff.OTLPEndpoint == "" {
		p.add("telemetry.otlp_endpoint", "must be set when telemetry is enabled for the agent")
	}

	return errors.Join(p...)
}

// validListenHost reports whether h can be the host part of a listen address: empty (all
// interfaces), an IP address or a host name.
func validListenHost(h string) bool {
	return h == "" || net.ParseIP(h) != nil || hostNameRE.MatchString(h)
}

// HealthListenAddr is the host:port the health server listens on.
func (s AgentSettings) HealthListenAddr() string {
	return net.JoinHostPort(s.HealthAddr, strconv.Itoa(s.HealthPort))
}

// WebSocketURL is the agent channel's URL: WSURL when set, else BrokerURL with http→ws or
// https→wss and /internal/ws/agent appended.
func (s AgentSettings) WebSocketURL() (string, error) {
	if s.WSURL != "" {
		return s.WSURL, nil
	}
	u, err := url.Parse(s.BrokerURL)
	if err != nil {
		return "", fmt.Errorf("config: agent.broker_url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("config: agent.broker_url: scheme %q is not http or https", u.Scheme)
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/internal/ws/agent"
	u.RawPath = ""
	return u.String(), nil
}

// GeneratorUUIDs returns GeneratorIDs parsed; a malformed id is an error.
func (s AgentSettings) GeneratorUUIDs() ([]uuid.UUID, error) {
	out := make([]uuid.UUID, 0, len(s.GeneratorIDs))
	for _, id := range s.GeneratorIDs {
		u, err := uuid.Parse(id)
		if err != nil {
			return nil, fmt.Errorf("config: agent.generator_ids: %q: %w", id, err)
		}
		out = append(out, u)
	}
	return out, nil
}

// Redacted returns a copy with secrets masked: agent.pak becomes "********", and URLs
// (broker URL, WebSocket URL, OTLP endpoints) keep everything but their password.
func (a Agent) Redacted() Agent {
	redact(&a)
	return a
}

// YAML renders the configuration as YAML with the same keys a configuration file uses, in
// declaration order. Unset telemetry overrides are left out. Secrets are rendered as they
// are; call Redacted first when the output is meant for display.
func (a Agent) YAML() ([]byte, error) {
	return renderYAML(&a)
}

// Environ returns BROKKR__SECTION__KEY=value pairs that reproduce this configuration when
// loaded with no file. The pairs include the PAK.
func (a Agent) Environ() []string {
	return environOf(&a)
}
